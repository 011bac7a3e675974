"""Driver regression, the pure part: how a KPI moves with spend, season, device and channel mix.

Two models answer the same question so that each checks the other: gradient boosting
(LightGBM, which finds curves and interactions on its own) and a regularized linear model
(ridge on one-hot categories, log spend and standardized numbers, which extrapolates
calmly and is easy to read). They are compared by time-ordered cross-validation: every
fold trains on the periods before the ones it is scored on, all rows of a period on the
same side, as a forecast would be used. The better one (lower mean absolute error) speaks
first; both are refitted on all rows and read through partial dependence (how the
prediction moves with one driver while the others keep their observed values) and
permutation importance (how much worse the fold predictions get when a driver is
shuffled), both from scikit-learn.

Ratio KPIs (CPC, CPA...) are fitted, scored and averaged with the denominator as the
weight (clicks for CPC), so a row with 3 clicks counts less than one with 3,000 and the
averages are the KPI's own definition (total cost over total clicks), not a mean of ratios.
"""

from __future__ import annotations

from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.inspection import partial_dependence, permutation_importance
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import TimeSeriesSplit
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, OrdinalEncoder, StandardScaler

from mercator._lightgbm import threads

MODELS = ("lightgbm", "ridge")
#: Calendar features, categorical in both models (one-hot for ridge, category splits for LightGBM).
CALENDAR = ("day_of_week", "month")
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class Design:
    """The columns of a driver frame by role: ``spend`` (log for ridge), other ``numeric``
    columns (mix shares, the user's own features) and ``categorical`` ones (segments, calendar)."""

    spend: tuple[str, ...]
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]

    @property
    def features(self) -> list[str]:
        return [*self.spend, *self.numeric, *self.categorical]


