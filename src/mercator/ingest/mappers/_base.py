"""What a built-in mapper is, and expression helpers the mappers share."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import ibis
import ibis.expr.types as ir

from mercator.errors import MappingError, SourceError
from mercator.ingest._mapping import TableMapping
from mercator.ingest._readers import ROW, RawSource


@dataclass(frozen=True)
class Mapper:
    """A built-in mapper: recognizes an export by its columns and maps it to canonical tables.

    ``options`` documents the options ``build`` accepts (name -> meaning and default).
    """

    name: str
    description: str
    signature: frozenset[str]
    build: Callable[..., list[TableMapping]]
    read_options: Mapping[str, object] = field(default_factory=dict)
    options: Mapping[str, str] = field(default_factory=dict)
    #: other exact column sets the export comes with (a headerless layout read as column_1..N)
    layouts: tuple[frozenset[str], ...] = ()

    def mappings(self, raw: RawSource, **options: object) -> list[TableMapping]:
        unknown = set(options) - set(self.options)
        if unknown:
            raise MappingError(f"mapper {self.name!r} has no option {sorted(unknown)}; "
                               f"its options: {dict(self.options) or 'none'}")
        if not self.matches(raw.columns):
            expected = " or ".join(", ".join(sorted(s)) for s in (self.signature, *self.layouts))
            missing = sorted(self.signature - set(raw.columns))
            raise SourceError(raw.path, f"does not have the layout the {self.name} mapper reads: no column "
                                        f"{', '.join(missing[:6])}{' ...' if len(missing) > 6 else ''}",
                              expected=f"columns {expected}; found {', '.join(raw.columns[:12]) or 'none'}",
                              hint="check that this is the right file, or choose another mapper (`mercator "
                                   "mappers`), --table T to match columns by name, or --mapping FILE.")
        return self.build(raw, **options)

    def matches(self, columns: list[str]) -> bool:
        return self.signature <= set(columns) or any(s == set(columns) for s in self.layouts)


def concat(parts: list[ir.StringValue | str]) -> ir.StringValue:
    return functools.reduce(lambda a, b: a + b, [ibis.literal(p) if isinstance(p, str) else p for p in parts])


def json_object(fields: Mapping[str, ir.Value]) -> ir.StringValue:
    """A JSON object of string values, built in the engine (portable across DuckDB and Spark)."""
    parts: list[ir.StringValue | str] = ["{"]
    for i, (name, value) in enumerate(fields.items()):
        s = value.cast("string")
        esc = s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
        parts += ["," if i else "", s.isnull().ifelse(f'"{name}":null', concat([f'"{name}":"', esc, '"']))]
    parts.append("}")
    return concat(parts)


def with_content_id(t: ir.Table, columns: list[str], prefix: str, name: str = "_cid") -> ir.Table:
    """Add a deterministic id from the row's content, numbered among identical rows.

    Sources without an event id get one that stays the same when the file is loaded again
    (even with rows added elsewhere), so re-loads update instead of duplicating.
    """
    digest = concat([t[c].cast("string").fill_null("\u2400") + "\u241f" for c in columns]).hexdigest("sha256")
    t = t.mutate(__h=digest.substr(0, 20))
    occ = ibis.row_number().over(group_by=t.__h, order_by=t[ROW])
    return t.mutate(**{name: concat([prefix, t.__h, "-", (occ + 1).cast("string")])}).drop("__h")
