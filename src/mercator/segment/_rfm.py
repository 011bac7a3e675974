"""RFM scores and named segments, computed in the engine from ``orders``.

Per customer: recency (days from the last purchase to the reference date), frequency
(distinct purchase days) and monetary value (total revenue), then a score per dimension
from the share of customers ranked below it: score = 1 + the number of cut points at or
below ``rank / n`` (rank from 0, ties take the lowest rank). With distinct values and 5
quantiles that is exactly a fifth of customers per score; tied customers share a score,
and all one-time buyers get F = 1.
Named segments follow the usual R x F grid on 5-level scores (with other quantiles the
scores are mapped onto 5 levels first).
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

from mercator.errors import MercatorError

#: Named segments on 5-level R and F scores: (name, R range, F range, description). First match wins.
RFM_SEGMENTS: tuple[tuple[str, tuple[int, int], tuple[int, int], str], ...] = (
    ("champions", (4, 5), (4, 5), "bought recently and often"),
    ("loyal", (3, 3), (4, 5), "buy often, a little less recently"),
    ("potential_loyalists", (4, 5), (2, 3), "recent, with a few purchases"),
    ("new_customers", (5, 5), (1, 1), "first purchase very recently"),
    ("promising", (4, 4), (1, 1), "recent single purchase"),
    ("need_attention", (3, 3), (3, 3), "average recency and frequency"),
    ("about_to_sleep", (3, 3), (1, 2), "fading, with few purchases"),
    ("cannot_lose_them", (1, 2), (5, 5), "bought very often, but long ago"),
    ("at_risk", (1, 2), (3, 4), "bought often, but not for a while"),
    ("hibernating", (2, 2), (1, 2), "few purchases, long ago"),
    ("lost", (1, 1), (1, 2), "one or two purchases, longest ago"),
)


def cut_points(quantiles: int | list[float]) -> list[float]:
    """Percentile-rank cut points: 5 -> [0.2, 0.4, 0.6, 0.8]; a list is taken as given."""
    if isinstance(quantiles, int):
        if quantiles < 2:
            raise MercatorError("RFM needs at least 2 quantiles")
        return [i / quantiles for i in range(1, quantiles)]
    cuts = sorted(float(c) for c in quantiles)
    if not cuts or cuts[0] <= 0 or cuts[-1] >= 1:
        raise MercatorError(f"quantile cut points must lie strictly between 0 and 1; got {quantiles}")
    return cuts


def rfm_table(orders: ir.Table, as_of: dt.date, quantiles: int | list[float] = 5) -> ir.Table:
    """One row per customer: recency_days, frequency, monetary, r, f, m scores and the segment."""
    o = orders.filter(orders.customer_id.notnull() & ~orders.is_return.fill_null(False)
                      & (orders.ts.cast("date") <= ibis.date(as_of.isoformat())))
    day = (o.ts.cast("date").cast("timestamp").epoch_seconds() / 86400).round().cast("int64")
    ref = int((dt.datetime.combine(as_of, dt.time()) - dt.datetime(1970, 1, 1)).days)
    c = o.group_by("customer_id").aggregate(last_day=day.max(), frequency=day.nunique(),
                                            monetary=o.revenue.sum().fill_null(0))
    c = c.mutate(recency_days=ref - c.last_day)
    n = c.count().to_pyarrow().as_py() or 1
    cuts = cut_points(quantiles)
    levels = len(cuts) + 1

    def score(rank: ir.FloatingValue) -> ir.IntegerValue:
        out = ibis.literal(1)
        for cut in cuts:
            out = out + (rank >= cut - 1e-12).cast("int64")
        return out

    def share_below(column: ir.Column) -> ir.FloatingValue:
        return ibis.rank().over(order_by=column).cast("float64") / n

    c = c.mutate(r=score(share_below(c.recency_days.desc())), f=score(share_below(c.frequency)),
                 m=score(share_below(c.monetary)))
    r5 = (c.r * 5 / levels).ceil().cast("int64") if levels != 5 else c.r
    f5 = (c.f * 5 / levels).ceil().cast("int64") if levels != 5 else c.f
    branches = [(((r5 >= r_lo) & (r5 <= r_hi) & (f5 >= f_lo) & (f5 <= f_hi)), name)
                for name, (r_lo, r_hi), (f_lo, f_hi), _ in RFM_SEGMENTS]
    segment = ibis.cases(*branches, else_="other")
    return c.mutate(segment=segment).select("customer_id", "recency_days", "frequency", "monetary", "r", "f", "m",
                                            "segment")


__all__ = ["RFM_SEGMENTS", "cut_points", "rfm_table"]
