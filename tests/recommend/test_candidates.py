"""Candidate generation in the engine, one test body on DuckDB and Spark: item-kNN equals the
``implicit`` library's BM25Recommender and CosineRecommender (the reference), popularity and
repurchase history equal a plain pandas computation of the same definitions."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from mercator.recommend import _candidates as C
from mercator.recommend._data import interactions, purchase_lines
from tests.conftest import ingest_text

ASOF = dt.datetime(2024, 7, 1)


def _shop(ws, tmp_path, seed: int = 0):
    """40 customers, 25 items, orders over six months; some lines returned or without customer."""
    rng = np.random.default_rng(seed)
    orders, items = [], []
    for n in range(400):
        c = f"c{rng.integers(40):02d}"
        ts = dt.datetime(2024, 1, 1) + dt.timedelta(hours=int(rng.integers(0, 24 * 180)))
        ret = rng.random() < 0.05
        orders.append(f"o{n},{'' if rng.random() < 0.03 else c},{ts:%Y-%m-%d %H:%M:%S},10.0,{str(ret).lower()}")
        for line, p in enumerate(rng.choice(25, rng.integers(1, 5), replace=False), start=1):
            items.append(f"o{n},{line},p{p:02d},{rng.integers(1, 4)},2.5")
    ingest_text(ws, tmp_path, "order_id,customer_id,ts,revenue,is_return\n" + "\n".join(orders) + "\n", "orders")
    ingest_text(ws, tmp_path, "order_id,line,product_id,quantity,unit_price\n" + "\n".join(items) + "\n",
                "order_items")
    return ws


def _reference_frame(ws) -> pd.DataFrame:
    o = ws.table("orders").to_pandas()
    i = ws.table("order_items").to_pandas()
    lines = i.merge(o, on="order_id")
    lines = lines[lines.customer_id.notna() & ~lines.is_return.fillna(False) & (lines.quantity > 0)]
    return lines[lines.ts < ASOF]


def test_candidates_equal_their_references(ws, tmp_path):
    """One body on DuckDB and on Spark (one load of the shop per engine: Spark loads slowly)."""
    _shop(ws, tmp_path)
    lines = purchase_lines(ws)
    hist = lines.filter(lines.ts < ASOF)
    x = interactions(hist)
    for weighting in ("bm25", "cosine"):
        _check_item_knn(x, weighting)
    _check_popularity_and_repurchase(ws, hist, x)


def _check_item_knn(x, weighting: str) -> None:
    from implicit.nearest_neighbours import BM25Recommender, CosineRecommender

    sim = C.item_similarity(C.knn_weights(x, weighting), neighbors=5)
    mine = C.knn_scores(x, sim, top=None).to_pandas()
    customers, items, m = C.matrix(x)
    ref = (BM25Recommender(K=5) if weighting == "bm25" else CosineRecommender(K=5))
    ref.fit(m, show_progress=False)
    ids, scores = ref.recommend(np.arange(len(customers)), m, N=len(items), filter_already_liked_items=False)
    expected = pd.DataFrame({"customer_id": np.repeat(customers, ids.shape[1]), "product_id": items[ids.ravel()],
                             "expected": scores.ravel()})
    expected = expected[expected.expected > 0]
    both = expected.merge(mine, on=["customer_id", "product_id"], how="outer")
    assert both.score.notna().all() and both.expected.notna().all(), f"{weighting}: the same candidates"
    np.testing.assert_allclose(both.score, both.expected, rtol=1e-5, err_msg=weighting)


def _check_popularity_and_repurchase(ws, hist, x) -> None:
    ref = _reference_frame(ws)
    pop = C.popularity(hist).to_pandas().set_index("product_id").score
    assert pop.to_dict() == ref.groupby("product_id").customer_id.nunique().to_dict()
    rep = C.repurchase(x, ASOF).to_pandas().set_index(["customer_id", "product_id"])
    pair = ref.groupby(["customer_id", "product_id"]).agg(orders=("order_id", "nunique"), first=("ts", "min"),
                                                         last=("ts", "max"))
    rep = rep.loc[pair.index]
    assert (rep.orders == pair.orders).all()
    since = (ASOF - pair["last"]).dt.total_seconds() / 86400
    np.testing.assert_allclose(rep.days_since_last, since, rtol=1e-9)
    many = pair.orders > 1
    cycle = (pair["last"] - pair["first"]).dt.total_seconds() / 86400 / (pair.orders - 1)
    np.testing.assert_allclose(rep.cycle_days[many], cycle[many], rtol=1e-9)
    assert rep.cycle_days[~many].isna().all()
