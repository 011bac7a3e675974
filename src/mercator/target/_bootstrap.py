"""How sure the test scores are: bootstrap intervals of ROC AUC and PR AUC, and of the
difference between the model and its baseline.

One test split gives one AUC; another split moves it by about as much as the gap between
LightGBM and the logistic baseline on a table of a few thousand rows. The rows of the test set
are resampled with replacement within each class (the stratified bootstrap pROC uses), both
models scored on the same resamples, and the 2.5th and 97.5th percentiles are the interval.

Written by hand because a resample is a vector of row counts: ROC AUC and average precision
with those counts as weights come from one sort of the scores and a few cumulative sums, so a
thousand resamples take a matrix operation instead of a thousand calls to scikit-learn (which
gives the same numbers for the same weights, and is the reference in the tests).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

RESAMPLES = 1000
_CHUNK = 50  # resamples per matrix: 50 x rows floats at a time
_WORK = 20_000_000  # resamples x rows: beyond 20,000 test rows fewer resamples (at least 200), ~5 s


def resample_count(rows: int, wanted: int = RESAMPLES) -> int:
    """How many resamples: ``wanted`` up to 20,000 test rows, then fewer (never under 200);
    intervals are narrow there, and 200 resamples place the 2.5th percentile well enough."""
    return min(wanted, max(200, _WORK // max(rows, 1)))


def _counts(rng: np.random.Generator, idx: np.ndarray, b: int, n: int) -> np.ndarray:
    """``b`` resamples with replacement of the rows ``idx``, as counts over all ``n`` rows."""
    draws = idx[rng.integers(0, len(idx), (b, len(idx)))]
    return np.stack([np.bincount(d, minlength=n) for d in draws]).astype(float)


def _groups(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows sorted by descending score, and where each run of equal scores starts."""
    order = np.argsort(-p, kind="stable")
    ps = p[order]
    starts = np.flatnonzero(np.r_[True, ps[1:] != ps[:-1]])
    return order, starts, y[order].astype(bool)


def _scores(w: np.ndarray, order: np.ndarray, starts: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ROC AUC and average precision for each row of weights ``w`` (resamples x rows)."""
    ws = w[:, order]
    pos = np.add.reduceat(np.where(ys, ws, 0.0), starts, axis=1)  # weight of positives per distinct score
    neg = np.add.reduceat(np.where(ys, 0.0, ws), starts, axis=1)
    w1, w0 = pos.sum(axis=1), neg.sum(axis=1)
    # scores descend: a positive beats the negatives of every later group and ties half of its own
    neg_below = w0[:, None] - np.cumsum(neg, axis=1)
    auc = (pos * (neg_below + 0.5 * neg)).sum(axis=1) / (w1 * w0)
    tp, fp = np.cumsum(pos, axis=1), np.cumsum(neg, axis=1)
    precision = np.divide(tp, tp + fp, out=np.zeros_like(tp), where=(tp + fp) > 0)
    ap = (pos * precision).sum(axis=1) / w1  # sum of (recall step) x precision, as scikit-learn
    return auc, ap


def weighted_scores(y: np.ndarray, p: np.ndarray, weights: np.ndarray | None = None) -> tuple[float, float]:
    """ROC AUC and average precision of ``p`` with optional row weights."""
    w = np.ones((1, len(y))) if weights is None else np.asarray(weights, float)[None, :]
    auc, ap = _scores(w, *_groups(np.asarray(y), np.asarray(p, float)))
    return float(auc[0]), float(ap[0])


def bootstrap(y: np.ndarray, scores: dict[str, np.ndarray], *, resamples: int = RESAMPLES, seed: int = 0,
              level: float = 0.95) -> pd.DataFrame:
    """ROC AUC and PR AUC of each model with their interval, and (from the same resamples)
    each model after the first minus the first. One row per model or difference and metric,
    with the number of resamples used (see :func:`resample_count`)."""
    y = np.asarray(y).astype(bool)
    rng = np.random.default_rng(seed)
    idx1, idx0 = np.flatnonzero(y), np.flatnonzero(~y)
    names = list(scores)
    prepared = {m: _groups(y, np.asarray(s, float)) for m, s in scores.items()}
    draws = {m: ([], []) for m in names}
    resamples = resample_count(len(y), resamples)
    for start in range(0, resamples, _CHUNK):
        b = min(_CHUNK, resamples - start)
        w = _counts(rng, idx1, b, len(y)) + _counts(rng, idx0, b, len(y))
        for m in names:
            auc, ap = _scores(w, *prepared[m])
            draws[m][0].append(auc)
            draws[m][1].append(ap)
    lo_q, hi_q = 100 * (1 - level) / 2, 100 * (1 + level) / 2
    rows = []
    full = {m: weighted_scores(y, scores[m]) for m in names}
    stacked = {m: (np.concatenate(a), np.concatenate(p)) for m, (a, p) in draws.items()}
    for k, metric in enumerate(("roc_auc", "pr_auc")):
        for m in names:
            d = stacked[m][k]
            rows.append({"model": m, "metric": metric, "value": full[m][k], "lo": np.percentile(d, lo_q),
                         "hi": np.percentile(d, hi_q), "se": d.std(ddof=1), "resamples": resamples})
        base = names[0]
        for m in names[1:]:
            d = stacked[m][k] - stacked[base][k]
            rows.append({"model": f"{m} - {base}", "metric": metric, "value": full[m][k] - full[base][k],
                         "lo": np.percentile(d, lo_q), "hi": np.percentile(d, hi_q), "se": d.std(ddof=1),
                         "resamples": resamples})
    return pd.DataFrame(rows)


__all__ = ["RESAMPLES", "bootstrap", "resample_count", "weighted_scores"]
