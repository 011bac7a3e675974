"""Recommendation benchmarks, side by side with ``implicit`` on the same data, in one run.

Run: .venv/bin/python benchmarks/recommend.py [--customers 1000000] [--items 50000] (make bench).

1. Online Retail (../shared/data/online_retail), issue 20's protocol: Mercator's whole
   evaluation (three history cuts of generators, LambdaRank for repeat and cross-sell, every
   baseline, bootstrap) against implicit's ALS alone (fit and recommend for the same
   customers), with NDCG@10 of each.
2. Batch top-10 over a simulated catalogue: the factorization generator's scoring
   (``Factors.scores``: BLAS products in chunks and a partial sort) against implicit's own
   ``recommend`` for the same customers and the same factors.
3. One customer's top-10 from a fitted model (``Recommender.recommend``): p50 and p99 over
   2,000 customers (what the decision engine and ``GET /v1/recommendations/{id}`` call).

Prints one JSON line per benchmark.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "passive")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "online_retail" / "online_retail.csv.gz"


def online_retail(folder: Path) -> dict:
    import ibis
    import pandas as pd
    from implicit.cpu.als import AlternatingLeastSquares

    from mercator.ingest import ingest
    from mercator.recommend import _candidates as C
    from mercator.recommend import _metrics as M
    from mercator.recommend import evaluate_recommenders, fit_recommender
    from mercator.recommend._data import interactions, purchase_lines
    from mercator.workspace import Workspace

    ws = Workspace(str(folder / "retail.duckdb"))
    ingest(ws, DATA)
    t = time.perf_counter()
    res = evaluate_recommenders(ws, split="2011-10-01", products=r"^\d", k=10)
    ours = time.perf_counter() - t
    m = res.to_frame("metrics")
    # implicit alone: ALS (64 factors) fitted on the same interactions, top-10 for the same customers
    lines = purchase_lines(ws, products=r"^\d")
    split = ibis.literal(pd.Timestamp("2011-10-01"))
    x = interactions(lines.filter(lines.ts < split))
    customers, items, matrix = C.matrix(x)
    test = lines.filter(lines.ts >= split).select("customer_id", "product_id").distinct().to_pandas()
    test = test[test.customer_id.isin(customers) & test.product_id.isin(items)]
    who = pd.Index(customers).get_indexer(test.customer_id.unique())
    t = time.perf_counter()
    als = AlternatingLeastSquares(factors=64, regularization=0.01, iterations=15, random_state=0)
    als.fit(matrix, show_progress=False)
    ids, _scores = als.recommend(who, matrix[who], N=10, filter_already_liked_items=False)
    theirs = time.perf_counter() - t
    recs = pd.DataFrame({"customer_id": np.repeat(customers[who], 10), "product_id": items[ids.ravel()],
                         "rank": np.tile(np.arange(1, 11), len(who))})
    implicit_ndcg = M.per_customer(recs, test, 10).ndcg.mean()
    # a fitted model for the per-customer timing
    t = time.perf_counter()
    fitted = fit_recommender(ws, products=r"^\d", horizon_days=30).model
    fit_seconds = time.perf_counter() - t
    ws.close()
    ranker = m[m.model == "ranker"].set_index("protocol").ndcg.round(4).to_dict()
    return {"benchmark": "online_retail_fit_and_evaluate", "mercator_seconds": round(ours, 1),
            "implicit_als_fit_and_recommend_seconds": round(theirs, 2), "ratio": round(ours / theirs, 1),
            "mercator_ranker_ndcg10": ranker, "implicit_als_repeat_ndcg10": round(float(implicit_ndcg), 4),
            "fit_recommender_seconds": round(fit_seconds, 1)}, fitted


def per_customer(model, n: int = 2000) -> dict:
    rng = np.random.default_rng(0)
    known = np.array(list(model._offsets["repeat"]))
    who = rng.choice(known, min(n, len(known)), replace=False)
    times = []
    for c in who:
        t = time.perf_counter()
        model.recommend(c, k=10)
        times.append(time.perf_counter() - t)
    ms = np.array(times) * 1000
    return {"benchmark": "one_customer_top10", "customers": len(who), "p50_ms": round(float(np.percentile(ms, 50)), 3),
            "p99_ms": round(float(np.percentile(ms, 99)), 3), "target_p99_ms": 2.0}


def batch(customers: int, items: int, per_customer: int = 10, factors: int = 64) -> dict:
    from implicit.cpu.als import AlternatingLeastSquares
    from scipy.sparse import csr_matrix

    from mercator.recommend._candidates import Factors

    rng = np.random.default_rng(1)
    pop = 1.0 / np.arange(1, items + 1) ** 0.9
    pop /= pop.sum()
    rows = np.repeat(np.arange(customers), per_customer)
    cols = rng.choice(items, customers * per_customer, p=pop)
    m = csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(customers, items))
    m.sum_duplicates()
    t = time.perf_counter()
    als = AlternatingLeastSquares(factors=factors, iterations=5, random_state=0)
    als.fit(m, show_progress=False)
    fit = time.perf_counter() - t
    f = Factors("als", np.arange(customers).astype(str).astype(object), np.arange(items).astype(str).astype(object),
                np.asarray(als.user_factors), np.asarray(als.item_factors))
    t = time.perf_counter()
    ours = f.scores(f.customers, 10)
    mercator = time.perf_counter() - t
    t = time.perf_counter()
    ids, _ = als.recommend(np.arange(customers), m, N=10, filter_already_liked_items=False)
    theirs = time.perf_counter() - t
    agree = float(np.mean(ours.product_id.to_numpy().reshape(-1, 10)[:1000, 0].astype(int) == ids[:1000, 0]))
    return {"benchmark": "batch_top10", "customers": customers, "items": items, "als_fit_seconds": round(fit, 1),
            "mercator_seconds": round(mercator, 1), "implicit_recommend_seconds": round(theirs, 1),
            "ratio": round(mercator / theirs, 2), "same_first_item_share": agree}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--items", type=int, default=50_000)
    ap.add_argument("--skip-retail", action="store_true")
    ap.add_argument("--skip-batch", action="store_true")
    args = ap.parse_args()
    if not args.skip_retail:
        if not DATA.exists():
            print(f"skipping Online Retail: {DATA} is absent", file=sys.stderr)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                result, model = online_retail(Path(tmp))
                print(json.dumps(result), flush=True)
                print(json.dumps(per_customer(model)), flush=True)
    if not args.skip_batch:
        print(json.dumps(batch(args.customers, args.items)), flush=True)


if __name__ == "__main__":
    main()
