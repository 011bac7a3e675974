"""The media-mix model's input: one row per period from the workspace or a file, checked; holidays and lift tests."""


from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mercator.errors import MercatorError, NotFoundError
from mercator.frames import check_numeric, read_table, require_columns, source_name
from mercator.mmm._model import (
    LiftTest,
)
from mercator.workspace import Workspace


def media_frame(ws: Workspace, kpi: str | None = None, granularity: str = "week",
                spend_from: str = "auto") -> tuple[pd.DataFrame, list, list]:
    """One row per period from the workspace: the KPI, spend per channel and the controls.

    Spend from ``media_spend`` when the workspace has it (or ``spend_from="media_spend"``),
    else (or with ``spend_from="ad_performance"``) the cost per channel and week of
    ``ad_performance``; the KPI from ``kpi_series``, else revenue from ``orders``, else the
    platforms' conversion value; controls from ``media_controls``. Aggregated in the engine;
    returns the frame (column ``period``), the channels and the controls."""
    if spend_from not in ("auto", "media_spend", "ad_performance"):
        raise MercatorError(f"spend_from: auto, media_spend or ad_performance, not {spend_from!r}")
    if spend_from == "media_spend" or (spend_from == "auto" and ws.count("media_spend")):
        m = ws.table("media_spend")
        m = m.filter(m.granularity == granularity)
        spend = m.group_by(["period", "channel"]).aggregate(spend=m.spend.sum()).to_pandas()
    elif ws.count("ad_performance"):
        a = ws.table("ad_performance")
        a = a.filter(a.cost.notnull())
        period = a.date.truncate("W") if granularity == "week" else a.date
        spend = a.group_by(period=period, channel=a.channel).aggregate(spend=a.cost.sum()).to_pandas()
    else:
        raise MercatorError("the workspace has neither media_spend nor ad_performance: no spend to model")
    wide = spend.pivot_table(index="period", columns="channel", values="spend", aggfunc="sum", fill_value=0.0)
    channels = [str(c) for c in wide.columns]
    if ws.count("kpi_series"):
        k = ws.table("kpi_series")
        k = k.filter(k.granularity == granularity)
        names = sorted(k.select("kpi").distinct().to_pandas()["kpi"].astype(str))
        name = kpi or ("revenue" if "revenue" in names else names[0])
        if name not in names:
            raise MercatorError(f"kpi_series has no KPI {name!r}; it has {', '.join(names)}")
        y = k.filter(k.kpi == name).group_by("period").aggregate(value=k.value.sum()).to_pandas()
    elif ws.count("orders"):
        o = ws.table("orders")
        period = o.ts.date().truncate("W") if granularity == "week" else o.ts.date()
        y = o.group_by(period=period).aggregate(value=o.revenue.sum()).to_pandas()
        name = "revenue"
    else:
        a = ws.table("ad_performance")
        period = a.date.truncate("W") if granularity == "week" else a.date
        y = a.group_by(period=period).aggregate(value=a.conversion_value.sum()).to_pandas()
        name = "conversion_value"
    y["period"] = pd.to_datetime(y["period"])
    wide.index = pd.to_datetime(wide.index)
    frame = wide.join(y.set_index("period")["value"].rename(name), how="inner")
    controls: list[str] = []
    if ws.count("media_controls"):
        c = ws.table("media_controls")
        c = c.filter(c.granularity == granularity)
        c = c.group_by(["period", "control"]).aggregate(value=c.value.sum()).to_pandas()
        cw = c.pivot(index="period", columns="control", values="value")
        cw.index = pd.to_datetime(cw.index)
        controls = [str(x) for x in cw.columns]
        frame = frame.join(cw, how="left").fillna({x: 0.0 for x in controls})
    frame = frame.reset_index(names="period")
    frame.attrs["kpi"] = name
    return frame, channels, controls


def _read(data: str | Path | pd.DataFrame) -> tuple[pd.DataFrame, str]:
    if not isinstance(data, pd.DataFrame) and not Path(data).exists():
        raise NotFoundError(f"{data}: no such file")
    return read_table(None, data, text_na=True), source_name(data)


