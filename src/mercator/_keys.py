"""Natural keys: the columns that identify a row of a canonical table, with null matching
null, and the join predicates both engines use."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import ibis
import ibis.expr.types as ir

from mercator.errors import WorkspaceError


@dataclass(frozen=True)
class Key:
    """A natural key: the columns that identify a row, null matching null (a dimension the
    source does not report).

    ``guards`` maps a key column to another key column that identifies the same thing more
    reliably: the guarded column counts only where its guard is empty. ``{"campaign":
    "campaign_id"}`` says a campaign's name identifies a row when the file has no campaign
    id, and a renamed campaign with the same id stays the same row.
    """

    columns: tuple[str, ...]
    guards: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", tuple(self.columns))
        for col, guard in self.guards.items():
            if col not in self.columns or guard not in self.columns:
                raise WorkspaceError(f"key guard {col} -> {guard}: both must be key columns of {self.columns}")

    def values(self, t: ir.Table) -> dict[str, ir.Value]:
        """The key's effective values: a guarded column is null where its guard is present."""
        return {k: (t[self.guards[k]].isnull().ifelse(t[k], ibis.null(t[k].type())) if k in self.guards else t[k])
                for k in self.columns}

    def predicates(self, left: ir.Table, right: ir.Table) -> list[ir.BooleanValue]:
        """Join predicates: same effective key on both sides."""
        return [(left[self.guards[k]].notnull() | left[k].identical_to(right[k])) if k in self.guards
                else left[k].identical_to(right[k]) for k in self.columns]

    def sql(self, left: str, right: str) -> str:
        """The same predicates as SQL over two table aliases."""
        def same(k: str) -> str:
            return f'{left}."{k}" IS NOT DISTINCT FROM {right}."{k}"'
        return " AND ".join(f'({left}."{self.guards[k]}" IS NOT NULL OR {same(k)})' if k in self.guards else same(k)
                            for k in self.columns)


def as_key(key: Key | Sequence[str]) -> Key:
    return key if isinstance(key, Key) else Key(tuple(key))


def same_key(left: ir.Table, right: ir.Table, key: Key | Sequence[str]) -> list[ir.BooleanValue]:
    """Join predicates on a natural key where null matches null (a dimension not reported)."""
    return as_key(key).predicates(left, right)
