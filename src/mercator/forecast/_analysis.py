"""The public analyses of ``mercator.forecast`` (the package re-exports them)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mercator.errors import MercatorError
from mercator.forecast._models import (
    LEVELS,
    SEASON,
    choose,
    cross_validate,
    model_set,
    ratio_band,
    resolve,
    scores,
    season_length,
)
from mercator.forecast._models import forecast as _forecast
from mercator.metrics import KPI, kpi
from mercator.results import Finding, Result

TOTAL = "total"


@dataclass(frozen=True)
class ForecastResult(Result):
    """Forecasts with intervals per series, the backtest behind the model choice, the band for
    the coming days, and breaks in the history."""

    kind = "forecast"
    title = "What could happen: forecast"
    headline = ("backtest", "band", "breaks")

    def figures(self) -> list:
        import plotly.graph_objects as go

        fc, hist = self.tables.get("forecast"), self.tables.get("history")
        if fc is None or fc.empty:
            return []
        figs = []
        for uid in list(dict.fromkeys(fc.unique_id))[:4]:
            f, h = fc[fc.unique_id == uid], hist[hist.unique_id == uid]
            fig = go.Figure()
            for lv, op in ((95, 0.15), (80, 0.3)):
                fig.add_scatter(x=np.r_[f.ds, f.ds[::-1]], y=np.r_[f[f"hi_{lv}"], f[f"lo_{lv}"][::-1]], fill="toself",
                                opacity=op, line={"width": 0}, name=f"{lv}% interval")
            fig.add_scatter(x=h.ds, y=h.y, name="history", line={"color": "black"})
            fig.add_scatter(x=f.ds, y=f["mean"], name=f"forecast ({f.model.iloc[0]})", line={"dash": "dash"})
            fig.update_layout(title=f"{self.params.get('metric')}: {uid}", height=360)
            figs.append(fig)
        return figs


@dataclass(frozen=True)
class BacktestResult(Result):
    """Every model's backtest per series: relative MAE, MASE and interval coverage."""

    kind = "forecast_backtest"
    title = "Forecast backtest"


def kpi_series(ws, metric: str, *, by: str | None = None, freq: str = "D") -> tuple[pd.DataFrame, KPI]:
    """The KPI's part sums per period (and ``by`` segment), built in the engine, on a complete
    calendar (a period without rows is 0): ``unique_id, ds, num[, den]``."""
    from mercator.metrics import event_frame, label, part_frame

    if freq not in SEASON:
        raise MercatorError(f"freq must be D or W, not {freq!r}")
    k = kpi(metric)
    by_cols = [by] if by else []
    if k.table == "events":
        if freq != "D":
            raise MercatorError(f"{metric} is counted per day (distinct visits and users); use freq D")
        frame = event_frame(ws, by=by_cols, counts=metric.startswith("events."))
    else:
        frame = part_frame(ws, [metric], by=by_cols, grain="day" if freq == "D" else "week", table=k.table,
                           date_column="date" if k.table == "ad_performance" else "ts")
    if frame.empty:
        raise MercatorError(f"no {k.table} rows to forecast {metric} from")
    frame["unique_id"] = frame[by].map(label) if by else TOTAL
    cols = [k.num] + ([k.den] if k.den else [])
    long = frame.groupby(["unique_id", "period"], as_index=False)[cols].sum()
    return _complete(long.rename(columns={"period": "ds", k.num: "num", **({k.den: "den"} if k.den else {})}),
                     freq), k


def media_controls(ws, names: list[str] | tuple[str, ...] = ("promotion", "holiday")) -> pd.DataFrame:
    """The workspace's weekly ``media_controls`` (promotions, holidays...) as regressors:
    ``ds`` and one column per control."""
    c = ws.table("media_controls")
    c = c.filter(c.control.isin(list(names)))
    wide = c.group_by(["period", "control"]).aggregate(value=c.value.sum()).to_pandas() \
        .pivot_table(index="period", columns="control", values="value", fill_value=0).reset_index()
    if wide.empty:
        raise MercatorError(f"no media_controls named {', '.join(names)} in the workspace")
    return wide.rename(columns={"period": "ds"}).rename_axis(columns=None)


