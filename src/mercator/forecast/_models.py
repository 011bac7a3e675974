"""Forecast models, backtests and the per-series choice (pure: long frames in, frames out).

Every model is statsforecast's, called on all series at once (``StatsForecast`` fits the
series in parallel processes): seasonal naive (the benchmark every model must beat), AutoETS,
AutoARIMA (which also takes event regressors), MSTL (several seasonalities, a daily series'
week and year, with an ETS trend) and a dynamic harmonic regression (Hyndman and
Athanasopoulos, FPP3 section 12.1: AutoARIMA with the week as its season, trend through its
differencing and drift, and the year as one pair of Fourier terms), which learns a yearly
shape from a single year of daily data where MSTL needs two. The frames are statsforecast's long format: ``unique_id``,
``ds``, ``y``, plus regressor columns.

A model is chosen per series by a rolling-origin backtest: ``n_windows`` cut-offs ``h``
periods apart, each model refitted on the history before each cut-off and scored on the next
``h`` periods. The score is the relative MAE, MAE(model) / MAE(seasonal naive) over the same
windows (below 1: the model beats seasonal naive). MASE in Hyndman's sense (scaled by the
in-sample seasonal-naive error) and the empirical coverage of the 80% and 95% intervals are
reported too. Nothing is changed in what statsforecast returns: the forecasts are its numbers.
"""

from __future__ import annotations

import contextlib
import warnings

import numpy as np
import pandas as pd

LEVELS = (80, 95)
SEASON = {"D": 7, "W": 52}
ALIASES = ("seasonal_naive", "auto_ets", "auto_arima", "mstl", "harmonic")
#: Model sets. "full" costs about 0.7 s of CPU per fit of a two-year daily series (AutoETS 0.26 s,
#: the bounded AutoARIMA 0.21 s, the harmonic regression about as much, MSTL 0.03 s); "fast"
#: 0.03 s, for hundreds of series.
PRESETS = {"full": ALIASES, "fast": ("seasonal_naive", "mstl")}
AUTO_FULL_UP_TO = 50  # series; more than this and "auto" uses the fast set
HARMONIC_MIN_DAYS = 365  # the harmonic regression is offered to daily series of at least a year
YEAR = 365.25


def resolve(models: str | tuple[str, ...] | list[str], n_series: int) -> tuple[str, ...]:
    """A model set by name (auto, full, fast) or an explicit list of model names."""
    if isinstance(models, str):
        if models == "auto":
            return PRESETS["full" if n_series <= AUTO_FULL_UP_TO else "fast"]
        if models in PRESETS:
            return PRESETS[models]
        models = [m.strip() for m in models.split(",") if m.strip()]
    unknown = [m for m in models if m not in ALIASES]
    if unknown:
        raise ValueError(f"unknown model(s) {', '.join(unknown)}; models: {', '.join(ALIASES)} or a set: auto, "
                         f"{', '.join(PRESETS)}")
    return tuple(dict.fromkeys(["seasonal_naive", *models]))  # seasonal naive is always the yardstick


def season_length(freq: str, n_obs: int) -> int:
    """The week for daily series, the year for weekly ones; none (1) with under two cycles."""
    return SEASON[freq] if n_obs >= 2 * SEASON[freq] else 1


def model_set(freq: str, n_obs: int, names: tuple[str, ...] = ALIASES) -> list:
    """The statsforecast models for series of ``n_obs`` periods at ``freq`` (D or W)."""
    from statsforecast.models import MSTL, AutoARIMA, AutoETS, SeasonalNaive

    m = season_length(freq, n_obs)
    seasons = [7, 365] if freq == "D" and n_obs >= 2 * 365 + 28 else [m]
    out = []
    for name in names:
        if name == "seasonal_naive":
            out.append(SeasonalNaive(season_length=m, alias=name))
        elif name == "auto_ets":
            out.append(AutoETS(season_length=min(m, 24), alias=name))  # ETS seasons above 24 are not fitted
        elif name == "auto_arima":
            # bounded search: the default one took 3.7 s per two-year daily series here, this 0.21 s
            out.append(AutoARIMA(season_length=m, approximation=True, max_p=2, max_q=2, max_P=1, max_Q=1,
                                 nmodels=20, alias=name))
        elif name == "mstl" and m > 1:
            out.append(MSTL(season_length=seasons, trend_forecaster=AutoETS(model="ZZN"), alias=name))
        elif name == "harmonic" and freq == "D" and n_obs >= HARMONIC_MIN_DAYS:
            # one Fourier pair for the year: on 400-day series two or three pairs overfit (measured:
            # median backtest MASE 0.82 with one pair, 0.85 with two, 1.11 with three)
            out.append(AutoARIMA(season_length=m, approximation=True, max_p=2, max_q=2, max_P=1, max_Q=1,
                                 nmodels=20, alias=name))
        elif name not in ALIASES:
            raise ValueError(f"unknown model {name!r}; models: {', '.join(ALIASES)}")
    return out


