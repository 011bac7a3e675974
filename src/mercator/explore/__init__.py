"""Explore: what happened. The KPI overview is here; breakdowns, trends and anomalies follow."""

from __future__ import annotations

from dataclasses import dataclass

import plotly.graph_objects as go

from mercator.metrics import AD_KPIS, kpi_aggregates
from mercator.results import Finding, Result
from mercator.workspace import Workspace

__all__ = ["KpiOverview", "kpi_overview"]


@dataclass(frozen=True)
class KpiOverview(Result):
    kind = "kpi_overview"
    title = "KPI overview"

    def figures(self) -> list:
        daily = self.to_frame("daily")
        if daily.empty:
            return []
        fig = go.Figure()
        fig.add_bar(x=daily["date"], y=daily["cost"], name="cost", marker_color="#9ab")
        fig.add_scatter(x=daily["date"], y=daily["conversions"], name="conversions", yaxis="y2")
        fig.update_layout(title="Daily cost and conversions", yaxis_title="cost",
                          yaxis2={"overlaying": "y", "side": "right", "title": "conversions"}, height=380)
        return [fig]


def kpi_overview(ws: Workspace, *, by: str = "channel") -> KpiOverview:
    """Totals and KPIs of ad_performance overall, by ``by``, and per day (computed in the engine)."""
    t = ws.table("ad_performance")
    totals = t.aggregate(**kpi_aggregates(t)).to_pandas()
    by_dim = t.group_by(by).aggregate(**kpi_aggregates(t)).order_by("cost").to_pandas().iloc[::-1]
    daily = t.group_by("date").aggregate(**kpi_aggregates(t, ["cost", "clicks", "conversions"])) \
        .order_by("date").to_pandas()
    findings = []
    if len(totals) and totals["impressions"].iloc[0] and totals["impressions"].iloc[0] > 0:
        row = totals.iloc[0]
        parts = [f"{AD_KPIS[k].label} {AD_KPIS[k].fmt.format(row[k])}" for k in
                 ("cost", "conversions", "ctr", "cpc", "cvr", "cpa", "roas") if row[k] == row[k] and row[k] is not None]
        findings.append(Finding("Overall: " + ", ".join(parts) + ".", metric="cost", value=float(row["cost"])))
        top = by_dim.iloc[0]
        findings.append(Finding(f"{by} {top[by]} has the largest spend: {top['cost']:,.2f} "
                                f"({top['cost'] / row['cost']:.0%} of the total).", metric="cost", segment=str(top[by]),
                                value=float(top["cost"])))
    return KpiOverview(tables={"totals": totals, f"by_{by}": by_dim, "daily": daily}, findings=tuple(findings),
                       params={"by": by})
