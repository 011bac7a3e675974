"""Candidate generators: each proposes items for each customer with a score.

Popularity, repurchase history, item-to-item co-occurrence (item-kNN) and segment popularity
are Ibis expressions, so they run in the engine (DuckDB or Spark) over the interactions
(``_data.interactions``); only the top candidates per customer come back. Matrix factorization
(ALS, BPR) is the ``implicit`` library's, fitted on the interaction matrix pulled as Arrow.

The item-kNN reproduces ``implicit``'s ``BM25Recommender`` and ``CosineRecommender`` (same
weights, same K nearest neighbours, score = the customer's interaction row times the
similarity matrix), written as joins because the similarity is a self-join on customers
that the engine does without moving the matrix; the test checks it against implicit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd


def _ranked(t: ir.Table, by: str, top: int | None, group: str = "customer_id") -> ir.Table:
    """``t`` with ``rank`` (1 = best ``score``, ties by product id) and only the ``top`` per ``group``."""
    t = t.mutate(rank=ibis.row_number().over(group_by=t[group], order_by=[ibis.desc(t[by]), t.product_id]) + 1)
    return t if top is None else t.filter(t["rank"] <= top)


def popularity(lines: ir.Table, asof: dt.datetime | None = None, days: int | None = None) -> ir.Table:
    """product_id, score (distinct customers who bought it; within ``days`` before ``asof`` if given), rank."""
    if days is not None and asof is not None:
        lines = lines.filter(lines.ts >= ibis.literal(asof - dt.timedelta(days=days)))
    t = lines.group_by("product_id").aggregate(score=lines.customer_id.nunique())
    return t.mutate(rank=ibis.row_number().over(order_by=[ibis.desc(t.score), t.product_id]) + 1)


def repurchase(x: ir.Table, asof: dt.datetime) -> ir.Table:
    """customer_id, product_id, score and the history features of every pair a customer bought:
    orders, days since the last and first purchase, the pair's repeat cycle (days between its
    orders) and how due it is (days since last / cycle). Score: orders, then recency."""
    since_last = _days(x.last_ts, asof)
    since_first = _days(x.first_ts, asof)
    cycle = ibis.ifelse(x.orders > 1, (since_first - since_last) / (x.orders - 1).cast("float64"), ibis.null())
    t = x.mutate(days_since_last=since_last, days_since_first=since_first, cycle_days=cycle)
    t = t.mutate(due=t.days_since_last / t.cycle_days.nullif(0),
                 score=t.orders.cast("float64") + 1.0 / (1.0 + t.days_since_last))
    return _ranked(t, "score", None)


def _days(ts: ir.TimestampValue, asof: dt.datetime) -> ir.FloatingValue:
    return (ibis.literal(asof).epoch_seconds() - ts.epoch_seconds()).cast("float64") / 86400.0


def knn_weights(x: ir.Table, weighting: str = "bm25", k1: float = 1.2, b: float = 0.75) -> ir.Table:
    """customer_id, product_id, w: the interactions weighted as ``implicit`` weighs them for its
    BM25 (K1, B) or cosine item-item recommenders."""
    v = x.orders.cast("float64")
    if weighting == "bm25":
        items = x.group_by("product_id").aggregate(length=v.sum())
        n = items.count().as_scalar().cast("float64")
        items = items.mutate(norm=(1.0 - b) + b * items.length / items.length.mean().as_scalar())
        users = x.group_by("customer_id").aggregate(df=x.product_id.count())
        w = x.join(items, "product_id").join(users, "customer_id")
        return w.select("customer_id", "product_id",
                        w=w.orders * (k1 + 1.0) / (k1 * w.norm + w.orders) * (n.ln() - (1.0 + w.df).ln()))
    if weighting == "cosine":
        items = x.group_by("product_id").aggregate(l2=(v * v).sum().sqrt())
        w = x.join(items, "product_id")
        return w.select("customer_id", "product_id", w=w.orders / w.l2)
    from mercator.errors import BadParameter

    raise BadParameter(f"unknown item-kNN weighting {weighting!r}; use bm25 or cosine")


def item_similarity(w: ir.Table, neighbors: int = 20) -> ir.Table:
    """product_id, neighbor, sim: each item's ``neighbors`` most similar items (itself included,
    as implicit keeps it): the sum over customers of the product of their weights (``knn_weights``,
    best materialized first: the self-join reads it twice)."""
    other = w.view()
    # the similarity is symmetric: half the self-join (each pair once), then both directions
    pairs = w.join(other, (w.customer_id == other.customer_id) & (w.product_id <= other.product_id)).select(
        product_id=w.product_id, neighbor=other.product_id, sim=w.w * other.w)
    half = pairs.group_by(["product_id", "neighbor"]).aggregate(sim=pairs.sim.sum())
    mirror = half.filter(half.product_id != half.neighbor).select(
        product_id=half.neighbor, neighbor=half.product_id, sim=half.sim)
    sim = ibis.union(half, mirror)
    sim = sim.mutate(rank=ibis.row_number().over(group_by=sim.product_id,
                                                 order_by=[ibis.desc(sim.sim), sim.neighbor]) + 1)
    return sim.filter(sim["rank"] <= neighbors).drop("rank")


def knn_scores(x: ir.Table, sim: ir.Table, top: int | None = 100) -> ir.Table:
    """customer_id, product_id, score, rank: the customer's interactions times the similarity."""
    j = x.join(sim, x.product_id == sim.product_id)
    s = j.group_by([j.customer_id, j.neighbor.name("product_id")]).aggregate(
        score=(j.orders.cast("float64") * j.sim).sum())
    return _ranked(s, "score", top)