def _sf(models: list, freq: str, n_jobs: int):
    from statsforecast import StatsForecast

    return StatsForecast(models=models, freq="W-MON" if freq == "W" else freq, n_jobs=n_jobs)


@contextlib.contextmanager
def _quiet():
    """statsforecast's ARIMA warns on every optimizer hiccup of every candidate model; the
    backtest judges the models instead. Worker processes are forked, so they inherit this."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module="statsforecast")
        warnings.filterwarnings("ignore", category=RuntimeWarning, module="statsforecast")
        yield


def yearly_terms(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the year's first Fourier pair, from the calendar date (so history and
    future get the same phase), for the harmonic regression."""
    angle = 2 * np.pi * (pd.to_datetime(frame.ds) - pd.Timestamp("2000-01-01")).dt.days.to_numpy() / YEAR
    return frame.assign(year_sin=np.sin(angle), year_cos=np.cos(angle))


def _split(models: list) -> tuple[list, list]:
    """The models that take the yearly terms (the harmonic regression) and the others."""
    return [m for m in models if m.alias == "harmonic"], [m for m in models if m.alias != "harmonic"]


def cross_validate(long: pd.DataFrame, h: int, freq: str, models: list, n_windows: int = 3, n_jobs: int = -1
                   ) -> pd.DataFrame:
    """statsforecast's rolling-origin cross-validation with 80% and 95% intervals. The harmonic
    regression runs on the same windows with the yearly terms added; the others never see them."""
    harmonic, plain = _split(models)
    keys = ["unique_id", "ds", "cutoff", "y"]
    with _quiet():
        cv = _sf(plain, freq, n_jobs).cross_validation(df=long, h=h, n_windows=n_windows, step_size=h,
                                                       level=list(LEVELS))
        if harmonic:
            hv = _sf(harmonic, freq, n_jobs).cross_validation(df=yearly_terms(long), h=h, n_windows=n_windows,
                                                              step_size=h, level=list(LEVELS))
            cv = cv.merge(hv, on=keys, how="left")
    return cv


def scores(cv: pd.DataFrame, long: pd.DataFrame, names: list[str], m: int) -> pd.DataFrame:
    """Per series and model: MAE, relative MAE against seasonal naive, MASE (seasonal lag
    ``m``) and interval coverage over the backtest windows."""
    first_cut = cv.groupby("unique_id")["cutoff"].min()
    hist = long.merge(first_cut.rename("cut"), left_on="unique_id", right_index=True)
    hist = hist[hist.ds <= hist.cut].sort_values(["unique_id", "ds"])
    # Hyndman's scale: the in-sample mean absolute error of the seasonal naive forecast (lag m)
    scale = hist.groupby("unique_id")["y"].apply(
        lambda y: np.mean(np.abs(y.to_numpy()[m:] - y.to_numpy()[:-m])) if len(y) > m else np.nan)
    rows = []
    for name in names:
        err = (cv["y"] - cv[name]).abs()
        g = pd.DataFrame({"unique_id": cv.unique_id, "err": err,
                          "in80": (cv.y >= cv[f"{name}-lo-80"]) & (cv.y <= cv[f"{name}-hi-80"]),
                          "in95": (cv.y >= cv[f"{name}-lo-95"]) & (cv.y <= cv[f"{name}-hi-95"])})
        agg = g.groupby("unique_id").agg(mae=("err", "mean"), coverage_80=("in80", "mean"),
                                         coverage_95=("in95", "mean"), points=("err", "size"))
        rows.append(agg.assign(model=name))
    out = pd.concat(rows).reset_index()
    naive = out[out.model == "seasonal_naive"].set_index("unique_id")["mae"]
    out["rel_mae"] = out["mae"] / out["unique_id"].map(naive)
    out["mase"] = out["mae"] / out["unique_id"].map(scale)
    return out[["unique_id", "model", "mae", "rel_mae", "mase", "coverage_80", "coverage_95", "points"]]


