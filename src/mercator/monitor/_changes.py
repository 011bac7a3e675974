"""The optimization log: every change to a live campaign, by a person or an automated rule.

A change records who, when, why and the evidence (an alert id, a finding, a decision id), and
is linked to the campaign's locked objective. An automated change whose size is above its
limit (``LIMITS``, or the one given) is not applied: it waits, ``pending``, until a person
approves or rejects it. The log is append-only: an approval is a row of its own, and every
entry also goes to the audit trail.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import ClassVar

import pandas as pd

from mercator.errors import BadParameter, ConflictError, NotFoundError
from mercator.govern import record
from mercator.monitor._objectives import locked_objectives
from mercator.results import Finding, Result

KINDS = ("budget", "bid", "creative", "audience", "other")
#: The largest relative change an automated rule makes without a person's approval, per kind.
LIMITS = {"budget": 0.2, "bid": 0.3}
_COLUMNS = ("change_id", "status", "ts", "campaign", "objective_id", "kind", "target", "before", "after", "size",
            "actor", "automated", "reason", "evidence")


@dataclass(frozen=True)
class OptimizationLog(Result):
    """Changes to live campaigns: who, when, why, the evidence and their approval."""

    kind = "optimizations"
    title = "Optimization log"
    headline = ("changes",)
    display: ClassVar[dict[str, tuple[str, ...]]] = {
        "changes": ("change_id", "status", "ts", "campaign", "kind", "target", "before", "after", "actor", "reason")}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _size(before, after) -> float | None:
    try:
        b, a = float(before), float(after)
    except (TypeError, ValueError):
        return None
    return abs(a / b - 1) if b else None


def _objective_for(ws, campaign: str, day: dt.date) -> str | None:
    rows = locked_objectives(ws, campaign)
    live = rows[(rows.start <= day) & (rows.end >= day)]
    return None if live.empty else str(live.objective_id.iloc[0])


def log_change(ws, campaign: str, kind: str, *, actor: str, reason: str, before=None, after=None,
               target: str | None = None, evidence: str | None = None, objective_id: str | None = None,
               automated: bool = False, limit: float | None = None, at: dt.datetime | None = None) -> OptimizationLog:
    """Record a change to ``campaign``. A person's change is applied; an automated one too
    unless its size is above ``limit`` (default: ``LIMITS`` for its kind), when it waits for
    approval."""
    if kind not in KINDS:
        raise BadParameter(f"change: kind must be one of {', '.join(KINDS)}; got {kind!r}")
    if not actor or not reason:
        raise BadParameter("change: say who made it (actor) and why (reason)")
    ts = pd.Timestamp(at or _now()).floor("us").to_pydatetime()
    size = _size(before, after)
    limit = LIMITS.get(kind) if limit is None else limit
    held = automated and limit is not None and (size is None or size > limit)
    status = "pending" if held else "applied"
    objective_id = objective_id or _objective_for(ws, campaign, ts.date())
    cid = hashlib.sha1(f"{campaign}|{kind}|{target}|{before}|{after}|{actor}|{ts.isoformat()}".encode()) \
        .hexdigest()[:12]
    row = pd.DataFrame([{"change_id": cid, "status": status, "ts": ts, "campaign": campaign,
                         "objective_id": objective_id, "kind": kind, "target": target,
                         "before": None if before is None else str(before),
                         "after": None if after is None else str(after), "size": size, "actor": actor,
                         "automated": bool(automated), "reason": reason, "evidence": evidence}])[list(_COLUMNS)] \
        .astype({"ts": "datetime64[us]", "size": "float64"})
    with ws.transaction():
        ws.replace("optimizations", row, on=["change_id", "status"])
        record(ws, f"change.{status}", cid, actor=actor, at=ts,
               detail={"campaign": campaign, "kind": kind, "target": target, "before": before, "after": after,
                       "evidence": evidence, "objective_id": objective_id})
    what = f"{kind}{f' of {target}' if target else ''} for {campaign}" + (
        f" from {before} to {after}" if before is not None or after is not None else "")
    text = (f"Change {cid}: {what} by {actor} ({reason}) "
            + (f"waits for approval: {size:.0%} is above the automated limit of {limit:.0%}." if held and size
               is not None else "waits for approval: an automated change of unknown size." if held else "applied.")
            + (f" Objective: {objective_id}." if objective_id else ""))
    return OptimizationLog(tables={"changes": row}, findings=(Finding(text, impact=1.0),),
                           params={"change_id": cid, "status": status, "objective_id": objective_id})


def decide_change(ws, change_id: str, *, by: str, approve: bool = True, reason: str | None = None,
                  at: dt.datetime | None = None) -> OptimizationLog:
    """Approve (or reject) a change waiting for approval: a new row, the pending one stays."""
    if not by:
        raise BadParameter("approval: say who decides (by)")
    t = ws.table("optimizations")
    rows = t.filter(t.change_id == change_id).to_pandas()
    if rows.empty:
        raise NotFoundError(f"no change {change_id!r}; `mercator monitor changes` lists them")
    if set(rows.status) != {"pending"}:
        raise ConflictError(f"change {change_id} is {', '.join(sorted(set(rows.status) - {'pending'}))}: only a "
                            "change waiting for approval can be approved or rejected")
    status = "approved" if approve else "rejected"
    row = rows.iloc[[0]][list(_COLUMNS)].copy()
    ts = pd.Timestamp(at or _now()).floor("us")
    row["status"], row["ts"], row["actor"], row["automated"] = status, ts, by, False
    row["reason"] = reason or f"{status} by {by}"
    row = row.astype({"ts": "datetime64[us]"})
    with ws.transaction():
        ws.replace("optimizations", row, on=["change_id", "status"])
        record(ws, f"change.{status}", change_id, actor=by, at=ts.to_pydatetime(), detail={"reason": reason})
    return OptimizationLog(tables={"changes": row}, findings=(Finding(
        f"Change {change_id} {status} by {by}" + (f": {reason}" if reason else "") + ".", impact=1.0),),
        params={"change_id": change_id, "status": status})


def list_changes(ws, *, campaign: str | None = None, objective_id: str | None = None,
                 status: str | None = None) -> OptimizationLog:
    """The log, newest first (each entry as recorded; an approval follows its pending change)."""
    t = ws.table("optimizations")
    if campaign is not None:
        t = t.filter(t.campaign == campaign)
    if objective_id is not None:
        t = t.filter(t.objective_id == objective_id)
    rows = t.order_by(t.ts.desc()).to_pandas()[list(_COLUMNS)]
    latest = rows.drop_duplicates("change_id")
    if status is not None:
        rows = rows[rows.change_id.isin(latest[latest.status == status].change_id)]
    waiting = latest[latest.status == "pending"]
    automated = int(rows.groupby("change_id").automated.any().sum()) if len(rows) else 0
    text = (f"{latest.change_id.nunique()} change(s): {automated} by automated rules; "
            f"{len(waiting)} waiting for approval." if len(latest) else "No changes logged.")
    return OptimizationLog(tables={"changes": rows.reset_index(drop=True)}, findings=(Finding(text, impact=1.0),),
                           params={"campaign": campaign, "objective_id": objective_id, "status": status})
