"""System health: is the data the analyses read fresh and whole?

Per canonical table that holds rows:

- **freshness**: its newest row and its last load, against the table's own rhythm. It is stale
  when the last load is older than three times the median gap between its recent loads, or than
  ``max_age`` (default 2 days) where it has had fewer than three loads;
- **quarantine growth**: the share of rows rejected in the last day of loads against the share
  before. At risk when it doubled and is above 1%; off track above 10%.

Failed jobs of ``mercator serve`` (given by the caller, which knows where they are kept) are
counted over the last day. Each check has a status, ok / at risk / off track, and the reason.
The aggregation runs in the engine; only a row per table comes back.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from mercator.results import Finding, Result
from mercator.schema import TABLES

#: Tables of Mercator's own records, not sources: their freshness is not a data problem.
OWN = frozenset({"loads", "quarantine", "audit", "alerts", "alert_events", "silences", "monitor_config",
                 "objectives", "signoffs", "optimizations", "playbook", "policies", "creatives", "segments", "segment_members",
                 "decisions", "rewards", "experiments"})


@dataclass(frozen=True)
class SystemHealth(Result):
    """Freshness of every source, the last loads, quarantine growth and failed jobs."""

    kind = "system_health"
    title = "System health"
    headline = ("checks",)
    display: ClassVar[dict[str, tuple[str, ...]]] = {
        "checks": ("check", "subject", "status", "reason"),
        "sources": ("table", "rows", "newest", "last_load", "age_hours", "loads", "status")}


def system_health(ws, *, now: dt.datetime | None = None, max_age: float = 2 * 86400,
                  jobs: list[dict] | None = None) -> SystemHealth:
    """Every check with its status and reason; ``jobs``: the server's job records, if any."""
    now = pd.Timestamp(now or dt.datetime.now(dt.UTC).replace(tzinfo=None))
    loads = ws.table("loads")
    per_load = loads.select("table_name", "load_id", "started_at", "rows_read", "rows_quarantined") \
        .order_by(["table_name", "started_at"]).to_pandas()
    rows, checks = [], []
    for name, spec in TABLES.items():
        if name in OWN or not spec.time_column:
            continue
        t = ws.table(name)
        agg = t.aggregate(n=t.count(), newest=t[spec.time_column].max()).to_pyarrow().to_pylist()[0]
        if not agg["n"]:
            continue
        mine = per_load[per_load.table_name == name]
        last = mine.started_at.max() if len(mine) else pd.NaT
        age = (now - last).total_seconds() if pd.notna(last) else np.nan
        gaps = mine.started_at.tail(11).diff().dt.total_seconds().dropna()
        limit = 3 * float(gaps.median()) if len(gaps) >= 2 else max_age
        limit = max(limit, 3600.0)
        if pd.isna(last):
            status, reason = "at risk", "rows that no recorded load brought (written by an analysis or by hand)"
        elif age > limit:
            status = "off track" if age > 3 * limit else "at risk"
            reason = (f"last load {age / 3600:,.1f} hours ago, more than the {limit / 3600:,.1f} hours its rhythm "
                      "allows")
        else:
            status, reason = "ok", f"last load {age / 3600:,.1f} hours ago (allowed {limit / 3600:,.1f})"
        rows.append({"table": name, "rows": int(agg["n"]), "newest": agg["newest"], "last_load": last,
                     "age_hours": age / 3600 if np.isfinite(age) else None, "loads": len(mine), "status": status})
        checks.append({"check": "freshness", "subject": name, "status": status, "reason": reason})

        if len(mine):
            recent = mine[mine.started_at >= now - pd.Timedelta(days=1)]
            before = mine[mine.started_at < now - pd.Timedelta(days=1)]
            share = recent.rows_quarantined.sum() / max(recent.rows_read.sum(), 1)
            prior = before.rows_quarantined.sum() / max(before.rows_read.sum(), 1)
            if len(recent):
                status = ("off track" if share > 0.10 else "at risk" if share > 0.01 and share > 2 * prior
                          else "ok")
                checks.append({"check": "quarantine", "subject": name, "status": status,
                               "reason": f"{share:.2%} of the rows loaded in the last day were rejected, against "
                                         f"{prior:.2%} before"})
    failed = [j for j in (jobs or []) if j.get("status") == "failed"
              and pd.Timestamp(j.get("finished") or j.get("created") or now).tz_localize(None) >= now
              - pd.Timedelta(days=1)]
    if jobs is not None:
        checks.append({"check": "jobs", "subject": "mercator serve", "status": "at risk" if failed else "ok",
                       "reason": f"{len(failed)} job(s) failed in the last day"
                                 + (": " + "; ".join(f"{j.get('kind')} ({(j.get('problem') or {}).get('detail', '')})"[:120]
                                                     for j in failed[:3]) if failed else "")})
    table = pd.DataFrame(checks, columns=["check", "subject", "status", "reason"])
    bad = table[table.status != "ok"]
    findings = [Finding(f"{len(table) - len(bad)} of {len(table)} health checks ok"
                        + (f"; {len(bad)} need attention." if len(bad) else "."), impact=1.0)]
    for r in bad.itertuples():
        findings.append(Finding(f"{r.check} of {r.subject}: {r.status}: {r.reason}.",
                                impact=0.9 if r.status == "off track" else 0.6))
    return SystemHealth(tables={"checks": table, "sources": pd.DataFrame(
        rows, columns=["table", "rows", "newest", "last_load", "age_hours", "loads", "status"])},
        findings=tuple(findings), params={"now": now.to_pydatetime(), "max_age_s": max_age})