def choose(score: pd.DataFrame) -> pd.Series:
    """The model with the lowest backtest MAE per series (the simpler model on a tie, in the
    order of ALIASES)."""
    rank = {n: i for i, n in enumerate(ALIASES)}
    s = score.assign(_r=score.model.map(rank)).sort_values(["unique_id", "mae", "_r"])
    return s.drop_duplicates("unique_id").set_index("unique_id")["model"]


def forecast(long: pd.DataFrame, h: int, freq: str, choice: pd.Series, models: list, n_jobs: int = -1,
             future_x: pd.DataFrame | None = None) -> pd.DataFrame:
    """Each series forecast by its chosen model: ``unique_id, ds, model, mean, lo_80, hi_80,
    lo_95, hi_95``. Series are grouped by model, so each model is fitted once per series."""
    by_name = {m.alias: m for m in models}
    parts = []
    for name, ids in choice.groupby(choice).groups.items():
        part = long[long.unique_id.isin(ids)]
        x = None if future_x is None else future_x[future_x.unique_id.isin(ids)]
        if name == "harmonic":
            if x is None:
                last = part.groupby("unique_id").ds.max()
                x = pd.DataFrame([(u, d + pd.Timedelta(days=i)) for u, d in last.items() for i in range(1, h + 1)],
                                 columns=["unique_id", "ds"])
            part, x = yearly_terms(part), yearly_terms(x)
        with _quiet():
            fc = _sf([by_name[name]], freq, n_jobs).forecast(df=part, h=h, level=list(LEVELS), X_df=x)
        parts.append(pd.DataFrame({
            "unique_id": fc["unique_id"], "ds": fc["ds"], "model": name, "mean": fc[name],
            "lo_80": fc[f"{name}-lo-80"], "hi_80": fc[f"{name}-hi-80"],
            "lo_95": fc[f"{name}-lo-95"], "hi_95": fc[f"{name}-hi-95"]}))
    return pd.concat(parts, ignore_index=True).sort_values(["unique_id", "ds"], ignore_index=True)


def ratio_band(num: pd.DataFrame, den: pd.DataFrame, scale: float = 1.0) -> pd.DataFrame:
    """A ratio KPI from the forecasts of its numerator and denominator: the ratio of the means,
    and intervals by the delta method from each part's interval (normal errors, taken as
    independent: numerator and denominator errors usually move together, so the band is on the
    wide side)."""
    from scipy.stats import norm

    j = num.merge(den, on=["unique_id", "ds"], suffixes=("_n", "_d"))
    r = j.mean_n / j.mean_d.where(j.mean_d != 0) * scale
    out = pd.DataFrame({"unique_id": j.unique_id, "ds": j.ds, "model": j.model_n + " / " + j.model_d, "mean": r})
    for lv in LEVELS:
        z = norm.ppf(0.5 + lv / 200)
        sn = (j[f"hi_{lv}_n"] - j[f"lo_{lv}_n"]) / (2 * z)
        sd = (j[f"hi_{lv}_d"] - j[f"lo_{lv}_d"]) / (2 * z)
        se = np.abs(r) * np.sqrt((sn / j.mean_n.where(j.mean_n != 0)) ** 2 + (sd / j.mean_d.where(j.mean_d != 0)) ** 2)
        # a ratio of two non-negative sums is not negative
        out[f"lo_{lv}"], out[f"hi_{lv}"] = (r - z * se).clip(lower=0), r + z * se
    return out


__all__ = [
    "ALIASES",
    "LEVELS",
    "PRESETS",
    "SEASON",
    "choose",
    "cross_validate",
    "forecast",
    "model_set",
    "ratio_band",
    "resolve",
    "scores",
    "season_length",
    "yearly_terms",
]
