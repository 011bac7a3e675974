"""Ranking metrics at k, per customer, so that they can be bootstrapped.

The definitions are Microsoft Recommenders' ``python_evaluation`` (precision, recall, binary
NDCG with the natural-log discount, MAP@k dividing by min(relevant, k), catalogue coverage,
novelty), computed over the customers who have both recommendations and outcomes; the test
checks every one against that package to 1e-9. Written with NumPy instead of calling it
because the paired bootstrap needs each customer's value, not only the mean, and because
Recommenders' merges take seconds where these take milliseconds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

PER_CUSTOMER = ("precision", "recall", "ndcg", "map", "hit_rate")


def per_customer(recs: pd.DataFrame, truth: pd.DataFrame, k: int) -> pd.DataFrame:
    """One row per customer with both ``recs`` (customer_id, product_id, rank: 1 = first) and
    ``truth`` (customer_id, product_id): precision, recall, ndcg, map and hit_rate at ``k``."""
    truth = truth[["customer_id", "product_id"]].drop_duplicates()
    recs = recs[recs["rank"] <= k]
    common = np.intersect1d(recs.customer_id.unique(), truth.customer_id.unique())
    recs = recs[recs.customer_id.isin(common)]
    truth = truth[truth.customer_id.isin(common)]
    actual = truth.groupby("customer_id").size().reindex(common).to_numpy()
    hit = recs.merge(truth, on=["customer_id", "product_id"]).sort_values(["customer_id", "rank"])
    where = pd.Index(common).get_indexer(hit.customer_id)
    rank = hit["rank"].to_numpy(dtype=float)
    n = len(common)
    hits = np.bincount(where, minlength=n).astype(float)
    dcg = np.bincount(where, weights=1.0 / np.log(1.0 + rank), minlength=n)
    ideal = np.concatenate([[0.0], np.cumsum(1.0 / np.log(1.0 + np.arange(1, k + 1)))])
    idcg = ideal[np.minimum(actual, k)]
    nth = hit.groupby("customer_id").cumcount().to_numpy() + 1.0  # the hit's place among the hits
    ap = np.bincount(where, weights=nth / rank, minlength=n) / np.minimum(actual, k)
    return pd.DataFrame({"customer_id": common, "precision": hits / k, "recall": hits / actual,
                         "ndcg": dcg / idcg, "map": ap, "hit_rate": (hits > 0).astype(float)})


def coverage(recs: pd.DataFrame, catalogue_size: int, k: int) -> float:
    """Share of the catalogue (items with history) that appears in some top-k list."""
    return recs.loc[recs["rank"] <= k, "product_id"].nunique() / max(catalogue_size, 1)


def novelty(recs: pd.DataFrame, history: pd.DataFrame, k: int) -> float:
    """Mean -log2(share of history records that are the item) over the recommendations."""
    counts = history.groupby("product_id").size()
    share = -np.log2(counts / len(history))
    shown = recs.loc[recs["rank"] <= k, "product_id"]
    return float(shown.map(share).dropna().mean())


def paired_bootstrap(a: np.ndarray, b: np.ndarray | None = None, *, resamples: int = 1000, seed: int = 0,
                     chunk: int = 100) -> tuple[float, float]:
    """95% interval of mean(a) (or of mean(a) - mean(b), the same customers resampled for both)."""
    values = a if b is None else a - b
    rng = np.random.default_rng(seed)
    n = len(values)
    if n == 0:
        return (float("nan"), float("nan"))
    means = np.concatenate([values[rng.integers(0, n, (min(chunk, resamples - s), n))].mean(axis=1)
                            for s in range(0, resamples, chunk)])
    lo, hi = np.percentile(means, [2.5, 97.5])
    return float(lo), float(hi)
