"""The one filter every path that selects people goes through: consent for a purpose and
suppression lists, applied in the engine (a semi-join with the customers who consented, an
anti-join with the suppressed segments' members), on DuckDB and Spark alike."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa

from mercator.errors import BadParameter, MercatorError

#: Purposes and the customers column that records consent to each.
PURPOSES = {"analytics": "consent_analytics", "personalization": "consent_personalization",
            "marketing_email": "consent_marketing_email", "ads": "consent_ads"}


def consent_column(purpose: str) -> str:
    """The customers column of ``purpose`` (a purpose name, or the column itself)."""
    if purpose in PURPOSES:
        return PURPOSES[purpose]
    if purpose in PURPOSES.values():
        return purpose
    raise BadParameter(f"unknown consent purpose {purpose!r}; purposes: {', '.join(PURPOSES)} (or their columns: "
                       f"{', '.join(PURPOSES.values())})")


@dataclass(frozen=True)
class Eligibility:
    """Who may be selected: the people left, and how many each rule removed (in order)."""

    people: ir.Table
    removed: dict[str, int] = field(default_factory=dict)


def eligible(ws, people: ir.Table, *, id_col: str = "customer_id", purpose: str | None = None,
             suppress_segments: Sequence[str] = ()) -> Eligibility:
    """``people`` (any table with a customer id column ``id_col``, in the workspace's engine)
    without the members of ``suppress_segments`` (saved segment names) and, with ``purpose``,
    without everyone whose consent to it is not recorded as true in customers (missing consent
    counts as no). Runs as joins in the engine; only the counts come back."""
    if id_col not in people.columns:
        raise MercatorError(f"no id column {id_col!r} to check consent and suppression against")
    removed: dict[str, int] = {}
    ids = people[id_col].cast("string")
    before = _count(people)
    if suppress_segments:
        m = ws.table("segment_members")
        members = m.filter(m.segment.isin(list(suppress_segments))).select(_sid=m.customer_id.cast("string")).distinct()
        people = people.anti_join(members, ids == members._sid)
        after = _count(people)
        removed[f"segments: {', '.join(suppress_segments)}"] = before - after
        before, ids = after, people[id_col].cast("string")
    if purpose:
        col = consent_column(purpose)
        c = ws.table("customers")
        ok = c.filter(c[col].fill_null(False)).select(_cid=c.customer_id.cast("string")).distinct()
        people = people.semi_join(ok, ids == ok._cid)
        removed[f"no {col}"] = before - _count(people)
    return Eligibility(people, removed)


def eligible_frame(ws, frame: pd.DataFrame, *, id_col: str, purpose: str | None = None,
                   suppress_segments: Sequence[str] = ()) -> tuple[pd.DataFrame, dict[str, int]]:
    """:func:`eligible` for rows computed outside the engine (scores, uplift): staged into the
    workspace's engine for the joins, with the original order kept."""
    if not (purpose or suppress_segments):
        return frame, {}
    if ws is None:
        raise MercatorError("consent and suppression need a workspace (its customers and segments)")
    if id_col not in frame.columns:
        raise MercatorError(f"no id column {id_col!r} to check consent and suppression against")
    keyed = pd.DataFrame({"_pos": range(len(frame)), id_col: frame[id_col].astype(str).to_numpy()})
    staged = ws.engine.stage(pa.Table.from_pandas(keyed, preserve_index=False))
    try:
        result = eligible(ws, staged, id_col=id_col, purpose=purpose, suppress_segments=suppress_segments)
        keep = result.people.select("_pos").to_pyarrow().column("_pos").to_numpy()
    finally:
        ws.engine.release(staged)
    return frame.iloc[sorted(keep)], result.removed


def consenting(ws, purpose: str) -> frozenset[str]:
    """The ids of everyone who consented to ``purpose`` (through :func:`eligible`): for the
    in-memory lookups of a server or a batch of decisions."""
    c = ws.table("customers")
    people = eligible(ws, c.select(customer_id=c.customer_id.cast("string")), purpose=purpose).people
    return frozenset(people.to_pyarrow().column("customer_id").to_pylist())


def _count(t: ir.Table) -> int:
    return int(t.count().to_pyarrow().as_py())

