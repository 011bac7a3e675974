"""Propensity models: pure computation on pandas frames (no I/O).

LightGBM (gradient-boosted trees) against a logistic-regression baseline. The split is
time-ordered when the rows have a time order (the first 60% train, the next 20% validate,
the last 20% test), otherwise random and stratified in the same shares. The validation rows
serve early stopping, calibration (Platt scaling on the log-odds: monotone, so the ranking
and the AUC are kept; isotonic steps would tie scores) and the decision threshold.
Explanations are TreeSHAP values, which LightGBM computes itself (``pred_contrib``), so no
extra package is needed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.calibration import calibration_curve
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    brier_score_loss,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mercator._lightgbm import threads
from mercator.target._bootstrap import bootstrap

#: A single feature that alone reaches this ROC AUC is reported as a likely leak.
LEAK_AUC = 0.8
#: The logistic baseline and the single-feature leakage screen use at most this many training
#: rows: a few dozen coefficients, or one AUC, are pinned down far below the differences that
#: matter (AUC standard error ~0.001), and at 600,000 rows they cost 8.6 s of a 21 s fit.
SCREEN_ROWS = 200_000


def prepare_features(frame: pd.DataFrame, categories: dict[str, list] | None = None) -> tuple[pd.DataFrame, dict]:
    """Numbers as float, everything else as a pandas category (levels fixed at training)."""
    out, cats = pd.DataFrame(index=frame.index), {}
    for c in frame.columns:
        col = frame[c]
        known = None if categories is None else categories.get(c)
        if known is None and (categories is not None or pd.api.types.is_numeric_dtype(col) or
                              pd.api.types.is_bool_dtype(col)):
            out[c] = pd.to_numeric(col, errors="coerce").astype(float)
        else:
            levels = known if known is not None else sorted(col.dropna().astype(str).unique())
            out[c] = pd.Categorical(col.astype("string").astype(object).where(col.notna()), categories=levels)
            cats[c] = list(levels)
    return out, (cats if categories is None else categories)


_ID_NAME = re.compile(r"(^|_)id$|^id_|[a-z]Id$|ID$|(^|_)(uuid|guid|key)$")


def screen_columns(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int], dict[str, int]]:
    """Columns as an analyst means them, before they become features.

    - Text columns whose every non-blank cell is a number are numbers: blank or whitespace
      cells (" " in a spreadsheet export) are missing values, not a category of their own.
    - Identifiers are left out: text columns with a distinct value in (nearly) every row, and
      columns named like ids (``customer_id``, ``customerID``, ``id``) with mostly distinct
      values. As features they only memorize rows (and look like leakage).

    Returns the frame, ``{column: blank cells}`` for the columns read as numbers, and
    ``{column: distinct values}`` for the identifiers left out.
    """
    out, blanks, ids = frame.copy(deep=False), {}, {}
    n = len(frame)
    for c in frame.columns:
        col = frame[c]
        if col.dtype == object or pd.api.types.is_string_dtype(col):
            text = col.astype("string").str.strip()
            blank = text.isna() | (text == "")
            num = pd.to_numeric(text.where(~blank), errors="coerce")
            if (~blank).any() and num[~blank].notna().all():
                out[c] = num.astype(float)
                if int((blank & col.notna()).sum()):
                    blanks[c] = int((blank & col.notna()).sum())
                continue
        distinct = int(col.nunique(dropna=True))
        texty = not pd.api.types.is_numeric_dtype(out[c]) and not pd.api.types.is_bool_dtype(out[c])
        if n >= 50 and ((texty and distinct >= 0.95 * n) or (_ID_NAME.search(str(c)) and distinct >= 0.5 * n)):
            ids[c] = distinct
            out = out.drop(columns=c)
    return out, blanks, ids


def split_rows(y: np.ndarray, ordered: bool, seed: int = 0, train: float = 0.6,
               valid: float = 0.2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row indices of train, validation and test: in order, or random and stratified by the label."""
    n = len(y)
    if ordered:
        a, b = int(n * train), int(n * (train + valid))
        return np.arange(a), np.arange(a, b), np.arange(b, n)
    rng = np.random.default_rng(seed)
    parts: list[list[np.ndarray]] = [[], [], []]
    for label in (0, 1):
        idx = rng.permutation(np.flatnonzero(y == label))
        a, b = int(len(idx) * train), int(len(idx) * (train + valid))
        for i, chunk in enumerate((idx[:a], idx[a:b], idx[b:])):
            parts[i].append(chunk)
    tr, va, te = (np.sort(np.concatenate(p)) for p in parts)
    return tr, va, te


