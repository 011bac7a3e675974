"""Behavioural clustering against planted segments, and its features against a hand count."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from mercator.ingest import ingest
from mercator.segment import cluster, customer_features
from tests.conftest import ingest_text
from tests.segment.test_rfm import ORDERS


def _planted_orders(rng: np.random.Generator, path) -> pd.Series:
    """Three planted groups of 300 customers over 2024 (truth returned by customer):
    regulars (12-20 purchase days, orders about 30, still active), big spenders (2-4 purchase
    days, orders about 400), lapsed one-timers (1 purchase in the first quarter, about 40)."""
    rows, truth = [], {}
    start = np.datetime64("2024-01-01")
    for g, (n_lo, n_hi, value, last_day) in enumerate([(12, 20, 30, 365), (2, 4, 400, 365), (1, 1, 40, 90)]):
        for i in range(300):
            cid = f"g{g}_{i}"
            truth[cid] = g
            days = rng.choice(last_day, rng.integers(n_lo, n_hi + 1), replace=False)
            for j, d in enumerate(days):
                rows.append((f"{cid}_{j}", cid, f"{start + int(d)} 12:00:00", round(value * rng.lognormal(0, 0.25), 2)))
    pd.DataFrame(rows, columns=["order_id", "customer_id", "ts", "revenue"]).to_csv(path, index=False)
    return pd.Series(truth)


@pytest.mark.parametrize("method", ["kmeans", "gmm"])
def test_planted_segments_are_recovered(duckdb_ws, tmp_path, method):
    """k is chosen (silhouette or BIC) and the planted groups come back: adjusted Rand index
    >= 0.9 (1.0 for both methods when this test was written), every segment stable."""
    truth = _planted_orders(np.random.default_rng(21), tmp_path / "orders.csv")
    ingest(duckdb_ws, tmp_path / "orders.csv", table="orders")
    res = cluster(duckdb_ws, method=method, ks=range(2, 6), rounds=10, as_of=dt.date(2025, 1, 1), save=True)
    assert res.params["k"] == 3
    members = duckdb_ws.table("segment_members").to_pandas().set_index("customer_id")["segment"]
    assert adjusted_rand_score(truth.loc[members.index], members) >= 0.9
    assert not res.to_frame("clusters")["unstable"].any() and res.params["mean_ari"] >= 0.9
    big = res.to_frame("clusters").sort_values("aov").iloc[-1]
    assert 250 <= big.customers <= 350 and big.aov > 200


def test_structureless_data_is_flagged_unstable(duckdb_ws, tmp_path):
    """One homogeneous population forced into 6 segments: the bootstrap says they do not hold."""
    rng = np.random.default_rng(22)
    rows = [(f"c{i}_{j}", f"c{i}", f"{np.datetime64('2024-01-01') + int(d)} 12:00:00", round(rng.gamma(4, 10), 2))
            for i in range(400) for j, d in enumerate(rng.choice(365, 1 + rng.poisson(2), replace=False))]
    pd.DataFrame(rows, columns=["order_id", "customer_id", "ts", "revenue"]).to_csv(tmp_path / "o.csv", index=False)
    ingest(duckdb_ws, tmp_path / "o.csv", table="orders")
    res = cluster(duckdb_ws, k=6, rounds=10, save=False, as_of=dt.date(2025, 1, 1))
    assert res.to_frame("clusters")["unstable"].any()
    assert res.params["mean_ari"] < 0.8


def test_features_equal_hand_count(ws, tmp_path):
    """The RFM fixture as of 2024-04-01: c1 bought on 4 days (01-.. 03-31), 5 orders, 400 in total,
    first 2024-03-01 (31 days before), last 03-31 (1 day); aov 80; no returns."""
    ingest_text(ws, tmp_path, ORDERS, "orders")
    f = customer_features(ws, dt.date(2024, 4, 1)).set_index("customer_id")
    c1 = f.loc["c1"]
    assert (c1.frequency, c1.monetary, c1.recency_days, c1.tenure_days, c1.aov, c1.return_rate) == \
        (4, 400.0, 1.0, 31.0, 80.0, 0.0)
    assert len(f) == 5


def test_demo_store_segments_are_recovered(demo_company):
    """The demo's store customers come in four planted segments (demo STORE_SEGMENTS: regulars,
    big-ticket, lapsed, returners). k-means picks k = 4 and recovers them with an adjusted Rand
    index of 0.93 when this test was written; the Gaussian mixture's BIC picks more components
    (7), which split planted segments but do not mix them (ARI 0.95)."""
    ws, _truth, folder = demo_company
    truth = pd.read_parquet(folder / "truth_store_segments.parquet").set_index("customer_id")
    for method, k in (("kmeans", 4), ("gmm", None)):
        res = cluster(ws, method=method, channel="store", rounds=0, save=True)
        m = ws.table("segment_members").to_pandas()
        m = m[m.segment_set == res.params["segment_set"]].set_index("customer_id")["segment"]
        assert len(truth) == 5000 and 4950 <= len(m) < 5000  # customers who returned every order are left out
        assert adjusted_rand_score(truth.loc[m.index, "segment"], m) >= 0.9, method
        if k:
            assert res.params["k"] == k
