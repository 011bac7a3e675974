"""Journeys built in the engine from ``events``: Ibis expressions that run on DuckDB or Spark.

A conversion closes a journey; the touches (events with a channel) of the same user since the
previous conversion and within ``lookback`` of it are its path. After a user's last
conversion, the remaining activity is a journey that did not convert, ending at the user's last
event. Users with activity but no touch give journeys with an empty path (the no-touch
baseline that Shapley credit is measured against); a later conversion with no touch since
the previous one is a repeat purchase and is left out. Journeys are counted by unique path, so
millions of users become a small table.
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir
import pandas as pd

from mercator.workspace import Workspace

SEP = " > "


def _touches_and_journeys(ws: Workspace, conversion_event: str, lookback_days: float,
                          start: dt.date | None, end: dt.date | None,
                          exclude_channels: tuple[str, ...]) -> tuple[ir.Table, ir.Table]:
    e = ws.table("events")
    if start is not None:
        e = e.filter(e.ts >= ibis.timestamp(dt.datetime.combine(start, dt.time())))
    if end is not None:
        e = e.filter(e.ts < ibis.timestamp(dt.datetime.combine(end + dt.timedelta(days=1), dt.time())))
    is_conv = (e.event_name == conversion_event).cast("int64")
    is_touch = e.channel.notnull() & (e.event_name != conversion_event)
    if exclude_channels:
        is_touch = is_touch & ~e.channel.isin(list(exclude_channels))
    t = e.filter((is_conv == 1) | is_touch).select(
        "user_id", "ts", "event_id", "channel", is_conv=is_conv, value=e.value.fill_null(0.0))
    # journey number = conversions strictly before the row (touches sort before a conversion at the same time)
    w = ibis.window(group_by=t.user_id, order_by=[t.ts, t.is_conv, t.event_id], rows=(None, 0))
    t = t.mutate(journey=t.is_conv.sum().over(w) - t.is_conv)
    conv = t.filter(t.is_conv == 1)
    closed = conv.select("user_id", "journey", end_ts=conv.ts, converted=ibis.literal(1), value=conv.value)
    last = e.group_by("user_id").aggregate(last_ts=e.ts.max())
    n_conv = conv.group_by("user_id").aggregate(n=conv.count(), last_conv=conv.ts.max())
    tail = last.left_join(n_conv, "user_id")
    tail = tail.filter(tail.last_conv.isnull() | (tail.last_ts > tail.last_conv)).select(
        "user_id", journey=tail.n.fill_null(0), end_ts=tail.last_ts, converted=ibis.literal(0),
        value=ibis.literal(0.0))
    journeys = closed.union(tail).mutate(jkey=ibis._.user_id.concat("#", ibis._.journey.cast("string")))
    touch = t.filter(t.is_conv == 0)
    touch = touch.mutate(jkey=touch.user_id.concat("#", touch.journey.cast("string")))
    j = journeys.select("jkey", "end_ts", "converted", jvalue=journeys.value)
    touch = touch.join(j, "jkey")
    touch = touch.filter((touch.ts <= touch.end_ts)
                         & (touch.ts >= touch.end_ts - ibis.interval(seconds=int(lookback_days * 86400))))
    return touch, journeys


def build_paths(ws: Workspace, *, conversion_event: str = "purchase", lookback_days: float = 30.0,
                start: dt.date | None = None, end: dt.date | None = None,
                exclude_channels: tuple[str, ...] = ()) -> pd.DataFrame:
    """Unique paths: ``path`` (channels in touch order joined by " > "; "" for no touch),
    ``conversions``, ``nulls`` and ``value``, computed in the engine."""
    touch, journeys = _touches_and_journeys(ws, conversion_event, lookback_days, start, end, exclude_channels)
    pos = ibis.row_number().over(group_by=touch.jkey, order_by=[touch.ts, touch.event_id])
    # an ordered string aggregate is not portable (Spark): collect "position|channel", sort, strip
    tok = pos.cast("string").lpad(9, "0").concat(touch.channel)
    paths = touch.mutate(tok=tok).group_by("jkey").aggregate(
        path=ibis._.tok.collect().sort().map(lambda x: x.substr(9)).join(SEP))
    full = journeys.left_join(paths, "jkey")
    full = full.mutate(path=full.path.fill_null(""))
    # a conversion with no touch since the user's previous conversion is a repeat purchase, not
    # a journey without marketing: only users' first journeys may be touch-free (the baseline)
    full = full.filter((full.path != "") | (full.journey == 0))
    out = full.group_by("path").aggregate(conversions=full.converted.sum(), nulls=(1 - full.converted).sum(),
                                          value=full.value.sum())
    return out.order_by(ibis.desc("conversions"), "path").to_pandas()


def time_decay(ws: Workspace, *, half_life_days: float = 7.0, conversion_event: str = "purchase",
               lookback_days: float = 30.0, start: dt.date | None = None, end: dt.date | None = None,
               exclude_channels: tuple[str, ...] = ()) -> pd.DataFrame:
    """Time-decay credit per channel: each touch of a converting journey weighs
    0.5 ** (days before the conversion / half-life), normalized within the journey."""
    touch, _ = _touches_and_journeys(ws, conversion_event, lookback_days, start, end, exclude_channels)
    touch = touch.filter(touch.converted == 1)
    age = (touch.end_ts.epoch_seconds() - touch.ts.epoch_seconds()) / 86400.0
    touch = touch.mutate(w=(ibis.literal(0.5).log() * age / half_life_days).exp())
    touch = touch.mutate(share=touch.w / touch.w.sum().over(group_by=touch.jkey))
    out = touch.group_by("channel").aggregate(conversions=touch.share.sum(), value=(touch.share * touch.jvalue).sum())
    return out.order_by("channel").to_pandas()


__all__ = ["SEP", "build_paths", "time_decay"]
