"""Model quality with its uncertainty (issue 18, item 13): ROC AUC and PR AUC with bootstrap
intervals, and the difference to the logistic baseline with its interval.

References: scikit-learn's ``roc_auc_score`` and ``average_precision_score`` with the same row
weights (the bootstrap's counts); the standard error of the AUC of Hanley and McNeil (1982,
Radiology 143:29-36); and simulations of a churn table of 7,043 customers where the truth is
linear in the log-odds (the baseline is as good) or a threshold interaction that a linear model
cannot draw (the trees are better)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from mercator.target import train_model
from mercator.target._bootstrap import bootstrap, resample_count, weighted_scores


def test_weighted_scores_equal_scikit_learn_with_ties_and_weights():
    rng = np.random.default_rng(3)
    y = rng.random(3000) < 0.27
    p = np.round(rng.normal(y * 0.8, 1), 1)  # coarse scores: many ties
    w = rng.poisson(1.0, len(y)).astype(float)
    auc, ap = weighted_scores(y, p, w)
    assert auc == pytest.approx(roc_auc_score(y, p, sample_weight=w), abs=1e-12)
    assert ap == pytest.approx(average_precision_score(y, p, sample_weight=w), abs=1e-12)


def test_bootstrap_standard_error_matches_hanley_mcneil():
    rng = np.random.default_rng(8)
    n1, n0 = 380, 1029  # the churn table's test rows: 1,409 customers, 27% churned
    y = np.r_[np.ones(n1, bool), np.zeros(n0, bool)]
    p = rng.normal(np.where(y, 1.0, 0.0), 1.0)
    u = bootstrap(y, {"model": p}, seed=1).set_index(["model", "metric"])
    a = roc_auc_score(y, p)
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    se = np.sqrt((a * (1 - a) + (n1 - 1) * (q1 - a * a) + (n0 - 1) * (q2 - a * a)) / (n1 * n0))
    row = u.loc[("model", "roc_auc")]
    assert row.se == pytest.approx(se, rel=0.15)
    assert row.lo < a < row.hi and row.hi - row.lo == pytest.approx(2 * 1.96 * se, rel=0.2)


def test_fewer_resamples_only_for_large_test_sets():
    assert resample_count(1409) == 1000 and resample_count(20_000) == 1000
    assert resample_count(60_000) == 333 and resample_count(10_000_000) == 200


def _churn(nonlinear: bool, n: int = 7043, seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    tenure = rng.integers(0, 72, n).astype(float)
    charges = rng.uniform(18, 118, n)
    contract = rng.choice(["month", "one_year", "two_year"], n, p=[0.55, 0.21, 0.24])
    if nonlinear:  # new customers on high charges and old ones on low charges churn: an XOR no line draws
        logit = -2.2 + 2.5 * ((tenure < 24) == (charges > 70)) + 0.9 * (contract == "month")
    else:
        logit = -0.6 - 0.04 * tenure + 0.015 * (charges - 65) + 0.9 * (contract == "month")
    churn = rng.random(n) < 1 / (1 + np.exp(-logit))
    return pd.DataFrame({"tenure": tenure, "MonthlyCharges": charges.round(2), "Contract": contract,
                         "Churn": np.where(churn, "Yes", "No")})


@pytest.mark.parametrize("nonlinear", [False, True])
def test_baseline_as_good_is_said_plainly_and_a_real_gain_is_shown(tmp_path, nonlinear):
    f = tmp_path / "churn.csv"
    _churn(nonlinear).to_csv(f, index=False)
    res = train_model(None, str(f), "Churn", positive="Yes", save=False)
    u = res.to_frame("uncertainty").set_index(["model", "metric"])
    d = u.loc[("lightgbm - logistic_baseline", "roc_auc")]
    for m in ("lightgbm", "logistic_baseline"):
        for metric in ("roc_auc", "pr_auc"):
            r = u.loc[(m, metric)]
            assert r.lo < r.value < r.hi and 0.005 < r.hi - r.lo < 0.2
    text = " ".join(f.text for f in res.findings)
    if nonlinear:
        assert d.lo > 0 and "LightGBM beats the logistic baseline" in text
    else:
        assert d.lo < 0 < d.hi and "The logistic baseline is as good" in text
    assert "ROC AUC difference (95% interval)" in set(res.to_frame("model_card")["item"])
