"""Uplift modelling and its evaluation: pure NumPy / LightGBM, no I/O.

Learners (Kunzel et al. 2019 for T and X; Jaskowski and Jaroszewicz 2012 for the class
transformation) on LightGBM. The curves and scores follow scikit-uplift's definitions
(uplift and Qini curves at each distinct score, AUUC and Qini coefficient normalized between
random and perfect ordering, uplift@k over the top k of all rows) and are tested equal to
it; they are written here because scikit-uplift (last release 2022) calls scikit-learn
functions that scikit-learn 1.10 removes.
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd

from mercator._lightgbm import threads

LEARNERS = ("t_learner", "x_learner", "class_transformation")


def _clf(seed: int, rows: int) -> lgb.LGBMClassifier:
    return lgb.LGBMClassifier(n_estimators=200, learning_rate=0.05, num_leaves=15, min_child_samples=100,
                              subsample=0.9, subsample_freq=1, colsample_bytree=0.9, random_state=seed,
                              n_jobs=threads(rows), verbose=-1)


def _reg(seed: int, rows: int) -> lgb.LGBMRegressor:
    return lgb.LGBMRegressor(n_estimators=200, learning_rate=0.05, num_leaves=15, min_child_samples=100,
                             subsample=0.9, subsample_freq=1, colsample_bytree=0.9, random_state=seed,
                             n_jobs=threads(rows), verbose=-1)


class UpliftModel:
    """One learner: ``fit(x, y, t)``, then ``predict(x)`` gives the estimated uplift per row."""

    def __init__(self, learner: str, seed: int = 0) -> None:
        if learner not in LEARNERS:
            raise ValueError(f"learner must be one of {', '.join(LEARNERS)}; got {learner!r}")
        self.learner, self.seed = learner, seed

    def fit(self, x: pd.DataFrame, y: np.ndarray, t: np.ndarray) -> UpliftModel:
        tr, ct = t == 1, t == 0
        self.p_treated = float(t.mean())
        if self.learner in ("t_learner", "x_learner"):
            self.m1 = _clf(self.seed, int(tr.sum())).fit(x[tr], y[tr])
            self.m0 = _clf(self.seed, int(ct.sum())).fit(x[ct], y[ct])
        if self.learner == "x_learner":  # imputed effects, regressed per arm, blended by the propensity
            d1 = y[tr] - self.m0.predict_proba(x[tr])[:, 1]
            d0 = self.m1.predict_proba(x[ct])[:, 1] - y[ct]
            self.tau1 = _reg(self.seed, int(tr.sum())).fit(x[tr], d1)
            self.tau0 = _reg(self.seed, int(ct.sum())).fit(x[ct], d0)
        if self.learner == "class_transformation":  # z = 1 for treated buyers and untreated non-buyers
            z = (y * t + (1 - y) * (1 - t)).astype(int)
            w = np.where(tr, 0.5 / self.p_treated, 0.5 / (1 - self.p_treated))  # as if assigned 50/50
            self.mz = _clf(self.seed, len(x)).fit(x, z, sample_weight=w)
        return self

    def predict(self, x: pd.DataFrame) -> np.ndarray:
        if self.learner == "t_learner":
            return self.m1.predict_proba(x)[:, 1] - self.m0.predict_proba(x)[:, 1]
        if self.learner == "x_learner":
            g = self.p_treated
            return g * self.tau0.predict(x) + (1 - g) * self.tau1.predict(x)
        return 2 * self.mz.predict_proba(x)[:, 1] - 1


# -- evaluation ------------------------------------------------------------------------------

def _cumulative(y: np.ndarray, score: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, ...]:
    order = np.argsort(score, kind="mergesort")[::-1]
    y, s, t = y[order], score[order], t[order]
    cut = np.r_[np.flatnonzero(np.diff(s)), len(y) - 1]  # the last row of each distinct score
    n_all = cut + 1
    n_t = np.cumsum(t)[cut]
    n_c = n_all - n_t
    y_t = np.cumsum(y * t)[cut]
    y_c = np.cumsum(y * (1 - t))[cut]
    return n_all, n_t, n_c, y_t, y_c


def uplift_curve(y: np.ndarray, score: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows targeted, (treated rate - control rate) x rows), from 0."""
    n_all, n_t, n_c, y_t, y_c = _cumulative(y, score, t)
    with np.errstate(divide="ignore", invalid="ignore"):
        v = (np.divide(y_t, n_t, out=np.zeros(len(n_t)), where=n_t > 0)
             - np.divide(y_c, n_c, out=np.zeros(len(n_c)), where=n_c > 0)) * n_all
    return np.r_[0, n_all], np.r_[0, v]


def qini_curve(y: np.ndarray, score: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows targeted, treated responders - control responders scaled to the treated count), from 0."""
    n_all, n_t, n_c, y_t, y_c = _cumulative(y, score, t)
    v = y_t - np.divide(y_c * n_t, n_c, out=np.zeros(len(n_c)), where=n_c > 0)
    return np.r_[0, n_all], np.r_[0, v]


def _perfect_uplift_score(y: np.ndarray, t: np.ndarray) -> np.ndarray:
    responders_treated = np.sum((y == 1) & (t == 1))
    nonresponders_control = np.sum((y == 0) & (t == 0))
    summand = y if responders_treated > nonresponders_control else t
    return 2 * (y == t) + summand


def _normalized_area(curve, y: np.ndarray, score: np.ndarray, t: np.ndarray, perfect_score: np.ndarray) -> float:
    x_a, v_a = curve(y, score, t)
    x_p, v_p = curve(y, perfect_score, t)
    baseline = np.trapezoid([0, v_p[-1]], [0, x_p[-1]])
    return float((np.trapezoid(v_a, x_a) - baseline) / (np.trapezoid(v_p, x_p) - baseline))


def auuc(y: np.ndarray, score: np.ndarray, t: np.ndarray) -> float:
    """Area under the uplift curve, 0 for random ordering and 1 for the perfect one."""
    return _normalized_area(uplift_curve, y, score, t, _perfect_uplift_score(y, t))


def qini_coefficient(y: np.ndarray, score: np.ndarray, t: np.ndarray) -> float:
    """Area under the Qini curve, 0 for random and 1 for the perfect ordering (negative effects allowed)."""
    return _normalized_area(qini_curve, y, score, t, (y * t - y * (1 - t)).astype(float))


def uplift_at_k(y: np.ndarray, score: np.ndarray, t: np.ndarray, k: float = 0.3) -> float:
    """Treated minus control response rate among the top ``k`` of all rows by score."""
    order = np.argsort(score, kind="mergesort")[::-1]
    top = order[: int(len(y) * k)]
    yt, tt = y[top], t[top]
    return float(yt[tt == 1].mean() - yt[tt == 0].mean())


__all__ = ["LEARNERS", "UpliftModel", "auuc", "qini_coefficient", "qini_curve", "uplift_at_k", "uplift_curve"]