def make_model(name: str, d: Design, seed: int = 0) -> Pipeline:
    """An unfitted pipeline from the frame's raw columns to the KPI."""
    if name == "ridge":
        prep = ColumnTransformer([
            ("spend", make_pipeline(FunctionTransformer(np.log1p, feature_names_out="one-to-one"), StandardScaler()),
             list(d.spend)),
            ("num", StandardScaler(), list(d.numeric)),
            ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), list(d.categorical)),
        ])
        return Pipeline([("prep", prep), ("model", RidgeCV(alphas=np.logspace(-3, 3, 13)))])
    if name == "lightgbm":
        prep = ColumnTransformer([
            ("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1), list(d.categorical)),
            ("num", "passthrough", [*d.spend, *d.numeric]),
        ])
        # small leaves and many rows per leaf: marketing panels are short and noisy
        model = lgb.LGBMRegressor(n_estimators=300, learning_rate=0.05, num_leaves=15, min_child_samples=20,
                                  subsample=0.8, subsample_freq=1, colsample_bytree=0.9, random_state=seed,
                                  verbose=-1)
        return Pipeline([("prep", prep), ("model", model)])
    raise ValueError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")


def fit_model(pipe: Pipeline, X: pd.DataFrame, y: np.ndarray, w: np.ndarray, d: Design) -> Pipeline:
    kw = {"model__sample_weight": w}
    if isinstance(pipe.named_steps["model"], lgb.LGBMRegressor):
        kw["model__categorical_feature"] = list(range(len(d.categorical)))
        pipe.set_params(model__n_jobs=threads(len(X)))
    return pipe.fit(X, y, **kw)


def time_folds(periods: pd.Series, n_splits: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Row masks (train, test) of ``n_splits`` time-ordered folds over the distinct periods:
    scikit-learn's TimeSeriesSplit on the calendar, so one period never sits on both sides."""
    cal = np.sort(periods.unique())
    out = []
    for tr, te in TimeSeriesSplit(n_splits=n_splits).split(cal):
        out.append((periods.isin(cal[tr]).to_numpy(), periods.isin(cal[te]).to_numpy()))
    return out


def _wmean(x: np.ndarray, w: np.ndarray) -> float:
    return float(np.sum(w * x) / np.sum(w))


def _score(y: np.ndarray, p: np.ndarray, w: np.ndarray) -> dict[str, float]:
    err = y - p
    sst = np.sum(w * (y - _wmean(y, w)) ** 2)
    return {"mae": _wmean(np.abs(err), w), "rmse": float(np.sqrt(_wmean(err ** 2, w))),
            "r2": float(1 - np.sum(w * err ** 2) / sst) if sst > 0 else float("nan")}


def _baseline(frame: pd.DataFrame, y: np.ndarray, w: np.ndarray, train: np.ndarray, test: np.ndarray,
              segments: list[str]) -> np.ndarray:
    """The training rows' weighted mean per segment (overall for a segment unseen in training):
    the bar any driver model must clear."""
    overall = _wmean(y[train], w[train])
    if not segments:
        return np.full(int(test.sum()), overall)
    code = frame.groupby(segments, sort=False, dropna=False).ngroup().to_numpy()
    n = int(code.max()) + 1
    yw = np.bincount(code[train], weights=y[train] * w[train], minlength=n)
    ws = np.bincount(code[train], weights=w[train], minlength=n)
    means = np.divide(yw, ws, out=np.full(n, overall), where=ws > 0)
    return means[code[test]]


def cross_validate(frame: pd.DataFrame, y: np.ndarray, w: np.ndarray, d: Design, periods: pd.Series,
                   n_splits: int, segments: list[str], seed: int = 0) -> tuple[pd.DataFrame, dict]:
    """Scores per fold and model (and the segment-mean baseline), and the last fold's fitted
    models with its test rows (for permutation importance)."""
    rows, last = [], {}
    X = frame[d.features]
    for i, (tr, te) in enumerate(time_folds(periods, n_splits)):
        span = {"fold": i + 1, "n_train": int(tr.sum()), "n_test": int(te.sum()),
                "test_start": periods[te].min().date(), "test_end": periods[te].max().date()}
        rows.append({**span, "model": "segment_mean",
                     **_score(y[te], _baseline(frame, y, w, tr, te, segments), w[te])})
        for name in MODELS:
            pipe = fit_model(make_model(name, d, seed), X[tr], y[tr], w[tr], d)
            rows.append({**span, "model": name, **_score(y[te], pipe.predict(X[te]), w[te])})
            last[name] = pipe
        last["test"] = te
    return pd.DataFrame(rows), last


def summarize(cv: pd.DataFrame) -> pd.DataFrame:
    """Mean scores per model over the folds, the error relative to the segment-mean baseline,
    and which model is chosen (the lowest mean absolute error)."""
    s = cv.groupby("model", sort=False)[["mae", "rmse", "r2"]].mean()
    s["rel_mae"] = s.mae / s.loc["segment_mean", "mae"]
    s["wins"] = cv.pivot(index="fold", columns="model", values="mae")[list(MODELS)].idxmin(axis=1) \
        .value_counts().reindex(s.index).fillna(0).astype(int)
    s["chosen"] = s.index == s.loc[list(MODELS), "mae"].idxmin()
    return s.reset_index()


def importance(pipe: Pipeline, X: pd.DataFrame, y: np.ndarray, w: np.ndarray, seed: int = 0) -> pd.DataFrame:
    """Permutation importance on held-out rows: the rise of the weighted MAE when one driver
    is shuffled (mean and spread of 5 shuffles)."""
    r = permutation_importance(pipe, X, y, scoring="neg_mean_absolute_error", n_repeats=5, random_state=seed,
                               sample_weight=w)
    return pd.DataFrame({"feature": X.columns, "importance": r.importances_mean, "std": r.importances_std}) \
        .sort_values("importance", ascending=False, ignore_index=True)


def dependence(pipe: Pipeline, X: pd.DataFrame, w: np.ndarray, d: Design, features: list[str],
               grid: int = 20) -> pd.DataFrame:
    """Partial dependence of the prediction on each feature (weighted average over ``X``):
    numbers on ``grid`` points between their 5th and 95th percentiles, categories per level."""
    out = []
    for f in features:
        cat = f in d.categorical
        r = partial_dependence(pipe, X, [f], sample_weight=w, categorical_features=[f] if cat else None,
                               grid_resolution=grid, kind="average", method="brute")
        values = r["grid_values"][0]
        out.append(pd.DataFrame({"feature": f, "value": values.astype(str) if cat else values.astype(float),
                                 "prediction": r["average"][0], "categorical": cat}))
    return pd.concat(out, ignore_index=True)


def effect(dep: pd.DataFrame, frame: pd.DataFrame, w: np.ndarray, feature: str) -> dict:
    """How the prediction moves with one driver, from its partial dependence. Numbers: the
    predictions at the driver's weighted 10th and 90th percentiles and the change between
    them (as an elasticity for spend: % change of the KPI per 1% more spend). Categories:
    the lowest and highest level."""
    g = dep[dep.feature == feature]
    if bool(g.categorical.iloc[0]):
        g = g.sort_values("prediction")
        return {"feature": feature, "kind": "categorical", "low": str(g.value.iloc[0]),
                "high": str(g.value.iloc[-1]), "at_low": float(g.prediction.iloc[0]),
                "at_high": float(g.prediction.iloc[-1]), "levels": dict(zip(g.value.astype(str), g.prediction))}
    x = frame[feature].to_numpy(float)
    order = np.argsort(x)
    cw = np.cumsum(w[order]) / w.sum()
    lo, hi = (float(x[order][np.searchsorted(cw, q)]) for q in (0.1, 0.9))
    grid, pred = g.value.to_numpy(float), g.prediction.to_numpy(float)
    at_lo, at_hi = float(np.interp(lo, grid, pred)), float(np.interp(hi, grid, pred))
    elasticity = (np.log(at_hi / at_lo) / np.log(hi / lo) if min(lo, at_lo, at_hi) > 0 and hi > lo
                  else float("nan"))
    return {"feature": feature, "kind": "numeric", "low": lo, "high": hi, "at_low": at_lo, "at_high": at_hi,
            "elasticity": float(elasticity)}


__all__ = ["CALENDAR", "DAY_NAMES", "MODELS", "Design", "cross_validate", "dependence", "effect", "fit_model", "importance",
           "make_model", "summarize", "time_folds"]
