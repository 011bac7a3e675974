"""Behavioural clustering: pure scikit-learn on the customer features, no I/O.

k-means (k by silhouette) or a Gaussian mixture (k by BIC) on log-scaled, standardized
features; stability by bootstrap: each refit on a resample labels all customers, the
adjusted Rand index against the reference says how stable the whole solution is, and each
cluster's best Jaccard match says how stable that cluster is (Hennig 2007: below 0.6 a
cluster is not a stable pattern).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.mixture import GaussianMixture
from sklearn.preprocessing import StandardScaler

UNSTABLE_JACCARD = 0.6


def prepare(features: pd.DataFrame, log_columns: list[str]) -> tuple[np.ndarray, StandardScaler]:
    """Log1p the skewed columns, then standardize."""
    x = features.astype(float).copy()
    for c in log_columns:
        x[c] = np.log1p(x[c].clip(lower=0))
    scaler = StandardScaler().fit(x.to_numpy())
    return scaler.transform(x.to_numpy()), scaler


def _model(method: str, k: int, seed: int):
    if method == "kmeans":
        return KMeans(n_clusters=k, n_init=4, random_state=seed)
    # reg_covar 0.05 (on standardized features): counts such as one purchase day are discrete,
    # and an unregularized mixture spends components on exact values instead of groups
    return GaussianMixture(n_components=k, covariance_type="full", n_init=2, reg_covar=0.05, random_state=seed)


@dataclass(frozen=True)
class Choice:
    k: int
    scores: pd.DataFrame  # k, silhouette or bic, smallest cluster share, admissible


def choose_k(x: np.ndarray, method: str, ks: range, min_share: float, seed: int = 0,
             sample: int = 10_000) -> Choice:
    """k with the best silhouette (k-means, on a sample of at most ``sample`` rows) or lowest BIC
    (Gaussian mixture), among the k whose smallest cluster holds at least ``min_share``."""
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(x), min(sample, len(x)), replace=False)
    rows = []
    for k in ks:
        m = _model(method, k, seed).fit(x)
        labels = m.predict(x)
        share = np.bincount(labels, minlength=k).min() / len(x)
        row = {"k": k, "smallest_share": share, "admissible": share >= min_share}
        if method == "kmeans":
            row["silhouette"] = float(silhouette_score(x[idx], labels[idx])) if len(set(labels[idx])) > 1 else -1
        else:
            row["bic"] = float(m.bic(x))
        rows.append(row)
    scores = pd.DataFrame(rows)
    ok = scores[scores.admissible] if scores.admissible.any() else scores
    best = ok.loc[ok["silhouette"].idxmax()] if method == "kmeans" else ok.loc[ok["bic"].idxmin()]
    return Choice(k=int(best.k), scores=scores)


def fit_labels(x: np.ndarray, method: str, k: int, seed: int = 0) -> tuple[np.ndarray, object]:
    m = _model(method, k, seed).fit(x)
    return m.predict(x), m


def stability(x: np.ndarray, labels: np.ndarray, method: str, k: int, rounds: int = 20,
              seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """ARI per bootstrap round, and each reference cluster's mean best-match Jaccard."""
    rng = np.random.default_rng(seed)
    aris, jac = [], np.zeros((rounds, k))
    for b in range(rounds):
        boot = rng.choice(len(x), len(x), replace=True)
        other = _model(method, k, seed + b + 1).fit(x[boot]).predict(x)
        aris.append(adjusted_rand_score(labels, other))
        for c in range(k):
            a = labels == c
            best = 0.0
            for d in np.unique(other):
                o = other == d
                inter = np.count_nonzero(a & o)
                if inter:
                    best = max(best, inter / np.count_nonzero(a | o))
            jac[b, c] = best
    return np.array(aris), jac.mean(axis=0)


__all__ = ["UNSTABLE_JACCARD", "Choice", "choose_k", "fit_labels", "prepare", "stability"]
