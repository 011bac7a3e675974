"""The ranking metrics equal Microsoft Recommenders' ``python_evaluation`` (the reference the
issue names) to 1e-9 on the same lists, and the paired bootstrap covers a known difference."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mercator.recommend import _metrics as M

rec_eval = pytest.importorskip("recommenders.evaluation.python_evaluation",
                               reason="Microsoft Recommenders is the reference (make test installs it)")


def _lists(seed: int, customers: int = 300, items: int = 60, k: int = 10):
    rng = np.random.default_rng(seed)
    truth, recs = [], []
    for c in range(customers):
        bought = rng.choice(items, rng.integers(1, 15), replace=False)
        truth += [(f"c{c}", f"i{i}") for i in bought]
        # lists of varying length (some shorter than k), with distinct scores
        shown = rng.choice(items, rng.integers(3, 2 * k), replace=False)
        recs += [(f"c{c}", f"i{i}", float(len(shown) - r)) for r, i in enumerate(shown)]
    truth = pd.DataFrame(truth, columns=["customer_id", "product_id"])
    recs = pd.DataFrame(recs, columns=["customer_id", "product_id", "score"])
    recs["rank"] = recs.groupby("customer_id").cumcount() + 1
    extra = pd.DataFrame({"customer_id": ["nobody"], "product_id": ["i1"], "score": [1.0], "rank": [1]})
    return truth, pd.concat([recs, extra], ignore_index=True)  # a customer without outcomes is not scored


def _reference(truth: pd.DataFrame, recs: pd.DataFrame, k: int) -> dict[str, float]:
    true = truth.rename(columns={"customer_id": "userID", "product_id": "itemID"}).assign(rating=1.0)
    pred = recs.rename(columns={"customer_id": "userID", "product_id": "itemID", "score": "prediction"})
    pred = pred[["userID", "itemID", "prediction"]]
    args = {"k": k}
    return {"precision": rec_eval.precision_at_k(true, pred, **args),
            "recall": rec_eval.recall_at_k(true, pred, **args),
            "ndcg": rec_eval.ndcg_at_k(true, pred, **args),
            "map": rec_eval.map_at_k(true, pred, **args)}


@pytest.mark.parametrize(("seed", "k"), [(0, 10), (1, 5), (2, 20)])
def test_metrics_equal_microsoft_recommenders(seed, k):
    truth, recs = _lists(seed, k=k)
    mine = M.per_customer(recs, truth, k)
    ref = _reference(truth, recs, k)
    for name, value in ref.items():
        assert mine[name].mean() == pytest.approx(value, abs=1e-9), name


def test_coverage_and_novelty_equal_microsoft_recommenders():
    truth, recs = _lists(3)
    history = truth.sample(frac=1.0, replace=True, random_state=0)  # repeated rows: counts matter
    history["customer_id"] = "h" + history.customer_id  # Recommenders wants no recommended pair in the history
    top = recs[recs["rank"] <= 10]
    train = history.rename(columns={"customer_id": "userID", "product_id": "itemID"})
    reco = top.rename(columns={"customer_id": "userID", "product_id": "itemID"})[["userID", "itemID"]]
    assert M.coverage(recs, history.product_id.nunique(), 10) == pytest.approx(
        rec_eval.catalog_coverage(train, reco), abs=1e-9)
    assert M.novelty(recs, history, 10) == pytest.approx(rec_eval.novelty(train, reco), abs=1e-9)


def test_hit_rate_counts_customers_with_a_hit():
    truth = pd.DataFrame({"customer_id": ["a", "b"], "product_id": ["x", "y"]})
    recs = pd.DataFrame({"customer_id": ["a", "a", "b"], "product_id": ["z", "x", "z"], "rank": [1, 2, 1]})
    assert M.per_customer(recs, truth, 10).hit_rate.tolist() == [1.0, 0.0]


def test_paired_bootstrap_covers_a_planted_difference():
    """Simulation: per-customer gains with a known mean 0.02; the 95% interval holds it in about
    95 of 100 repetitions (a check of the interval, not of one draw)."""
    rng = np.random.default_rng(5)
    covered = 0
    for _ in range(100):
        a = rng.normal(0.30, 0.2, 800)
        b = a - 0.02 + rng.normal(0, 0.1, 800)
        lo, hi = M.paired_bootstrap(a, b, resamples=400, seed=int(rng.integers(1 << 30)))
        covered += lo <= 0.02 <= hi
    assert 88 <= covered <= 100
