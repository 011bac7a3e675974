"""The per-customer summary the CLV models need, computed in the engine from ``orders``.

One row per customer: ``x`` repeat purchases (distinct purchase days after the first, up to
the calibration end), ``t_x`` the time from the first to the last of them, ``T`` the time
from the first purchase to the calibration end, ``m`` the mean value of a repeat purchase
day, and, when orders run past the calibration end, the holdout purchases and value. Same-
day orders count as one purchase (the BTYD convention, as in lifetimes and Fader-Hardie).
Returns and orders without a customer are left out.
"""

from __future__ import annotations

import datetime as dt

import ibis
import pandas as pd

from mercator.errors import MercatorError
from mercator.workspace import Workspace

#: Days per time unit.
UNITS = {"D": 1.0, "W": 7.0, "M": 365.25 / 12}


def _day_number(d):
    """Days since 1970-01-01 of a date expression (portable across DuckDB and Spark)."""
    return (d.cast("timestamp").epoch_seconds() / 86400).round().cast("int64")


def customer_summary(ws: Workspace, calibration_end: dt.date | None = None, holdout_end: dt.date | None = None,
                     *, unit: str = "W", channel: str | None = None) -> tuple[pd.DataFrame, dict]:
    """The summary per customer (and the dates used), from the engine; ``channel`` keeps only
    the orders of one sales channel (orders.channel)."""
    if unit not in UNITS:
        raise MercatorError(f"unit must be one of {', '.join(UNITS)}; got {unit!r}")
    o = ws.table("orders")
    o = o.filter(o.customer_id.notnull() & ~o.is_return.fill_null(False) & o.revenue.notnull())
    if channel is not None:
        o = o.filter(o.channel == channel)
    bounds = o.aggregate(lo=o.ts.min(), hi=o.ts.max()).to_pyarrow().to_pylist()[0]
    if bounds["lo"] is None:
        raise MercatorError("orders has no purchases with a customer: load orders first (mercator ingest)")
    last_day = bounds["hi"].date()
    cal_end = calibration_end or last_day
    hold_end = holdout_end or (last_day if calibration_end is not None and last_day > cal_end else None)
    if hold_end is not None and hold_end <= cal_end:
        raise MercatorError(f"the holdout must end after the calibration ({hold_end} <= {cal_end})")
    day = _day_number(o.ts.cast("date"))
    days = o.group_by([o.customer_id, day.name("day")]).aggregate(value=o.revenue.sum())
    cal_n = _day_number(ibis.date(cal_end.isoformat()))
    first = days.group_by("customer_id").aggregate(first=days.day.min())
    j = days.inner_join(first, "customer_id")
    in_cal = j.day <= cal_n
    repeat = in_cal & (j.day > j.first)
    aggs = {
        "first": j.first.min(),
        "last": j.day.max(where=in_cal),
        "x": j.day.count(where=repeat),
        "repeat_value": j.value.sum(where=repeat),
        "first_value": j.value.sum(where=j.day == j.first),
    }
    if hold_end is not None:
        hold_n = _day_number(ibis.date(hold_end.isoformat()))
        in_hold = (j.day > cal_n) & (j.day <= hold_n)
        aggs["x_holdout"] = j.day.count(where=in_hold)
        aggs["value_holdout"] = j.value.sum(where=in_hold).fill_null(0)
    s = j.group_by("customer_id").aggregate(**aggs)
    s = s.filter(s.first <= cal_n)
    per = UNITS[unit]
    s = s.mutate(t_x=(s["last"] - s.first).cast("float64") / per, T=(cal_n - s.first).cast("float64") / per,
                 m=(s.repeat_value / s.x.nullif(0)).fill_null(0.0))
    cols = ["customer_id", "x", "t_x", "T", "m", "first_value"] + (["x_holdout", "value_holdout"] if hold_end else [])
    df = s.select(*cols).order_by("customer_id").to_pandas()
    df["x"] = df["x"].astype(int)
    # The engine adds revenue in no fixed order, so sums differ in their last bits from run to
    # run, and the fits downstream amplify that to 1e-5; money to a millionth of the unit is the
    # same every time.
    money = [c for c in ("m", "first_value", "value_holdout") if c in df.columns]
    df[money] = df[money].round(6)
    info = {"calibration_end": cal_end, "holdout_end": hold_end, "unit": unit,
            "holdout_length": ((hold_end - cal_end).days / per) if hold_end else None,
            "first_purchase": bounds["lo"].date()}
    return df, info


__all__ = ["UNITS", "customer_summary"]
