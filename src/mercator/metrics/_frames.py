"""Periods and the engine queries behind explore and diagnose.

Every query here aggregates in the engine (Ibis on DuckDB or Spark) and returns a small
pandas frame of *part sums* (the numerators and denominators of the KPIs); the KPIs
themselves are computed from those sums, so a ratio is always a ratio of sums.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import ibis
import pandas as pd

from mercator.errors import MercatorError
from mercator.metrics._kpis import EVENT_COUNT_PREFIX, kpi, part_sums, prepared
from mercator.workspace import Workspace

#: Dimensions of ad_performance that breakdowns and root-cause search use by default.
AD_DIMENSIONS = ("channel", "campaign_id", "creative_id", "device", "country", "age", "gender", "interest")


@dataclass(frozen=True)
class Period:
    """An inclusive date range."""

    start: dt.date
    end: dt.date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def shifted(self, days: int) -> Period:
        return Period(self.start - dt.timedelta(days=days), self.end - dt.timedelta(days=days))

    def previous(self) -> Period:
        """The period of the same length just before this one."""
        return self.shifted(self.days)

    def year_ago(self) -> Period:
        """The same period 52 weeks earlier (364 days, so weekdays line up)."""
        return self.shifted(364)

    def __str__(self) -> str:
        return f"{self.start}:{self.end}"

    @classmethod
    def parse(cls, text: str) -> Period:
        """``YYYY-MM-DD:YYYY-MM-DD`` (inclusive)."""
        try:
            a, b = text.split(":")
            p = cls(dt.date.fromisoformat(a.strip()), dt.date.fromisoformat(b.strip()))
        except ValueError:
            raise MercatorError(f"period {text!r} is not START:END with ISO dates, e.g. 2024-05-01:2024-05-31") \
                from None
        if p.end < p.start:
            raise MercatorError(f"period {text!r} ends before it starts")
        return p


def date_range(ws: Workspace, table: str = "ad_performance", column: str = "date") -> tuple[dt.date, dt.date]:
    t = ws.table(table)
    row = t.aggregate(lo=t[column].min(), hi=t[column].max()).to_pyarrow().to_pylist()[0]
    if row["lo"] is None:
        raise MercatorError(f"{table} is empty: load data first (mercator ingest, or mercator demo)")
    lo, hi = row["lo"], row["hi"]
    return (lo.date() if isinstance(lo, dt.datetime) else lo), (hi.date() if isinstance(hi, dt.datetime) else hi)


def default_period(ws: Workspace, since: dt.date | None = None, days: int = 28,
                   table: str = "ad_performance", column: str = "date") -> Period:
    """From ``since`` (default: ``days`` before the last date) to the last date with data."""
    _, hi = date_range(ws, table, column)
    start = since if since is not None else hi - dt.timedelta(days=days - 1)
    return Period(start, hi)


def _in_period(t, column: str, period: Period | None):
    if period is None:
        return t
    col = t[column].cast("date") if column != "date" else t[column]
    return t.filter((col >= period.start) & (col <= period.end))


def part_frame(ws: Workspace, kpis: list[str] | tuple[str, ...], *, by: list[str] | tuple[str, ...] = (),
               period: Period | None = None, grain: str | None = None, table: str = "ad_performance",
               date_column: str = "date", where=None) -> pd.DataFrame:
    """Part sums of ``kpis`` grouped by ``by`` (and by ``grain``: day, week or month), in the engine.

    ``where``: a function of the table giving the rows to keep (an Ibis boolean expression).
    Dimension values that are null (not reported) are grouped as such; the caller labels them.
    """
    for n in kpis:
        if kpi(n).table != table:
            raise MercatorError(f"KPI {n!r} is computed from {kpi(n).table}, not {table}")
    t = prepared(ws.table(table), table)
    t = _in_period(t, date_column, period)
    if where is not None:
        t = t.filter(where(t))
    keys = [t[b] for b in by]
    if grain is not None:
        d = t[date_column].cast("date")
        if grain == "day":
            bucket = d
        elif grain in ("week", "month"):
            bucket = d.truncate("W" if grain == "week" else "M")
        else:
            raise MercatorError(f"grain must be day, week or month; got {grain!r}")
        keys.append(bucket.name("period"))
    grouped = t.group_by(keys) if keys else t
    df = grouped.aggregate(**part_sums(t, kpis)).to_pandas()
    if grain is not None:
        df["period"] = pd.to_datetime(df["period"])
        df = df.sort_values([*by, "period"], ignore_index=True)
    return df


def event_frame(ws: Workspace, *, conversion: str = "purchase", by: list[str] | tuple[str, ...] = (),
                period: Period | None = None, counts: bool = True) -> pd.DataFrame:
    """Per day (and ``by`` segment) from ``events``, in the engine: visits, users, converting
    visits and (with ``counts``) the count of every event name as ``n_event:<name>`` columns.

    A visit is a session; where a source records no sessions, a user's day stands for one.
    """
    e = ws.table("events")
    if period is not None:
        e = e.filter((e.ts >= ibis.timestamp(f"{period.start} 00:00:00"))
                     & (e.ts < ibis.timestamp(f"{period.end} 00:00:00") + ibis.interval(days=1)))
    day = e.ts.cast("date").name("period")
    visit = e.session_id.fill_null(e.user_id.concat("@", day.cast("string")))
    keys = [*(e[b] for b in by), day]
    df = e.group_by(keys).aggregate(
        visits=visit.nunique(), users=e.user_id.nunique(),
        converting_visits=visit.nunique(where=e.event_name == conversion)).to_pandas()
    if counts:
        n = e.group_by([*keys, e.event_name]).aggregate(n=e.count()).to_pandas()
        wide = n.pivot_table(index=[*by, "period"], columns="event_name", values="n", fill_value=0, dropna=False)
        wide.columns = [EVENT_COUNT_PREFIX + str(c) for c in wide.columns]
        df = df.merge(wide.reset_index(), on=[*by, "period"], how="left")
    df["period"] = pd.to_datetime(df["period"])
    return df.fillna({c: 0 for c in df.columns if c.startswith(EVENT_COUNT_PREFIX)}) \
        .sort_values([*by, "period"], ignore_index=True)


def label(value: object) -> str:
    """A dimension value for people: null is a dimension the source did not report."""
    from mercator.schema import NOT_SET

    return NOT_SET if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


