"""Building blocks of the canonical data model: columns, row checks and tables.

A table is declared once (see ``_tables.py``); validation at ingest, the engine DDL and the
data-model documentation are all derived from that declaration.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import ibis
import ibis.expr.types as ir

from mercator._keys import Key
from mercator.errors import SchemaError

#: Label of a null dimension (one the source does not report) in breakdowns and reports.
#: It follows Google Analytics' convention, so analysts recognise it.
NOT_SET = "(not set)"

#: Earliest date accepted in any date or timestamp column unless a column says otherwise.
EARLIEST_DATE = _dt.date(1990, 1, 1)

#: Reasons a row can be quarantined, with the sentence shown to users.
REASONS: dict[str, str] = {
    "missing_key": "a key column is empty",
    "missing_value": "a required column is empty",
    "wrong_type": "the value cannot be read as the column's type",
    "unparseable_date": "the value cannot be read as a date or time",
    "negative_value": "the value is negative where only zero or more is allowed",
    "out_of_range": "the value is outside the allowed range",
    "date_out_of_range": "the date is outside the plausible range",
    "not_allowed": "the value is not one of the allowed values",
    "unknown_currency": "the currency is not an ISO 4217 code, or the mapping has no rate for it",
    "clicks_gt_impressions": "clicks exceed impressions",
    "conversions_gt_clicks": "conversions exceed clicks",
    "duplicate_key": "another row of the same load has the same key",
    "malformed_row": "the row has the wrong number of fields",
    "bad_encoding": "the row has bytes that are not UTF-8 in a UTF-8 file",
}

def iso4217() -> frozenset[str]:
    """The active ISO 4217 currency codes (from pycountry's copy of the standard)."""
    import pycountry

    return frozenset(c.alpha_3 for c in pycountry.currencies)


#: Standard code lists a column can be checked against: name -> (reason, codes).
CODE_LISTS: dict[str, tuple[str, Callable[[], frozenset[str]]]] = {"iso4217": ("unknown_currency", iso4217)}

_TYPES = {"string", "int64", "float64", "boolean", "date", "timestamp"}


@dataclass(frozen=True)
class Column:
    """One column of a canonical table.

    ``dtype`` is an Ibis type name (``string``, ``int64``, ``float64``, ``boolean``,
    ``date`` or ``timestamp``; timestamps are naive and hold UTC). ``pii`` names the kind
    of personal data (``email``, ``phone``, ``name``) for columns that are pseudonymized at
    ingest. ``default`` fills the column when the source leaves it empty or lacks it.
    """

    name: str
    dtype: str
    description: str
    unit: str | None = None
    nullable: bool = True
    pii: str | None = None
    min: float | None = None
    max: float | None = None
    allowed: tuple[str, ...] | None = None
    default: str | None = None
    #: a standard list the values must come from (``"iso4217"``); values are upper-cased first
    codes: str | None = None

    def __post_init__(self) -> None:
        if self.codes is not None and self.codes not in CODE_LISTS:
            raise SchemaError(f"column {self.name!r}: unknown code list {self.codes!r}; known: {sorted(CODE_LISTS)}")
        if self.dtype not in _TYPES:
            raise SchemaError(f"column {self.name!r}: dtype {self.dtype!r} is not one of {sorted(_TYPES)}")

    @property
    def is_temporal(self) -> bool:
        return self.dtype in ("date", "timestamp")

    @property
    def is_numeric(self) -> bool:
        return self.dtype in ("int64", "float64")

    def constraint_text(self) -> str:
        """The column's constraints in words, for the generated docs."""
        parts = []
        if not self.nullable:
            parts.append("required")
        if self.min is not None:
            parts.append(f">= {self.min:g}")
        if self.max is not None:
            parts.append(f"<= {self.max:g}")
        if self.allowed:
            parts.append("one of " + ", ".join(self.allowed))
        if self.is_temporal:
            parts.append(f"from {EARLIEST_DATE.isoformat()} to a year after today")
        if self.codes == "iso4217":
            parts.append("an ISO 4217 code (upper-cased at ingest)")
        if self.default is not None:
            parts.append(f"default `{self.default}`")
        return "; ".join(parts)


@dataclass(frozen=True)
class RowCheck:
    """A constraint across columns of one row.

    ``ok`` returns a boolean expression that is true (or null) for a valid row. An
    ``optional`` check runs only when the mapping or mapper switches it on, because it
    holds for some sources and not others (e.g. conversions <= clicks only where a platform
    counts click-through conversions alone).
    """

    name: str
    column: str
    reason: str
    description: str
    ok: Callable[[ir.Table], ir.BooleanValue]
    optional: bool = False

    def __post_init__(self) -> None:
        if self.reason not in REASONS:
            raise SchemaError(f"check {self.name!r}: unknown reason {self.reason!r}")


@dataclass(frozen=True)
class TableSpec:
    """A canonical table: its columns, natural key and row checks."""

    name: str
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    checks: tuple[RowCheck, ...] = ()
    time_column: str | None = None
    #: key column -> the key column that identifies the same thing where present (see ``Key``)
    key_guards: Mapping[str, str] = field(default_factory=dict)
    _by_name: dict[str, Column] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_name = {c.name: c for c in self.columns}
        if len(by_name) != len(self.columns):
            raise SchemaError(f"table {self.name!r} declares a column twice")
        for k in self.key:
            if k not in by_name:
                raise SchemaError(f"table {self.name!r}: key column {k!r} is not declared")
        if self.key and all(by_name[k].nullable for k in self.key):
            raise SchemaError(f"table {self.name!r}: at least one key column must be required (not nullable)")
        for chk in self.checks:
            if chk.column not in by_name:
                raise SchemaError(f"table {self.name!r}: check {chk.name!r} names unknown column {chk.column!r}")
        if self.time_column is not None and self.time_column not in by_name:
            raise SchemaError(f"table {self.name!r}: time column {self.time_column!r} is not declared")
        object.__setattr__(self, "_by_name", by_name)

    @property
    def natural_key(self) -> Key:
        """The natural key, with its guards: what makes two rows the same row."""
        return Key(self.key, self.key_guards)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        try:
            return self._by_name[name]
        except KeyError:
            raise SchemaError(
                f"table {self.name!r} has no column {name!r}; its columns are: {', '.join(self.column_names)}"
            ) from None

    def has_column(self, name: str) -> bool:
        return name in self._by_name

    @property
    def required(self) -> list[str]:
        """Columns a source must provide (required and without a default)."""
        return [c.name for c in self.columns if not c.nullable and c.default is None]

    @property
    def pii_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.pii]

    def ibis_schema(self) -> ibis.Schema:
        """The engine schema, with the load-id column every canonical table carries."""
        pairs = [(c.name, ibis.dtype(c.dtype)) for c in self.columns]
        pairs.append((LOAD_ID, ibis.dtype("int64")))
        return ibis.schema(pairs)


#: Every canonical table carries the id of the load that last wrote each row (lineage).
LOAD_ID = "_load_id"