def _complete(long: pd.DataFrame, freq: str) -> pd.DataFrame:
    """Every series on the full calendar from the first to the last period, gaps as 0."""
    start, end = long.ds.min(), long.ds.max()
    cal = pd.date_range(start, end, freq="D" if freq == "D" else "W-MON")
    idx = pd.MultiIndex.from_product([long.unique_id.unique(), cal], names=["unique_id", "ds"])
    return long.set_index(["unique_id", "ds"]).reindex(idx, fill_value=0).reset_index()


def _series_from_data(data, date_col: str, value_col: str, by: str | None, freq: str, ws=None) -> pd.DataFrame:
    """A user's file, frame, Ibis table or workspace table as a long series (summed per period
    in the engine)."""
    from mercator.frames import engine_table, require_columns

    table, name = engine_table(data, ws)
    require_columns(table.columns, [date_col, value_col, by], name)
    d = table[date_col].cast("date")
    period = d if freq == "D" else d.truncate("W")
    keys = [period.name("ds"), *([table[by].cast("string").name("unique_id")] if by else [])]
    long = table.group_by(keys).aggregate(num=table[value_col].cast("float64").sum()).to_pandas()
    if long.empty:
        raise MercatorError(f"{name}: no rows")
    if not by:
        long["unique_id"] = TOTAL
    long["ds"] = pd.to_datetime(long["ds"])
    return _complete(long, freq)


def _check_length(long: pd.DataFrame, h: int, n_windows: int, freq: str) -> None:
    need = h * n_windows + (2 * SEASON[freq] if freq == "D" else 13)  # two weeks, or a quarter, to learn from
    n = long.groupby("unique_id").size().min()
    if n < need:
        raise MercatorError(f"the series have {n} periods; a backtest of {n_windows} windows of {h} needs at least "
                            f"{need} (shorten --horizon or use fewer windows)")


def _run(long: pd.DataFrame, column: str, h: int, freq: str, names, n_windows: int, n_jobs: int,
         regressors: pd.DataFrame | None = None):
    """Backtest every model on ``column``, choose per series, forecast: (cv, scores, choice, forecast).
    ``regressors`` (``ds`` and known-in-advance columns, such as promotions and holidays, over the
    history and the horizon) go to the models that take them (AutoARIMA)."""
    part = long[["unique_id", "ds", column]].rename(columns={column: "y"})
    future = None
    if regressors is not None:
        part, future = _with_regressors(part, regressors, h)
    n_obs = int(part.groupby("unique_id").size().min())
    models = model_set(freq, n_obs, names)
    cv = cross_validate(part, h, freq, models, n_windows, n_jobs)
    sc = scores(cv, part, [m.alias for m in models], season_length(freq, n_obs - h * n_windows))
    choice = choose(sc)
    fc = _forecast(part, h, freq, choice, models, n_jobs, future)
    return part[["unique_id", "ds", "y"]], cv, sc, choice, fc