def segment_popularity(lines: ir.Table, members: ir.Table) -> ir.Table:
    """segment, product_id, score (distinct customers of the segment who bought it), rank."""
    j = lines.join(members, lines.customer_id == members.customer_id.cast("string"))
    t = j.group_by([j.segment, j.product_id]).aggregate(score=j.customer_id.nunique())
    return _ranked(t, "score", None, group="segment")


@dataclass
class Factors:
    """A fitted matrix factorization: who and what its rows are, and their factors."""

    kind: str
    customers: np.ndarray  # customer ids, in the order of user_factors' rows
    items: np.ndarray  # product ids, in the order of item_factors' rows
    user_factors: np.ndarray
    item_factors: np.ndarray

    def scores(self, customers: np.ndarray, top: int) -> pd.DataFrame:
        """customer_id, product_id, score, rank of each known customer's ``top`` items."""
        from implicit.cpu.topk import topk  # implicit's own multithreaded dot-product top-k

        index = pd.Index(self.customers)
        rows = index.get_indexer(customers)
        known = rows >= 0
        rows, ids = rows[known], np.asarray(customers)[known]
        out = []
        top = min(top, len(self.items))
        for start in range(0, len(rows), 65536):
            best, vals = topk(self.item_factors, self.user_factors[rows[start:start + 65536]], top, num_threads=0)
            n = best.shape[0]
            out.append(pd.DataFrame({"customer_id": np.repeat(ids[start:start + n], top),
                                     "product_id": self.items[best.ravel()], "score": vals.ravel(),
                                     "rank": np.tile(np.arange(1, top + 1), n)}))
        if not out:
            return pd.DataFrame({"customer_id": [], "product_id": [], "score": [], "rank": []})
        return pd.concat(out, ignore_index=True)


def matrix(x: ir.Table) -> tuple[np.ndarray, np.ndarray, object]:
    """The interaction matrix (customers x items, weight = orders) pulled as Arrow, as CSR."""
    from scipy.sparse import csr_matrix

    t = x.select("customer_id", "product_id", "orders").to_pyarrow()
    cust = pd.factorize(t.column("customer_id").to_numpy(zero_copy_only=False), sort=True)
    item = pd.factorize(t.column("product_id").to_numpy(zero_copy_only=False), sort=True)
    m = csr_matrix((t.column("orders").to_numpy().astype(np.float32), (cust[0], item[0])),
                   shape=(len(cust[1]), len(item[1])))
    return np.asarray(cust[1], dtype=object), np.asarray(item[1], dtype=object), m


def factorize(x: ir.Table, kind: str = "als", factors: int = 64, iterations: int = 15, seed: int = 0,
              regularization: float = 0.01) -> Factors:
    """ALS (Hu, Koren and Volinsky 2008) or BPR (Rendle et al. 2009) from ``implicit``."""
    from implicit.cpu.als import AlternatingLeastSquares
    from implicit.cpu.bpr import BayesianPersonalizedRanking
    from threadpoolctl import threadpool_limits

    customers, items, m = matrix(x)
    if m.nnz == 0:
        from mercator.errors import MercatorError

        raise MercatorError("no purchases to factorize: the history before the cut is empty")
    if kind not in ("als", "bpr"):
        from mercator.errors import BadParameter

        raise BadParameter(f"unknown matrix factorization {kind!r}; use als or bpr")
    with threadpool_limits(1, "blas"):  # implicit parallelizes itself; BLAS threads inside it only contend
        if kind == "als":
            model = AlternatingLeastSquares(factors=factors, regularization=regularization, iterations=iterations,
                                            random_state=seed)
        else:  # one thread: BPR's parallel SGD (Hogwild) gives other factors on every run
            model = BayesianPersonalizedRanking(factors=factors, iterations=max(iterations, 100),
                                                random_state=seed, num_threads=1)
        model.fit(m, show_progress=False)
    return Factors(kind, customers, items, np.asarray(model.user_factors), np.asarray(model.item_factors))
