"""What a rule sees at each evaluation time: window sums computed in the engine.

One query per rule (and per replayed stretch of time, not per evaluation): the engine sums the
parts of the rule's metrics into buckets of ``rule.step`` seconds per group; the sums over any
window, the baseline windows the same time on earlier days and the budget period so far then
come from cumulative sums of those buckets (NumPy). A live evaluation is a replay of one tick,
so the cron run, the server's schedule and a backtest share every line.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import ibis
import numpy as np
import pandas as pd

from mercator.metrics import EVENT_COUNT_PREFIX, kpi
from mercator.monitor._rules import SOURCES, Rule

_ROWS = "_rows"


@dataclass(frozen=True)
class Sums:
    """Bucketed part sums of one rule: ``cs[part]`` is (groups x buckets + 1) cumulative sums
    from ``lo`` in steps of ``step`` seconds."""

    groups: list[tuple]
    lo: int
    step: int
    cs: dict[str, np.ndarray]

    def over(self, part: str, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        """Sums of ``part`` over [start, end) for each group and each (start, end) pair: (groups x len)."""
        n = self.cs[part].shape[1] - 1
        a = np.clip((start - self.lo) // self.step, 0, n)
        b = np.clip((end - self.lo) // self.step, 0, n)
        return self.cs[part][:, b] - self.cs[part][:, a]


def seconds(t: dt.datetime | pd.Timestamp | str) -> int:
    """Epoch seconds of a naive UTC time."""
    return int(pd.Timestamp(t).timestamp())


def at(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(epoch), dt.UTC).replace(tzinfo=None)


def period_start(ticks: np.ndarray, period: str) -> np.ndarray:
    """The start (epoch seconds, UTC) of the day, ISO week or month each tick falls in."""
    days = pd.to_datetime(ticks, unit="s").floor("D")
    if period == "week":
        days = days - pd.to_timedelta(days.dayofweek, unit="D")
    elif period == "month":
        days = days - pd.to_timedelta(days.day - 1, unit="D")
    return (days.asi8 // 10**9).astype(np.int64)


def period_end(starts: np.ndarray, period: str) -> np.ndarray:
    s = pd.to_datetime(starts, unit="s")
    ends = s + (pd.DateOffset(days=1) if period == "day" else pd.DateOffset(weeks=1) if period == "week"
                else pd.DateOffset(months=1))
    return (pd.DatetimeIndex(ends).asi8 // 10**9).astype(np.int64)


def _time_seconds(t, source: str):
    if source == "ad_performance":
        return t.date.cast("timestamp").epoch_seconds() + t.hour.fill_null(0) * 3600
    return t[SOURCES[source]].epoch_seconds()


def _parts(t, rules: list[Rule]) -> dict:
    out = {_ROWS: t.count()}
    for m in {m for r in rules for m in r.metrics}:
        k = kpi(m)
        for col in (k.num, k.den):
            if col is None or col in out:
                continue
            if col.startswith(EVENT_COUNT_PREFIX):
                out[col] = (t.event_name == col[len(EVENT_COUNT_PREFIX):]).cast("int64").sum()
            else:
                out[col] = t[col].sum()
    return out


def lookback(rule: Rule, ticks: np.ndarray) -> int:
    """The earliest second any evaluation at ``ticks`` needs."""
    if rule.kind == "overspend":
        return int(period_start(np.asarray([ticks.min()]), rule.period)[0])
    return int(ticks.min() - rule.window - rule.references * rule.shift)


def window_sums(ws, rules: list[Rule], ticks: list[np.ndarray]) -> Sums:
    """The bucketed part sums of ``rules`` (which watch the same source, filters and groups) over
    everything their evaluations at ``ticks`` (one array per rule) look at, in one engine query:
    a thousand rules on a few sources cost a few queries."""
    from mercator.metrics import prepared

    rule = rules[0]
    step = math.gcd(*(r.step for r in rules))
    lo = min(lookback(r, t) for r, t in zip(rules, ticks, strict=True))
    lo -= lo % step
    hi = int(max(t.max() for t in ticks))
    t = prepared(ws.table(rule.source), rule.source)
    col = SOURCES[rule.source]
    sec = _time_seconds(t, rule.source)
    # one filter and one grouped aggregate: a flat expression compiles in a fraction of the time
    # a chain of mutate and filter steps takes Ibis to rewrite
    if rule.source == "ad_performance":  # the date test first, so the engine prunes before it computes
        cond = (t.date >= (at(lo) - dt.timedelta(days=1)).date()) & (t.date <= at(hi).date())
    else:
        cond = (t[col] >= ibis.timestamp(at(lo))) & (t[col] < ibis.timestamp(at(hi)))
    for c, value in rule.where:
        cond &= t[c].cast("string") == value
    t = t.filter(cond & (sec >= lo) & (sec < hi))
    bucket = ((_time_seconds(t, rule.source) - lo) // step).cast("int64").name("_bucket")
    parts = _parts(t, rules)
    df = t.group_by([*(t[b] for b in rule.by), bucket]).aggregate(**parts).to_pandas()
    n = max(0, (hi - lo) // step)
    if rule.by:
        keys = df[list(rule.by)].astype("string").fillna("(not set)")
        groups = sorted(set(map(tuple, keys.to_numpy().tolist())))
        index = {g: i for i, g in enumerate(groups)}
        gi = np.fromiter((index[tuple(g)] for g in keys.to_numpy().tolist()), dtype=np.int64, count=len(df))
    else:
        groups, gi = [()], np.zeros(len(df), dtype=np.int64)
    b = df["_bucket"].to_numpy(np.int64)
    cs = {}
    for part in parts:
        dense = np.zeros((len(groups), n + 1))
        if len(df):
            np.add.at(dense, (gi, b + 1), df[part].fillna(0).to_numpy(float))
        cs[part] = np.cumsum(dense, axis=1)
    return Sums(groups=groups, lo=lo, step=step, cs=cs)
