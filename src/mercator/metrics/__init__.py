"""KPI definitions: the only place a KPI is defined.

Ratios are ratios of sums (never averages of ratios) and a zero denominator gives null,
on every engine (``nullif(0)``: Spark's ANSI mode would raise, DuckDB would return inf).
Definitions follow the Google Ads API metrics where it defines them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import ibis.expr.types as ir


@dataclass(frozen=True)
class KPI:
    name: str
    label: str
    definition: str
    expr: Callable[[ir.Table], ir.Scalar]
    fmt: str = "{:,.0f}"


def _ratio(num: str, den: str, scale: float = 1.0) -> Callable[[ir.Table], ir.Scalar]:
    return lambda t: t[num].sum() * scale / t[den].sum().nullif(0)


AD_KPIS: dict[str, KPI] = {k.name: k for k in (
    KPI("impressions", "Impressions", "sum of impressions", lambda t: t.impressions.sum()),
    KPI("clicks", "Clicks", "sum of clicks", lambda t: t.clicks.sum()),
    KPI("cost", "Cost", "sum of cost", lambda t: t.cost.sum(), "{:,.2f}"),
    KPI("conversions", "Conversions", "sum of conversions", lambda t: t.conversions.sum()),
    KPI("conversion_value", "Conversion value", "sum of conversion value", lambda t: t.conversion_value.sum(),
        "{:,.2f}"),
    KPI("ctr", "CTR", "clicks / impressions", _ratio("clicks", "impressions"), "{:.2%}"),
    KPI("cpc", "CPC", "cost / clicks", _ratio("cost", "clicks"), "{:,.2f}"),
    KPI("cpm", "CPM", "cost / impressions x 1000", _ratio("cost", "impressions", 1000.0), "{:,.2f}"),
    KPI("cvr", "CVR", "conversions / clicks", _ratio("conversions", "clicks"), "{:.2%}"),
    KPI("cpa", "CPA", "cost / conversions", _ratio("cost", "conversions"), "{:,.2f}"),
    KPI("roas", "ROAS", "conversion value / cost", _ratio("conversion_value", "cost"), "{:,.2f}"),
)}


def kpi_aggregates(t: ir.Table, names: list[str] | None = None) -> dict[str, ir.Scalar]:
    """The named KPIs (default all) as aggregate expressions over an ad_performance table."""
    return {n: AD_KPIS[n].expr(t) for n in (names or list(AD_KPIS))}


__all__ = ["AD_KPIS", "KPI", "kpi_aggregates"]
