"""The one filter every path that selects people goes through: consent for a purpose and
suppression lists, applied in the engine (a semi-join with the customers who consented, an
anti-join with the suppressed segments' members), on DuckDB and Spark alike.

Who consented to a purpose, as of a time: the newest ``consents`` record per person for the
purpose decides (a grant, or a refusal or withdrawal); a person with no record there falls back
to the customers table's consent column for the purpose, where it has one; missing counts as
no. A Global Privacy Control signal that is on (the newest ``gpc`` record) is an opt-out of
sale and sharing and of ad targeting, whatever was granted."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa

from mercator.errors import BadParameter, MercatorError

#: Purposes and the customers column that records consent to each (None: only ``consents``).
PURPOSES = {"measurement": "consent_analytics", "personalization": "consent_personalization",
            "marketing_email": "consent_marketing_email", "ad_targeting": "consent_ads", "profiling": None,
            "sale_sharing": None}
#: Older names of purposes, kept so existing rules and commands read the same.
ALIASES = {"analytics": "measurement", "ads": "ad_targeting"}
#: The purposes a Global Privacy Control signal opts out of.
GPC_OPTS_OUT = ("sale_sharing", "ad_targeting")


def purpose_of(purpose: str) -> str:
    """The canonical purpose of ``purpose`` (a purpose, an older alias or a customers column)."""
    if purpose in PURPOSES:
        return purpose
    if purpose in ALIASES:
        return ALIASES[purpose]
    for p, col in PURPOSES.items():
        if col is not None and purpose == col:
            return p
    raise BadParameter(f"unknown consent purpose {purpose!r}; purposes: {', '.join(PURPOSES)} (or their customers "
                       f"columns: {', '.join(c for c in PURPOSES.values() if c)})")


def consent_column(purpose: str) -> str | None:
    """The customers column of ``purpose`` (None for a purpose recorded only in ``consents``)."""
    return PURPOSES[purpose_of(purpose)]


def consented(ws, purpose: str, *, as_of=None) -> ir.Table:
    """The ids (column ``_cid``) of everyone who consented to ``purpose`` as of ``as_of``
    (default: every record), as an engine expression (see the module's docstring)."""
    import ibis

    p = purpose_of(purpose)
    if not ws.engine.exists("consents"):  # a workspace made before consent records, opened read-only
        col = PURPOSES[p]
        c = ws.table("customers")
        if col is None or col not in c.columns:
            return c.filter(ibis.literal(False)).select(_cid=c.customer_id.cast("string"))
        return c.filter(c[col].fill_null(False)).select(_cid=c.customer_id.cast("string")).distinct()
    r = ws.table("consents")
    if as_of is not None:
        r = r.filter(r.ts <= ibis.literal(as_of).cast("timestamp"))

    def newest(purposes):
        t = r.filter(r.purpose.isin(list(purposes)))
        t = t.mutate(_n=ibis.row_number().over(group_by=[t.customer_id, t.purpose], order_by=ibis.desc(t.ts)))
        return t.filter(t._n == 0)

    latest = newest([p])
    granted = latest.filter(latest.granted).select(_cid=latest.customer_id.cast("string"))
    col = PURPOSES[p]
    if col is not None:
        c = ws.table("customers")
        recorded = latest.select(_rid=latest.customer_id.cast("string"))
        fallback = c.filter(c[col].fill_null(False)).select(_cid=c.customer_id.cast("string"))
        granted = granted.union(fallback.anti_join(recorded, fallback._cid == recorded._rid))
    if p in GPC_OPTS_OUT:
        gpc = newest(["gpc"])
        on = gpc.filter(gpc.granted).select(_gid=gpc.customer_id.cast("string"))
        granted = granted.anti_join(on, granted._cid == on._gid)
    return granted.distinct()


@dataclass(frozen=True)
class Eligibility:
    """Who may be selected: the people left, and how many each rule removed (in order)."""

    people: ir.Table
    removed: dict[str, int] = field(default_factory=dict)


def _rule_sets(ws, purpose: str | None, suppress_segments: Sequence[str], as_of=None) -> dict:
    """The engine expressions the rules check against: the suppressed segments' members
    (``_sid``) and the people who consented (``_cid``)."""
    sets = {}
    if suppress_segments:
        m = ws.table("segment_members")
        sets["members"] = m.filter(m.segment.isin(list(suppress_segments))) \
            .select(_sid=m.customer_id.cast("string")).distinct()
    if purpose:
        sets["consented"] = consented(ws, purpose, as_of=as_of)
    return sets


def eligible(ws, people: ir.Table, *, id_col: str = "customer_id", purpose: str | None = None,
             suppress_segments: Sequence[str] = (), as_of=None, _sets: dict | None = None) -> Eligibility:
    """``people`` (any table with a customer id column ``id_col``, in the workspace's engine)
    without the members of ``suppress_segments`` (saved segment names) and, with ``purpose``,
    without everyone who has not consented to it as of ``as_of`` (:func:`consented`; missing
    consent counts as no). Runs as joins in the engine; only the counts come back. (``_sets``:
    the rules' sets computed once by :func:`targeting`, for a list filtered in batches.)"""
    if id_col not in people.columns:
        raise MercatorError(f"no id column {id_col!r} to check consent and suppression against")
    sets = _sets if _sets is not None else _rule_sets(ws, purpose, suppress_segments, as_of)
    removed: dict[str, int] = {}
    ids = people[id_col].cast("string")
    before = _count(people)
    if suppress_segments:
        members = sets["members"]
        people = people.anti_join(members, ids == members._sid)
        after = _count(people)
        removed[f"segments: {', '.join(suppress_segments)}"] = before - after
        before, ids = after, people[id_col].cast("string")
    if purpose:
        ok = sets["consented"]
        people = people.semi_join(ok, ids == ok._cid)
        removed[f"no consent to {purpose_of(purpose)}"] = before - _count(people)
    return Eligibility(people, removed)


def eligible_frame(ws, frame: pd.DataFrame, *, id_col: str, purpose: str | None = None,
                   suppress_segments: Sequence[str] = (), as_of=None,
                   _sets: dict | None = None) -> tuple[pd.DataFrame, dict[str, int]]:
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
        result = eligible(ws, staged, id_col=id_col, purpose=purpose, suppress_segments=suppress_segments,
                          as_of=as_of, _sets=_sets)
        keep = result.people.select("_pos").to_pyarrow().column("_pos").to_numpy()
    finally:
        ws.engine.release(staged)
    return frame.iloc[sorted(keep)], result.removed


@contextlib.contextmanager
def targeting(ws, *, purpose: str | None = None, suppress_segments: Sequence[str] = (), as_of=None):
    """:func:`eligible_frame` for a list filtered batch by batch: the rules' sets (who consented,
    who is suppressed) are computed once in the engine and kept for the batches. Yields
    ``keep(frame, id_col) -> (frame, removed)``."""
    if not (purpose or suppress_segments):
        yield lambda frame, id_col: (frame, {})
        return
    if ws is None:
        raise MercatorError("consent and suppression need a workspace (its customers and segments)")
    sets = {k: ws.engine.materialize(v) for k, v in _rule_sets(ws, purpose, suppress_segments, as_of).items()}
    try:
        yield lambda frame, id_col: eligible_frame(ws, frame, id_col=id_col, purpose=purpose,
                                                   suppress_segments=suppress_segments, _sets=sets)
    finally:
        for t in sets.values():
            ws.engine.release(t)


def consenting(ws, purpose: str) -> frozenset[str]:
    """The ids of everyone who consented to ``purpose`` (:func:`consented`): for the in-memory
    lookups of a server or a batch of decisions."""
    return frozenset(consented(ws, purpose).to_pyarrow().column("_cid").to_pylist())


def _count(t: ir.Table) -> int:
    return int(t.count().to_pyarrow().as_py())