class Platt:
    """Calibration by a logistic regression on the model's log-odds."""

    def fit(self, p: np.ndarray, y: np.ndarray) -> Platt:
        self.lr = LogisticRegression(C=1e6).fit(_logit(p)[:, None], y)
        return self

    def predict(self, p: np.ndarray) -> np.ndarray:
        return self.lr.predict_proba(_logit(p)[:, None])[:, 1]


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return np.log(p / (1 - p))


def capped(rows: np.ndarray, seed: int, limit: int = SCREEN_ROWS) -> np.ndarray:
    """``rows`` itself, or a sorted random ``limit`` of them."""
    if len(rows) <= limit:
        return rows
    return np.sort(np.random.default_rng(seed).choice(rows, limit, replace=False))


def single_feature_auc(x: pd.DataFrame, y: np.ndarray) -> pd.Series:
    """Each feature's ROC AUC on its own (categories by their mean label), folded to >= 0.5."""
    out = {}
    for c in x.columns:
        v = x[c]
        if isinstance(v.dtype, pd.CategoricalDtype):
            v = pd.Series(y, index=x.index).groupby(v, observed=True).transform("mean")
        v = v.astype(float).fillna(v.astype(float).median())
        if v.nunique() > 1:
            a = roc_auc_score(y, v)
            out[c] = max(a, 1 - a)
    return pd.Series(out).sort_values(ascending=False)


@dataclass
class Trained:
    """Everything scoring needs: the booster, the calibrator, the baseline and the feature set-up."""

    booster: lgb.Booster
    calibrator: Platt
    baseline: object
    features: list[str]
    categories: dict[str, list]
    threshold: float
    metrics: dict = field(default_factory=dict)

    def raw(self, x: pd.DataFrame) -> np.ndarray:
        return self.booster.predict(x[self.features], num_iteration=self.booster.best_iteration or None)

    def predict(self, x: pd.DataFrame) -> np.ndarray:
        """Calibrated probabilities."""
        return self.calibrator.predict(self.raw(x))

    def shap(self, x: pd.DataFrame) -> pd.DataFrame:
        """TreeSHAP contributions (log-odds) per row and feature; the last column is the base value."""
        v = self.booster.predict(x[self.features], pred_contrib=True, num_iteration=self.booster.best_iteration or None)
        return pd.DataFrame(v, columns=[*self.features, "_base"], index=x.index)


def _baseline(x: pd.DataFrame, y: np.ndarray, seed: int):
    num = [c for c in x.columns if not isinstance(x[c].dtype, pd.CategoricalDtype)]
    cat = [c for c in x.columns if c not in num]
    pre = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), num),
        ("cat", make_pipeline(SimpleImputer(strategy="constant", fill_value="(missing)"),
                              OneHotEncoder(handle_unknown="ignore", min_frequency=20)), cat)])
    model = make_pipeline(pre, LogisticRegression(max_iter=2000, random_state=seed))
    xc = x.copy()
    for c in cat:
        xc[c] = xc[c].astype(object)
    return model.fit(xc, y)


def _baseline_predict(model, x: pd.DataFrame) -> np.ndarray:
    xc = x.copy()
    for c in xc.columns:
        if isinstance(xc[c].dtype, pd.CategoricalDtype):
            xc[c] = xc[c].astype(object)
    return model.predict_proba(xc)[:, 1]


def evaluate(y: np.ndarray, p: np.ndarray, threshold: float) -> dict:
    pred = p >= threshold
    return {"roc_auc": roc_auc_score(y, p), "pr_auc": average_precision_score(y, p), "brier": brier_score_loss(y, p),
            "accuracy": accuracy_score(y, pred), "precision": precision_score(y, pred, zero_division=0),
            "recall": recall_score(y, pred), "f1": f1_score(y, pred), "threshold": threshold,
            "positive_rate": float(np.mean(y)), "rows": len(y)}


