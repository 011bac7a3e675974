"""Cohort retention: users by their first active week or month, and who is active k periods later.

Computed in the engine: distinct (user, period) pairs, each user's first period, and counts
per (cohort, periods since). Only the small triangle comes back.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import plotly.graph_objects as go

from mercator.errors import MercatorError
from mercator.results import Finding, Result
from mercator.workspace import Workspace

_SOURCES = {"events": ("user_id", "ts"), "orders": ("customer_id", "ts")}


@dataclass(frozen=True)
class Cohorts(Result):
    kind = "cohorts"
    title = "Cohort retention"
    headline = ()

    def figures(self) -> list:
        m = self.to_frame("retention")
        if m.empty:
            return []
        piv = m.pivot(index="cohort", columns="periods_since", values="retention")
        fig = go.Figure(go.Heatmap(z=piv.to_numpy(), x=[str(c) for c in piv.columns],
                                   y=[str(i)[:10] for i in piv.index], colorscale="Blues", zmin=0, zmax=1,
                                   hovertemplate="cohort %{y}, +%{x}: %{z:.1%}<extra></extra>"))
        fig.update_layout(title=f"Retention by first-{self.params['grain']} cohort", height=460,
                          xaxis_title=f"{self.params['grain']}s since first activity", yaxis_autorange="reversed")
        return [fig]


def cohorts(ws: Workspace, *, grain: str = "week", table: str = "events", periods: int = 12) -> Cohorts:
    """Share of each first-activity cohort active again 0..``periods`` weeks or months later."""
    if grain not in ("week", "month"):
        raise MercatorError(f"grain must be week or month; got {grain!r}")
    if table not in _SOURCES:
        raise MercatorError(f"cohorts are built from {' or '.join(_SOURCES)}; got {table!r}")
    user, ts = _SOURCES[table]
    t = ws.table(table)
    d = t[ts].cast("date")
    act = t.select(user=t[user], p=d.truncate("W" if grain == "week" else "M")).distinct()
    first = act.group_by("user").aggregate(cohort=act.p.min())
    j = act.inner_join(first, "user")
    if grain == "week":
        since = ((j.p.epoch_seconds() - j.cohort.epoch_seconds()) / (7 * 86400)).round().cast("int64")
    else:
        since = (j.p.year() * 12 + j.p.month()) - (j.cohort.year() * 12 + j.cohort.month())
    counts = j.mutate(periods_since=since).filter(lambda r: r.periods_since <= periods) \
        .group_by(["cohort", "periods_since"]).aggregate(users=lambda r: r.count()).to_pandas()
    if counts.empty:
        return Cohorts(params={"grain": grain, "table": table})
    counts["cohort"] = pd.to_datetime(counts["cohort"])
    size = counts[counts.periods_since == 0].set_index("cohort")["users"].rename("cohort_size")
    m = counts.join(size, on="cohort").sort_values(["cohort", "periods_since"], ignore_index=True)
    m["retention"] = m["users"] / m["cohort_size"]
    curve = m.groupby("periods_since").apply(lambda g: g.users.sum() / g.cohort_size.sum(), include_groups=False) \
        .rename("retention").reset_index()
    findings = []
    if len(curve) > 1:
        k1 = curve.retention.iloc[1]
        by_cohort = m[m.periods_since == 1].set_index("cohort")["retention"]
        findings.append(Finding(
            f"{k1:.1%} of users are active again one {grain} after their first (weighted over cohorts); "
            f"best cohort {by_cohort.idxmax():%Y-%m-%d} ({by_cohort.max():.1%}), worst {by_cohort.idxmin():%Y-%m-%d} "
            f"({by_cohort.min():.1%}).", metric="retention", value=float(k1), impact=float(by_cohort.max()
                                                                                         - by_cohort.min())))
    return Cohorts(tables={"retention": m, "curve": curve}, findings=tuple(findings),
                   params={"grain": grain, "table": table, "periods": periods})


__all__ = ["Cohorts", "cohorts"]
