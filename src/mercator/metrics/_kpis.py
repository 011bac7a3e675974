"""KPI definitions: the only place a KPI is defined (the frames of KPI parts per period and
segment are in ``_frames``).

A KPI is a sum of a column, or a ratio of two sums (never an average of ratios). A zero
denominator gives null on every engine (``nullif(0)``: Spark's ANSI mode would raise,
DuckDB would return inf). Definitions follow the Google Ads API metrics where it defines
them (CTR, average CPC, average CPM, conversion rate, cost per conversion, conversion value
per cost); the others follow Google Analytics (bounce rate, revenue per session, average
order value). docs/explore.md lists them; a test keeps it in step with this module.

Because every ratio keeps its numerator and denominator, analyses can decompose a change in
a ratio into mix and rate effects, and forecasts can model the two parts separately.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import ibis.expr.types as ir
import numpy as np

from mercator.errors import MercatorError


@dataclass(frozen=True)
class KPI:
    """A KPI over one table: ``sum(num) * scale / sum(den)``, or ``sum(num)`` without ``den``."""

    name: str
    label: str
    definition: str
    num: str
    den: str | None = None
    scale: float = 1.0
    fmt: str = "{:,.0f}"
    higher_is_better: bool = True
    table: str = "ad_performance"

    @property
    def is_ratio(self) -> bool:
        return self.den is not None

    def expr(self, t: ir.Table) -> ir.Scalar:
        """The KPI as an aggregate expression over ``t`` (grouped or not)."""
        num = t[self.num].sum()
        if self.den is None:
            return num
        return num * self.scale / t[self.den].sum().nullif(0)

    def from_parts(self, num, den=None):
        """The KPI from already-summed parts, scalars or arrays (NaN for a zero denominator).

        The same rule as ``expr``, for sums that have left the engine.
        """
        if self.den is None:
            return num
        n, d = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
        out = np.full(np.broadcast(n, d).shape, np.nan)
        np.divide(n * self.scale, d, out=out, where=d != 0)
        return float(out) if out.ndim == 0 else out

    def format(self, value: float | None) -> str:
        if value is None or math.isnan(value):
            return "n/a"
        return self.fmt.format(value)


def _k(*args, **kw) -> KPI:
    return KPI(*args, **kw)


KPIS: dict[str, KPI] = {k.name: k for k in (
    _k("impressions", "Impressions", "sum of impressions", "impressions"),
    _k("clicks", "Clicks", "sum of clicks", "clicks"),
    _k("cost", "Cost", "sum of cost", "cost", fmt="{:,.2f}", higher_is_better=False),
    _k("conversions", "Conversions", "sum of conversions", "conversions"),
    _k("conversion_value", "Conversion value", "sum of conversion value", "conversion_value", fmt="{:,.2f}"),
    _k("sessions", "Sessions", "sum of landing-page sessions", "sessions"),
    _k("ctr", "CTR", "clicks / impressions", "clicks", "impressions", fmt="{:.2%}"),
    _k("cpc", "CPC", "cost / clicks", "cost", "clicks", fmt="{:,.2f}", higher_is_better=False),
    _k("cpm", "CPM", "cost / impressions x 1000", "cost", "impressions", 1000.0, fmt="{:,.2f}",
       higher_is_better=False),
    _k("cvr", "CVR", "conversions / clicks", "conversions", "clicks", fmt="{:.2%}"),
    _k("cpa", "CPA", "cost / conversions", "cost", "conversions", fmt="{:,.2f}", higher_is_better=False),
    _k("roas", "ROAS", "conversion value / cost", "conversion_value", "cost", fmt="{:,.2f}"),
    _k("bounce_rate", "Bounce rate", "bounces / sessions", "bounces", "sessions", fmt="{:.2%}",
       higher_is_better=False),
    _k("revenue_per_session", "Revenue per session", "conversion value / sessions", "conversion_value", "sessions",
       fmt="{:,.2f}"),
    _k("load_ms", "Landing-page load time", "mean landing-page load time, weighted by sessions",
       "load_ms_x_sessions", "sessions", fmt="{:,.0f} ms", higher_is_better=False),
    # orders
    _k("revenue", "Revenue", "sum of order revenue", "revenue", fmt="{:,.2f}", table="orders"),
    _k("orders", "Orders", "count of orders", "orders", table="orders"),
    _k("aov", "AOV", "revenue / orders", "revenue", "orders", fmt="{:,.2f}", table="orders"),
    # events, per day (daily distinct counts: see explore.event_frame)
    _k("visits", "Visits", "distinct sessions with an event (users where sessions are not recorded)", "visits",
       table="events"),
    _k("users", "Users", "distinct users with an event", "users", table="events"),
    _k("visit_cvr", "Visit conversion rate", "visits reaching the conversion event / visits", "converting_visits",
       "visits", fmt="{:.2%}", table="events"),
)}

#: ``events.<name>`` is the daily count of events called <name>; its part column is
#: ``EVENT_COUNT_PREFIX + name`` in explore.event_frame.
EVENT_COUNT_PREFIX = "n_event:"

#: KPIs of ad_performance (the explore and diagnose default).
AD_KPIS: dict[str, KPI] = {n: k for n, k in KPIS.items() if k.table == "ad_performance"}
#: The KPIs a summary shows by default.
HEADLINE = ("cost", "impressions", "clicks", "conversions", "conversion_value", "ctr", "cpc", "cvr", "cpa", "roas")


def kpi(name: str) -> KPI:
    if name.startswith("events.") and len(name) > 7:
        event = name[7:]
        return KPI(name, f"{event} events", f"count of {event} events", EVENT_COUNT_PREFIX + event, fmt="{:,.1f}",
                   higher_is_better=True, table="events")
    try:
        return KPIS[name]
    except KeyError:
        raise MercatorError(f"unknown KPI {name!r}; KPIs: {', '.join(KPIS)}") from None


def prepared(t: ir.Table, table: str = "ad_performance") -> ir.Table:
    """The table with the helper columns some KPIs sum (a weighted mean needs its product)."""
    if table == "ad_performance":
        return t.mutate(load_ms_x_sessions=t.landing_page_load_ms * t.sessions)
    if table == "orders":
        return t.mutate(orders=1, revenue=t.revenue.fill_null(0))
    return t


def parts(names: list[str] | tuple[str, ...]) -> list[str]:
    """The summed columns behind the named KPIs, each once."""
    out: list[str] = []
    for n in names:
        for c in (kpi(n).num, kpi(n).den):
            if c is not None and c not in out:
                out.append(c)
    return out


def part_sums(t: ir.Table, names: list[str] | tuple[str, ...]) -> dict[str, ir.Scalar]:
    """Aggregates summing every part of the named KPIs (null sums as 0)."""
    return {c: t[c].sum().fill_null(0) for c in parts(names)}


def kpi_aggregates(t: ir.Table, names: list[str] | tuple[str, ...] | None = None) -> dict[str, ir.Scalar]:
    """The named KPIs (default: all of ad_performance) as aggregate expressions over ``t``."""
    return {n: kpi(n).expr(t) for n in (names or list(AD_KPIS))}


def with_kpis(df, names: list[str] | tuple[str, ...], suffix: str = ""):
    """Add the named KPIs to a pandas frame of part sums (columns named like the parts)."""
    df = df.copy()
    for n in names:
        k = kpi(n)
        df[n + suffix] = k.from_parts(df[k.num + suffix].astype(float),
                                      None if k.den is None else df[k.den + suffix])
    return df