def _with_regressors(part: pd.DataFrame, reg: pd.DataFrame, h: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The history with its regressor columns, and the regressors of the next ``h`` periods of
    every series (all must be known: a forecast cannot guess next month's promotions)."""
    if "ds" not in reg.columns:
        raise MercatorError("regressors need a ds column (the period) and one column per regressor")
    reg = reg.assign(ds=pd.to_datetime(reg.ds))
    on = ["unique_id", "ds"] if "unique_id" in reg.columns else ["ds"]
    cols = [c for c in reg.columns if c not in on]
    hist = part.merge(reg, on=on, how="left")
    if hist[cols].isna().any().any():
        raise MercatorError(f"regressors {', '.join(cols)} miss some periods of the history")
    last = part.groupby("unique_id").ds.max()
    fut = pd.DataFrame([(u, d) for u, end in last.items() for d in reg.ds[reg.ds > end].drop_duplicates()
                        .sort_values().head(h)], columns=["unique_id", "ds"]).merge(reg, on=on, how="left")
    if len(fut) < h * len(last) or fut[cols].isna().any().any():
        raise MercatorError(f"regressors {', '.join(cols)} must cover the {h} periods after the history")
    return hist, fut


def floor_at_zero(fc: pd.DataFrame, hist: pd.DataFrame) -> pd.DataFrame:
    """Forecasts and bands of a series that has never been negative (counts, spend, rates)
    start at zero: a band of "-2 to 9" conversions becomes "0 to 9". Series with negative
    values (net revenue after returns) keep their bands as the model gives them."""
    never_negative = hist.groupby("unique_id").y.min().ge(0)
    rows = fc.unique_id.map(never_negative).fillna(False).to_numpy(dtype=bool)
    cols = ["mean", *(f"{b}_{lv}" for b in ("lo", "hi") for lv in LEVELS)]
    out = fc.copy()
    out.loc[rows, cols] = out.loc[rows, cols].clip(lower=0)
    return out


def _ratio_cv(cv_n: pd.DataFrame, cv_d: pd.DataFrame, choice_n: pd.Series, choice_d: pd.Series, k: KPI
              ) -> pd.DataFrame:
    """The backtest of a ratio KPI: the chosen numerator and denominator forecasts combined
    (delta-method intervals) against seasonal naive's ratio, in cross-validation form."""
    keys = ["unique_id", "ds", "cutoff"]
    j = cv_n.merge(cv_d, on=keys, suffixes=("_n", "_d"))
    def pick(frame: pd.DataFrame, choice: pd.Series, s: str) -> dict[str, pd.Series]:
        chosen = frame.unique_id.map(choice)
        out = {}
        for c in ("", "-lo-80", "-hi-80", "-lo-95", "-hi-95"):
            col = pd.Series(np.nan, index=frame.index)
            for name in chosen.unique():
                rows = chosen == name
                col[rows] = frame.loc[rows, f"{name}{c}{s}"]
            out[c] = col
        return out

    pn, pd_ = pick(j, choice_n, "_n"), pick(j, choice_d, "_d")
    num = pd.DataFrame({"unique_id": j.unique_id, "ds": j.ds, "model": "n", "mean": pn[""],
                        **{f"{b}_{lv}": pn[f"-{b}-{lv}"] for b in ("lo", "hi") for lv in LEVELS}})
    den = pd.DataFrame({"unique_id": j.unique_id, "ds": j.ds, "model": "d", "mean": pd_[""],
                        **{f"{b}_{lv}": pd_[f"-{b}-{lv}"] for b in ("lo", "hi") for lv in LEVELS}})
    r = ratio_band(num, den, k.scale)
    out = pd.DataFrame({"unique_id": j.unique_id, "ds": j.ds, "cutoff": j.cutoff,
                        "y": k.from_parts(j.y_n, j.y_d), "chosen": r["mean"].to_numpy(),
                        "seasonal_naive": k.from_parts(j.seasonal_naive_n, j.seasonal_naive_d)})
    for lv in LEVELS:
        out[f"chosen-lo-{lv}"], out[f"chosen-hi-{lv}"] = r[f"lo_{lv}"].to_numpy(), r[f"hi_{lv}"].to_numpy()
        out[f"seasonal_naive-lo-{lv}"] = out[f"seasonal_naive-hi-{lv}"] = out["seasonal_naive"]
    return out.dropna(subset=["y"])


def _names(models, long: pd.DataFrame) -> tuple[str, ...]:
    try:
        return resolve(models, long.unique_id.nunique())
    except ValueError as exc:
        raise MercatorError(str(exc)) from exc


def _prepare(ws, metric, data, date_col, value_col, by, freq, until=None):
    """The long series to forecast, its KPI and its name; ``until`` cuts the history (a forecast
    as it would have been made on that day)."""
    if data is not None:
        if not value_col:
            raise MercatorError("a file needs --value-col, the column to forecast")
        long, k, name = _series_from_data(data, date_col, value_col, by, freq, ws), KPI(
            value_col, value_col, "sum", "num"), value_col
    elif ws is None or metric is None:
        raise MercatorError("give a workspace KPI (metric) or a file with its date and value columns")
    else:
        (long, k), name = kpi_series(ws, metric, by=by, freq=freq), metric
    if until is not None:
        long = long[long.ds <= pd.Timestamp(until)]
    return long, k, name


def backtest(ws=None, metric: str | None = None, *, data=None, date_col: str = "date", value_col: str | None = None,
             by: str | None = None, horizon: int = 28, freq: str = "D", models: str | tuple[str, ...] = "auto",
             n_windows: int = 3, n_jobs: int = -1, until: str | dt.date | None = None,
             regressors: pd.DataFrame | None = None) -> BacktestResult:
    """Every model's rolling-origin backtest on every series (for a ratio KPI, each part's)."""
    long, k, name = _prepare(ws, metric, data, date_col, value_col, by, freq, until)
    _check_length(long, horizon, n_windows, freq)
    models = _names(models, long)
    tables = {}
    for column in ("num", "den") if k.is_ratio else ("num",):
        _, _, sc, choice, _ = _run(long, column, horizon, freq, models, n_windows, n_jobs, regressors)
        sc["chosen"] = sc.model == sc.unique_id.map(choice)
        tables["scores" if column == "num" else "scores_den"] = sc.assign(part=k.num if column == "num" else k.den)
    sc = tables["scores"]
    best = sc[sc.chosen]
    text = (f"{name}: the chosen model beat seasonal naive on {int((best.rel_mae < 1).sum())} of {len(best)} series "
            f"(median relative MAE {best.rel_mae.median():.2f}); its 80% / 95% intervals held "
            f"{100 * best.coverage_80.mean():.0f}% / {100 * best.coverage_95.mean():.0f}% of the backtest points.")
    return BacktestResult(tables=tables, findings=(Finding(text, metric=name, value=float(best.rel_mae.median())),),
                          params={"metric": name, "by": by, "freq": freq, "horizon": horizon, "n_windows": n_windows,
                                  "models": list(models)})


def forecast(ws=None, metric: str | None = None, *, data=None, date_col: str = "date", value_col: str | None = None,
             by: str | None = None, horizon: int = 28, freq: str = "D", models: str | tuple[str, ...] = "auto",
             n_windows: int = 3, n_jobs: int = -1, history: int = 180, until: str | dt.date | None = None,
             regressors: pd.DataFrame | None = None) -> ForecastResult:
    """Forecast ``metric`` (a KPI of the workspace) or ``value_col`` of a file, per ``by``
    segment, ``horizon`` periods ahead, each series by the model its backtest chose
    (``until``: as if made on that day, for checking a forecast against what happened)."""
    long, k, name = _prepare(ws, metric, data, date_col, value_col, by, freq, until)
    _check_length(long, horizon, n_windows, freq)
    models = _names(models, long)
    part_n, cv_n, sc_n, ch_n, fc_n = _run(long, "num", horizon, freq, models, n_windows, n_jobs, regressors)
    if k.is_ratio:
        _, cv_d, _, ch_d, fc_d = _run(long, "den", horizon, freq, models, n_windows, n_jobs, regressors)
        fc = ratio_band(fc_n, fc_d, k.scale)
        rcv = _ratio_cv(cv_n, cv_d, ch_n, ch_d, k)
        n_obs = int(long.groupby("unique_id").size().min())
        bt = scores(rcv, long.assign(y=k.from_parts(long.num, long.den)).fillna({"y": 0})[["unique_id", "ds", "y"]],
                    ["seasonal_naive", "chosen"], season_length(freq, n_obs - horizon * n_windows))
        bt = bt[bt.model == "chosen"].assign(model=bt.unique_id.map(ch_n) + " / " + bt.unique_id.map(ch_d))
        hist = long.assign(y=k.from_parts(long.num, long.den))[["unique_id", "ds", "y"]]
    else:
        fc = fc_n
        bt = sc_n[sc_n.model == sc_n.unique_id.map(ch_n)]
        hist = part_n
    fc = floor_at_zero(fc, hist)
    breaks = _breaks(hist, freq)
    hist = hist.groupby("unique_id").tail(history).reset_index(drop=True)
    band = fc.groupby("unique_id").head(7 if freq == "D" else 1).reset_index(drop=True)
    findings = _findings(fc, bt, breaks, k, name, freq, horizon)
    return ForecastResult(tables={"forecast": fc, "backtest": bt.reset_index(drop=True), "band": band,
                                  "breaks": breaks, "history": hist},
                          findings=tuple(findings),
                          params={"metric": name, "by": by, "freq": freq, "horizon": horizon, "n_windows": n_windows,
                                  "models": list(models), "ratio": k.is_ratio, "series": int(fc.unique_id.nunique()),
                                  "until": str(until) if until else None,
                                  "regressors": [c for c in regressors.columns if c not in ("ds", "unique_id")]
                                  if regressors is not None else []})


def _breaks(hist: pd.DataFrame, freq: str) -> pd.DataFrame:
    """Level shifts in each series' recent history (explore's detector, daily series only):
    a forecast made across a break leans on the new level only as far as the data after it."""
    from mercator.explore import level_shift

    rows = []
    if freq != "D":
        return pd.DataFrame(columns=["unique_id", "date", "end", "before", "after", "change"])
    for uid, g in hist.groupby("unique_id"):
        s = level_shift(g.set_index("ds")["y"].astype(float))
        if s is not None:
            rows.append({"unique_id": uid, "date": s.date, "end": s.end, "before": s.before, "after": s.after,
                         "change": s.change})
    return pd.DataFrame(rows, columns=["unique_id", "date", "end", "before", "after", "change"])


def _findings(fc, bt, breaks, k: KPI, name: str, freq: str, horizon: int) -> list[Finding]:
    out = []
    unit = "days" if freq == "D" else "weeks"
    for uid, f in list(fc.groupby("unique_id", sort=False))[:20]:
        b = bt[bt.unique_id == uid].iloc[0]
        if k.is_ratio:
            what = (f"{k.label} over the next {horizon} {unit}: {k.format(f['mean'].mean())} on average "
                    f"(95% band of a {unit[:-1]} {k.format(f.lo_95.mean())} to {k.format(f.hi_95.mean())})")
        else:
            what = (f"{k.label} over the next {horizon} {unit}: {k.format(f['mean'].sum())} in total, "
                    f"{k.format(f['mean'].mean())} a {unit[:-1]} (95% band of a {unit[:-1]} {k.format(f.lo_95.mean())} "
                    f"to {k.format(f.hi_95.mean())})")
        rel = b.rel_mae
        how = ("seasonal naive (no model beat it in the backtest)" if b.model == "seasonal_naive" else
               f"{b.model}, backtest error {100 * abs(1 - rel):.0f}% {'below' if rel < 1 else 'above'} seasonal naive's")
        if not pd.isna(b.mase):
            how += f", MASE {b.mase:.2f}"
        out.append(Finding(f"{uid}: {what}; model {how}, 95% intervals held {100 * b.coverage_95:.0f}% of the "
                           "backtest points.", metric=name, segment=str(uid),
                           value=float(f["mean"].sum()), impact=float(abs(f["mean"].sum()))))
    for r in breaks.itertuples():
        until = (f" until {pd.Timestamp(r.end).date()}, then back" if r.end is not None and not pd.isna(r.end)
                 else "; the forecast starts from the new level")
        out.append(Finding(f"{r.unique_id}: break in {name} on {pd.Timestamp(r.date).date()} ({r.change:+.0%}, "
                           f"{r.before:,.4g} to {r.after:,.4g}){until}.", metric=name, segment=str(r.unique_id),
                           impact=1e12))
    return out


def pace(ws, metric: str, *, target: float, end: dt.date | str, start: dt.date | str | None = None,
         by: str | None = None, models: str | tuple[str, ...] = "auto", n_jobs: int = -1,
         until: dt.date | str | None = None, segment: str | None = None) -> ForecastResult:
    """Where ``metric`` lands by ``end`` for the period from ``start`` (default: the first of
    the last data month): what happened so far plus the forecast of the rest, against
    ``target``. The interval adds the forecast's daily bounds, the widest honest choice (daily
    errors are correlated; adding variances would understate it). ``until``: the last day seen
    (the pace as it stood that day; default: the last day with data). ``segment``: only that
    value of ``by``."""
    long, k = kpi_series(ws, metric, by=by, freq="D")
    if until is not None:
        long = long[long.ds <= pd.Timestamp(until)]
    if segment is not None:
        long = long[long.unique_id == segment]
        if long.empty:
            raise MercatorError(f"no {by} {segment!r} in the data to pace {metric} for")
    last = long.ds.max()
    end = pd.Timestamp(end)
    start = pd.Timestamp(start) if start else last.replace(day=1)
    h = int((end - last).days)
    if h < 1:
        raise MercatorError(f"the data already reach {last.date()}; the period ends {end.date()}")
    n_windows = 2
    _check_length(long, h, n_windows, "D")
    models = _names(models, long)
    parts = {}
    for column in ("num", "den") if k.is_ratio else ("num",):
        _, _, _, _, fc = _run(long, column, h, "D", models, n_windows, n_jobs)
        done = long[(long.ds >= start)].groupby("unique_id")[column].sum()
        agg = fc.groupby("unique_id").agg(mean=("mean", "sum"), lo=("lo_95", "sum"), hi=("hi_95", "sum"))
        parts[column] = agg.add(done, axis=0)
    n = parts["num"]
    if k.is_ratio:
        d = parts["den"]
        land = k.from_parts(n["mean"], d["mean"])
        # the ratio's extremes from the parts' bounds
        lo = np.minimum(k.from_parts(n.lo, d.hi), k.from_parts(n.hi, d.lo))
        hi = np.maximum(k.from_parts(n.lo, d.hi), k.from_parts(n.hi, d.lo))
    else:
        land, lo, hi = n["mean"].to_numpy(), n.lo.to_numpy(), n.hi.to_numpy()
    table = pd.DataFrame({"unique_id": n.index, "landing": land, "lo_95": lo, "hi_95": hi, "target": target})
    table["gap"] = table.landing / target - 1
    findings = []
    for r in table.itertuples():
        good = (r.gap <= 0) != k.higher_is_better or r.gap == 0
        findings.append(Finding(
            f"{r.unique_id}: at the current pace, {k.label} for {start.date()} to {end.date()} lands at "
            f"{k.format(r.landing)} ({k.format(r.lo_95)} to {k.format(r.hi_95)}), {abs(r.gap):.0%} "
            f"{'over' if r.gap > 0 else 'under'} the target of {k.format(target)}"
            f"{'' if good else ' - act now'}.", metric=metric, segment=str(r.unique_id), value=float(r.landing),
            interval=(float(r.lo_95), float(r.hi_95)), impact=abs(r.gap)))
    return ForecastResult(tables={"pace": table}, findings=tuple(findings),
                          params={"metric": metric, "target": target, "start": str(start.date()),
                                  "end": str(end.date()), "by": by})

