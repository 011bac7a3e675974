"""Off-policy evaluation: what a candidate policy would have earned on the decisions another
policy logged.

Estimators as Open Bandit Pipeline defines them (Saito et al. 2021, ``obp.ope``; the test
checks they give its numbers on the same logged data), for rounds ``i`` with reward ``r_i``,
logged arm ``a_i`` and its logged propensity ``p_i``, the candidate's probabilities
``pi(a | x_i)`` and a reward model ``q(x_i, a)``; ``w_i = pi(a_i | x_i) / p_i``:

- IPS: ``mean(w r)``;
- SNIPS: ``sum(w r) / sum(w)``;
- DM: ``mean(sum_a pi(a | x) q(x, a))``;
- DR: ``mean(sum_a pi(a | x) q(x, a) + w (r - q(x, a_i)))``.

Each comes with a percentile bootstrap interval over rounds (obp's ``estimate_interval``).
The reward model is fitted by cross-fitting (each round's ``q`` from a model that did not see
it), as obp's ``RegressionModel`` does with ``n_folds``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

ESTIMATORS = ("ips", "snips", "dm", "dr")


def round_values(name: str, reward: np.ndarray, action: np.ndarray, pscore: np.ndarray, action_dist: np.ndarray,
                 q: np.ndarray | None = None) -> np.ndarray:
    """Per round, what the estimator averages (SNIPS: normalized by the mean weight)."""
    n = len(reward)
    rows = np.arange(n)
    w = action_dist[rows, action] / pscore
    if name == "ips":
        return w * reward
    if name == "snips":
        return w * reward / w.mean()
    if q is None:
        raise ValueError(f"{name} needs a reward model's estimates")
    direct = (action_dist * q).sum(axis=1)
    if name == "dm":
        return direct
    if name == "dr":
        return direct + w * (reward - q[rows, action])
    raise ValueError(f"unknown estimator {name!r}; estimators: {', '.join(ESTIMATORS)}")


def estimate(reward: np.ndarray, action: np.ndarray, pscore: np.ndarray, action_dist: np.ndarray,
             q: np.ndarray | None = None, *, estimators=ESTIMATORS, resamples: int = 2000, alpha: float = 0.05,
             seed: int = 0) -> pd.DataFrame:
    """Each estimator's value with a percentile bootstrap interval over rounds."""
    reward, action, pscore = np.asarray(reward, float), np.asarray(action, int), np.asarray(pscore, float)
    if (pscore <= 0).any():
        raise ValueError("every logged propensity must be above zero")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(reward), size=(resamples, len(reward)))
    rows = []
    for name in estimators:
        if name in ("dm", "dr") and q is None:
            continue
        v = round_values(name, reward, action, pscore, action_dist, q)
        if name == "snips":  # the normalization is recomputed in every resample
            w = action_dist[np.arange(len(reward)), action] / pscore
            boot = (w[idx] * reward[idx]).sum(axis=1) / w[idx].sum(axis=1)
        else:
            boot = v[idx].mean(axis=1)
        lo, hi = np.percentile(boot, [100 * alpha / 2, 100 * (1 - alpha / 2)])
        rows.append({"estimator": name, "value": float(v.mean()), "low": float(lo), "high": float(hi)})
    return pd.DataFrame(rows)


def reward_model(x: np.ndarray, action: np.ndarray, reward: np.ndarray, arms: int, *, folds: int = 2,
                 seed: int = 0) -> np.ndarray:
    """q(x_i, a) for every round and arm, cross-fitted: a logistic regression per arm (rewards
    0/1) or a ridge regression (other rewards), each round scored by models of the other folds."""
    from sklearn.linear_model import LogisticRegression, Ridge

    n = len(reward)
    binary = np.isin(reward, (0, 1)).all()
    fold = np.random.default_rng(seed).integers(0, folds, n)
    q = np.zeros((n, arms))
    prior = reward.mean()
    for f in range(folds):
        train, score = fold != f, fold == f
        for a in range(arms):
            sel = train & (action == a)
            if sel.sum() < 10 or (binary and reward[sel].min() == reward[sel].max()):
                q[score, a] = reward[sel].mean() if sel.any() else prior
                continue
            if binary:
                m = LogisticRegression(C=1.0, max_iter=500).fit(x[sel], reward[sel].astype(int))
                q[score, a] = m.predict_proba(x[score])[:, 1]
            else:
                q[score, a] = Ridge(alpha=1.0).fit(x[sel], reward[sel]).predict(x[score])
    return q
