"""Column mappings: how a source's columns become a canonical table's columns.

A YAML mapping and a built-in platform mapper produce the same :class:`TableMapping`, so
everything after mapping (coercion, validation, quarantine, merge) is one code path.

YAML form (every key but ``table`` and ``columns`` optional)::

    table: ad_performance
    columns:                       # canonical column: source column, or a spec
      date: {from: Day, format: "%d/%m/%Y"}
      campaign: Campaign
      cost: "Cost (EUR)"
      platform: {value: google_ads}   # a constant
    decimal: ","                    # decimal separator of numbers in the source
    timezone: Europe/Paris          # source times are local to this zone; stored as UTC
    currency:                       # convert money columns to one currency
      column: Currency              # source column with the ISO code (or value: EUR)
      to: USD
      rates: {EUR: 1.08, GBP: 1.27, USD: 1.0}
    checks: [conversions_le_clicks] # optional row checks to switch on
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis.expr.types as ir
import yaml

from mercator.errors import MappingError
from mercator.ingest._pii import pii_kind_of_header
from mercator.schema import TableSpec, iso4217, table_spec


@dataclass(frozen=True)
class ColumnSource:
    """Where one canonical column comes from: a source column, a constant, or an expression."""

    source: str | None = None
    value: Any = None
    format: str | None = None
    expr: Callable[[ir.Table], ir.Value] | None = None

    def describe(self) -> str:
        if self.expr is not None:
            return "expression"
        if self.source is not None:
            return self.source + (f" ({self.format})" if self.format else "")
        return f"= {self.value!r}"


@dataclass(frozen=True)
class Currency:
    to: str
    rates: Mapping[str, float]
    column: str | None = None
    value: str | None = None


@dataclass(frozen=True)
class TableMapping:
    """How to build one canonical table from a source.

    ``prepare`` reshapes the raw table first (e.g. aggregates order lines into orders); it
    must keep ``_row`` (the smallest row of a group is a good choice).
    """

    table: str
    columns: Mapping[str, ColumnSource]
    name: str = "mapping"
    prepare: Callable[[ir.Table], ir.Table] | None = None
    decimal: str = "."
    timezone: str | None = None
    currency: Currency | None = None
    checks: tuple[str, ...] = ()
    spec: TableSpec = field(init=False, repr=False)

    def __post_init__(self) -> None:
        spec = table_spec(self.table)
        object.__setattr__(self, "spec", spec)
        for col in self.columns:
            if not spec.has_column(col):
                raise MappingError(
                    f"mapping {self.name!r}: {self.table} has no column {col!r}; "
                    f"its columns are: {', '.join(spec.column_names)}"
                )
        known = {c.name for c in spec.checks if c.optional}
        unknown = set(self.checks) - known
        if unknown:
            raise MappingError(f"mapping {self.name!r}: unknown optional checks {sorted(unknown)}; "
                               f"{self.table} has: {sorted(known) or 'none'}")

    def source_columns(self) -> set[str]:
        cols = {c.source for c in self.columns.values() if c.source is not None}
        if self.currency and self.currency.column:
            cols.add(self.currency.column)
        return cols

    def fingerprint(self) -> str:
        """A stable id of the mapping (name and column sources) for the load log."""
        desc = {k: v.describe() for k, v in sorted(self.columns.items())}
        desc.update(tz=self.timezone, decimal=self.decimal, checks=list(self.checks),
                    currency=None if self.currency is None else [self.currency.to, dict(self.currency.rates)])
        digest = hashlib.sha256(json.dumps(desc, sort_keys=True, default=str).encode()).hexdigest()[:12]
        return f"{self.name}#{digest}"


def _normalize(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", name.strip().lower()).strip("_")


def identity_mapping(table: str, source_columns: list[str]) -> TableMapping:
    """Map source columns whose names match canonical columns (case and punctuation ignored);
    a personal-data column goes by what its header says it holds (``Email Address`` is
    ``email``, ``Phone Number`` is ``phone``), so it is pseudonymized, never dropped unseen."""
    spec = table_spec(table)
    by_norm = {_normalize(c): c for c in source_columns}
    for c in source_columns:
        kind = pii_kind_of_header(c)
        if kind and spec.has_column(kind) and spec.column(kind).pii == kind:
            by_norm.setdefault(kind, c)
    cols = {c.name: ColumnSource(source=by_norm[c.name]) for c in spec.columns if c.name in by_norm}
    return TableMapping(table=table, columns=cols, name="by-name")


def _column_source(target: str, raw: Any, where: str) -> ColumnSource:
    if isinstance(raw, str):
        return ColumnSource(source=raw)
    if isinstance(raw, Mapping):
        extra = set(raw) - {"from", "value", "format"}
        if extra or ("from" in raw) == ("value" in raw):
            raise MappingError(f"{where}: column {target!r} needs exactly one of 'from' or 'value' "
                               f"(and optionally 'format'); got keys {sorted(raw)}")
        return ColumnSource(source=raw.get("from"), value=raw.get("value"), format=raw.get("format"))
    raise MappingError(f"{where}: column {target!r} must map to a source column name or "
                       f"{{from: ..., format: ...}} / {{value: ...}}; got {raw!r}")


def load_mapping(path: str | Path) -> TableMapping:
    """Read a YAML mapping file."""
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise MappingError(f"{path}: cannot read the mapping ({exc})") from exc
    if not isinstance(doc, Mapping) or "table" not in doc or "columns" not in doc:
        raise MappingError(f"{path}: a mapping needs 'table' and 'columns' (see docs/ingest.md)")
    unknown = set(doc) - {"table", "columns", "decimal", "timezone", "currency", "checks"}
    if unknown:
        raise MappingError(f"{path}: unknown keys {sorted(unknown)}")
    cols = {str(k): _column_source(str(k), v, str(path)) for k, v in (doc["columns"] or {}).items()}
    cur = doc.get("currency")
    currency = None
    if cur:
        if "to" not in cur or "rates" not in cur or ("column" in cur) == ("value" in cur):
            raise MappingError(f"{path}: currency needs 'to', 'rates' and one of 'column' or 'value'")
        rates = {str(k).upper(): float(v) for k, v in cur["rates"].items()}
        unknown = sorted({str(cur["to"]).upper(), *rates, *([str(cur["value"]).upper()] if cur.get("value") else [])}
                         - iso4217())
        if unknown:
            raise MappingError(f"{path}: currency codes {unknown} are not ISO 4217 codes (e.g. USD, EUR, GBP)")
        currency = Currency(to=str(cur["to"]).upper(), rates=rates, column=cur.get("column"),
                            value=str(cur["value"]).upper() if cur.get("value") else None)
    return TableMapping(table=doc["table"], columns=cols, name=path.name, decimal=doc.get("decimal", "."),
                        timezone=doc.get("timezone"), currency=currency, checks=tuple(doc.get("checks") or ()))
