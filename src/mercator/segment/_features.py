"""Behavioural features per customer, computed in the engine from ``orders``."""

from __future__ import annotations

import datetime as dt

import ibis
import pandas as pd

from mercator.workspace import Workspace

#: Feature name -> (description, log-transform before clustering).
FEATURES: dict[str, tuple[str, bool]] = {
    "recency_days": ("days since the last purchase", True),
    "frequency": ("distinct purchase days", True),
    "monetary": ("total revenue", True),
    "aov": ("average order value", True),
    "tenure_days": ("days since the first purchase", False),
    "return_rate": ("share of orders that are returns", False),
}


def customer_features(ws: Workspace, as_of: dt.date, channel: str | None = None) -> pd.DataFrame:
    """One row per customer with at least one purchase up to ``as_of`` (of ``channel``'s orders
    only, if given): the FEATURES."""
    o = ws.table("orders")
    o = o.filter(o.customer_id.notnull() & (o.ts.cast("date") <= ibis.date(as_of.isoformat())))
    if channel is not None:
        o = o.filter(o.channel == channel)
    day = (o.ts.cast("date").cast("timestamp").epoch_seconds() / 86400).round().cast("int64")
    ref = (dt.datetime.combine(as_of, dt.time()) - dt.datetime(1970, 1, 1)).days
    ret = o.is_return.fill_null(False)
    buy = ~ret
    c = o.group_by("customer_id").aggregate(
        first=day.min(where=buy), last=day.max(where=buy), frequency=day.nunique(where=buy),
        monetary=o.revenue.sum(where=buy).fill_null(0), orders=o.count(where=buy),
        returns=o.count(where=ret))
    c = c.filter(c.orders > 0)
    c = c.mutate(recency_days=(ref - c["last"]).cast("float64"), tenure_days=(ref - c["first"]).cast("float64"),
                 aov=c.monetary / c.orders.nullif(0),
                 return_rate=c.returns.cast("float64") / (c.orders + c.returns))
    return c.select("customer_id", *FEATURES).order_by("customer_id").to_pandas()


__all__ = ["FEATURES", "customer_features"]