def holiday_counts(periods: pd.Series, step_days: float, holidays: str | Path | pd.DataFrame,
                   country: str | None = None) -> np.ndarray:
    """How many holidays fall in each period [start, start + step) of ``periods``."""
    h, name = _read(holidays)
    if "ds" not in h.columns:
        raise MercatorError(f"{name}: a holiday table needs a 'ds' date column (it has {', '.join(map(str, h.columns))})")
    if country is not None:
        if "country" not in h.columns:
            raise MercatorError(f"{name}: no 'country' column to pick {country!r} from")
        h = h[h["country"].astype(str).str.upper() == country.upper()]
        if h.empty:
            raise MercatorError(f"{name}: no holidays for country {country!r}")
    days = np.sort(pd.to_datetime(h["ds"], errors="coerce").dropna().to_numpy().astype("datetime64[D]"))
    start = pd.to_datetime(periods).to_numpy().astype("datetime64[D]")
    end = start + np.timedelta64(round(step_days), "D")
    return (np.searchsorted(days, end) - np.searchsorted(days, start)).astype(float)


def _check(frame: pd.DataFrame, name: str, date_col: str, kpi: str, channels: list, controls: list) -> pd.DataFrame:
    """The modelling columns, checked: present, numeric, spend not negative, one row per date."""
    cols = [date_col, kpi, *channels, *controls]
    require_columns(frame.columns, cols, name)
    if not channels:
        raise MercatorError(f"{name}: name the spend columns (channels)")
    f = frame[cols].copy()
    dates = pd.to_datetime(f[date_col], errors="coerce")
    if dates.isna().any():
        row = int(np.flatnonzero(dates.isna().to_numpy())[0])
        raise MercatorError(f"{name}: row {row + 2}, column {date_col}: {f[date_col].iloc[row]!r} is not a date")
    f = check_numeric(f.assign(**{date_col: dates}), cols[1:], name)
    neg = [c for c in channels if (f[c] < 0).any()]
    if neg:
        row = int(np.flatnonzero((f[neg[0]] < 0).to_numpy())[0])
        raise MercatorError(f"{name}: row {row + 2}, column {neg[0]}: spend {f[neg[0]].iloc[row]} is negative")
    if f[date_col].duplicated().any():
        d = f[date_col][f[date_col].duplicated()].iloc[0]
        raise MercatorError(f"{name}: the date {d.date()} appears twice; the model needs one row per period "
                            "(sum the rows per period first)")
    dead = [c for c in channels if not (f[c] > 0).any()]
    if dead:
        raise MercatorError(f"{name}: channel(s) {', '.join(dead)} never spend: drop them")
    if len(f) < 2 * len(channels) + 10:
        raise MercatorError(f"{name}: {len(f)} periods are too few for {len(channels)} channels")
    return f.sort_values(date_col, ignore_index=True)


def read_lift_tests(path: str | Path) -> tuple[LiftTest, ...]:
    """Lift tests from a CSV with columns channel, spend_before, spend_after, delta_kpi, sd
    (spend and KPI per period)."""
    f, name = _read(path)
    cols = ["channel", "spend_before", "spend_after", "delta_kpi", "sd"]
    missing = [c for c in cols if c not in f.columns]
    if missing:
        raise MercatorError(f"{name}: no column(s) {', '.join(missing)}; a lift test file has {', '.join(cols)}")
    out = []
    for i, row in enumerate(f[cols].itertuples(index=False)):  # a handful of rows: one per test
        try:
            vals = [float(v) for v in row[1:]]
        except ValueError:
            raise MercatorError(f"{name}: row {i + 2}: spend, delta_kpi and sd must be numbers") from None
        if vals[3] <= 0:
            raise MercatorError(f"{name}: row {i + 2}, column sd: the standard error must be positive")
        out.append(LiftTest(str(row[0]), *vals))
    return tuple(out)