def gains(y: np.ndarray, p: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Response rate, lift and cumulative share of positives captured, by score decile (1 = top)."""
    order = np.argsort(-p, kind="stable")
    ys = y[order]
    dec = np.arange(len(ys)) * bins // len(ys) + 1
    g = pd.DataFrame({"decile": dec, "y": ys}).groupby("decile")["y"].agg(["size", "sum"]).reset_index()
    g.columns = ["decile", "rows", "positives"]
    g["response_rate"] = g["positives"] / g["rows"]
    g["lift"] = g["response_rate"] / y.mean()
    g["cumulative_gain"] = g["positives"].cumsum() / y.sum()
    return g


def f1_best_threshold(y: np.ndarray, p: np.ndarray) -> float:
    """The threshold with the best F1 among 100 quantiles of ``p`` from the median up: counts at
    every threshold from one sort (one ``f1_score`` call per threshold took a second at 300,000 rows)."""
    grid = np.unique(np.quantile(p, np.linspace(0.5, 0.995, 100)))
    order = np.argsort(p, kind="stable")
    ps, pos = p[order], np.cumsum(y[order][::-1])[::-1]  # positives at or above each sorted position
    first = np.searchsorted(ps, grid, side="left")  # rows with p >= t start here
    flagged = len(p) - first
    tp = np.where(first < len(p), pos[np.minimum(first, len(p) - 1)], 0)
    f1 = 2 * tp / (flagged + y.sum())
    return float(grid[np.argmax(f1)])


def train(x: pd.DataFrame, y: np.ndarray, *, ordered: bool = False, seed: int = 0, threshold: float | None = None
          ) -> tuple[Trained, dict]:
    """Fit on a time-ordered (``ordered``) or stratified random split; the model and evaluation tables."""
    tr, va, te = split_rows(y, ordered, seed)
    params = {"objective": "binary", "learning_rate": 0.05, "num_leaves": 31, "min_child_samples": 50,
              "feature_fraction": 0.9, "bagging_fraction": 0.9, "bagging_freq": 1, "seed": seed,
              "deterministic": True, "num_threads": threads(len(tr)), "verbose": -1}
    dtrain = lgb.Dataset(x.iloc[tr], y[tr], categorical_feature="auto", free_raw_data=False)
    dvalid = lgb.Dataset(x.iloc[va], y[va], reference=dtrain)
    booster = lgb.train(params, dtrain, num_boost_round=2000, valid_sets=[dvalid],
                        callbacks=[lgb.early_stopping(50, verbose=False)])
    raw_valid = booster.predict(x.iloc[va], num_iteration=booster.best_iteration)
    calibrator = Platt().fit(raw_valid, y[va])
    sub = capped(tr, seed)
    baseline = _baseline(x.iloc[sub], y[sub], seed)
    model = Trained(booster, calibrator, baseline, list(x.columns), {}, 0.5)
    p_valid = calibrator.predict(raw_valid)
    if threshold is None:
        threshold = f1_best_threshold(y[va], p_valid)
    model.threshold = threshold
    xt, yt = x.iloc[te], y[te]
    p_raw = model.raw(xt)
    p_test = calibrator.predict(p_raw)
    p_base = _baseline_predict(baseline, xt)
    metrics = pd.DataFrame([
        {"model": "lightgbm", **evaluate(yt, p_test, threshold)},
        {"model": "lightgbm_uncalibrated", **evaluate(yt, p_raw, threshold)},
        {"model": "logistic_baseline", **evaluate(yt, p_base, threshold)}])
    frac, mean_p = calibration_curve(yt, p_test, n_bins=10, strategy="quantile")
    frac_raw, mean_raw = calibration_curve(yt, p_raw, n_bins=10, strategy="quantile")
    # global importance from a sample of the test rows: TreeSHAP costs ~0.4 ms a row, and 5,000
    # rows rank the features as well as all of them
    sample = np.random.default_rng(seed).choice(len(xt), min(len(xt), 5000), replace=False)
    shap = model.shap(xt.iloc[np.sort(sample)])
    importance = shap.drop(columns="_base").abs().mean().sort_values(ascending=False)
    tables = {
        "metrics": metrics,
        "uncertainty": bootstrap(yt, {"logistic_baseline": p_base, "lightgbm": p_test}, seed=seed),
        "gains": gains(yt, p_test).assign(model="lightgbm").pipe(
            lambda g: pd.concat([g, gains(yt, p_base).assign(model="logistic_baseline")], ignore_index=True)),
        "calibration": pd.concat([pd.DataFrame({"predicted": mean_p, "observed": frac, "model": "lightgbm"}),
                                  pd.DataFrame({"predicted": mean_raw, "observed": frac_raw,
                                                "model": "lightgbm_uncalibrated"})], ignore_index=True),
        "importance": pd.DataFrame({"feature": importance.index, "mean_abs_shap": importance.to_numpy(),
                                    "share": (importance / importance.sum()).to_numpy()}),
        "split": pd.DataFrame({"part": ["train", "validation", "test"], "rows": [len(tr), len(va), len(te)],
                               "positive_rate": [y[tr].mean(), y[va].mean(), y[te].mean()]}),
    }
    model.metrics = metrics.set_index("model").to_dict(orient="index")
    return model, tables


__all__ = [
    "LEAK_AUC",
    "SCREEN_ROWS",
    "Platt",
    "Trained",
    "capped",
    "evaluate",
    "f1_best_threshold",
    "gains",
    "prepare_features",
    "single_feature_auc",
    "split_rows",
    "train",
]
