"""The candidates of each customer and what the ranker knows about each (customer, item).

Everything but the factorization scores is joined in the engine: the union of every
generator's candidates, each generator's score and rank, the pair's history (orders, days
since the last purchase, its repeat cycle, how due it is), the item (popularity all time and
in the last 30 and 90 days, its typical repeat cycle and repeat rate, price, margin), the
customer (orders, items, days since the last order, tenure) and the customer's affinity to
the item's category. Only the finished feature rows come back, as Arrow.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from mercator.recommend import _candidates as C
from mercator.recommend._data import interactions, joined

#: Candidates per customer from each generator (repurchase: the whole history).
POOL = 100
POPULAR = 50
RECENT_DAYS = 90  # the latest purchases, for "goes with what they just bought"


@dataclass
class Generators:
    """The generators fitted on one history (the ranker's training cut, or all of it)."""

    asof: dt.datetime
    history: ir.Table  # purchase lines before asof
    x: ir.Table  # interactions before asof
    sim: dict[str, ir.Table] = field(default_factory=dict)  # bm25 / cosine item similarity
    factors: dict[str, C.Factors] = field(default_factory=dict)  # als / bpr


def fit_generators(ws, lines: ir.Table, asof: dt.datetime, *, knn: tuple[str, ...] = ("bm25",),
                   mf: tuple[str, ...] = ("als", "bpr"), neighbors: int = 20, factors: int = 64,
                   seed: int = 0, progress=None) -> Generators:
    history = ws.engine.materialize(lines.filter(lines.ts < ibis.literal(asof)))
    x = ws.engine.materialize(interactions(history))
    g = Generators(asof, history, x)
    steps = len(knn) + len(mf)
    for n, w in enumerate(knn):
        if progress:
            progress("item-kNN", n, steps)
        weights = ws.engine.materialize(C.knn_weights(x, w))
        g.sim[w] = ws.engine.materialize(C.item_similarity(weights, neighbors))
        ws.engine.release(weights)
    for n, kind in enumerate(mf, start=len(knn)):
        if progress:
            progress("matrix factorization", n, steps)
        g.factors[kind] = C.factorize(x, kind, factors=factors, seed=seed)
    return g


def release(ws, g: Generators) -> None:
    for t in (g.history, g.x, *g.sim.values()):
        ws.engine.release(t)


def item_features(ws, g: Generators) -> ir.Table:
    """product_id and what is known of the item before asof."""
    h, x = g.history, g.x
    pop = C.popularity(h).select("product_id", pop_all=ibis._.score, pop_all_rank=ibis._["rank"])
    p30 = C.popularity(h, g.asof, 30).select("product_id", pop_30=ibis._.score, pop_30_rank=ibis._["rank"])
    p90 = C.popularity(h, g.asof, 90).select("product_id", pop_90=ibis._.score)
    p7 = C.popularity(h, g.asof, 7).select("product_id", pop_7=ibis._.score)
    age = h.group_by("product_id").aggregate(item_age=C._days(h.ts.min(), g.asof),
                                             item_since_sold=C._days(h.ts.max(), g.asof))
    rep = C.repurchase(x, g.asof)
    cyc = rep.group_by("product_id").aggregate(item_cycle=rep.cycle_days.median(),
                                               item_repeat_rate=(rep.orders > 1).cast("float64").mean())
    price = h.group_by("product_id").aggregate(price=h.unit_price.median())
    prods = ws.table("products").select(product_id=ibis._.product_id.cast("string"), margin=ibis._.margin,
                                        category=ibis._.category)
    t = pop
    for other in (p30, p90, p7, age, cyc, price, prods):
        t = joined(t, other, ["product_id"])
    return t


def recent_pairs(g: Generators, who: ir.Table) -> ir.Table:
    """customer_id, product_id, orders_30, orders_90: the pair's orders in the last 30 and 90 days."""
    h = g.history.semi_join(who, "customer_id")
    h = h.filter(h.ts >= ibis.literal(g.asof - dt.timedelta(days=90)))
    recent = h.ts >= ibis.literal(g.asof - dt.timedelta(days=30))
    return h.group_by(["customer_id", "product_id"]).aggregate(
        orders_90=h.order_id.nunique(), orders_30=h.order_id.nunique(where=recent))


def customer_features(g: Generators) -> ir.Table:
    h = g.history
    recent = h.ts >= ibis.literal(g.asof - dt.timedelta(days=90))
    t = h.group_by("customer_id").aggregate(c_orders=h.order_id.nunique(), c_items=h.product_id.nunique(),
                                            c_orders_90=h.order_id.nunique(where=recent),
                                            c_last=h.ts.max(), c_first=h.ts.min())
    return t.mutate(c_days_since_last=C._days(t.c_last, g.asof), c_tenure=C._days(t.c_first, g.asof)).drop(
        "c_last", "c_first")


def candidate_features(ws, g: Generators, customers: ir.Table, protocol: str) -> pd.DataFrame:
    """One row per (customer, candidate item) with every feature, for ``customers`` (a table
    with customer_id), under ``protocol``: repeat (any item) or cross-sell (items not bought)."""
    who = customers.select(customer_id=customers.customer_id.cast("string")).distinct()
    x = g.x.semi_join(who, "customer_id")
    parts: dict[str, ir.Table] = {}
    rep = C.repurchase(x, g.asof)
    parts["rep"] = rep.select("customer_id", "product_id", rep_score=rep.score, rep_rank=rep["rank"],
                              orders=rep.orders, days_since_last=rep.days_since_last, cycle_days=rep.cycle_days,
                              due=rep.due)
    recent = interactions(g.history.semi_join(who, "customer_id").filter(
        g.history.ts >= ibis.literal(g.asof - dt.timedelta(days=RECENT_DAYS))))
    for w, sim in g.sim.items():
        s = C.knn_scores(x, sim, POOL)
        parts[w] = s.select("customer_id", "product_id", **{f"{w}_score": s.score, f"{w}_rank": s["rank"]})
        s = C.knn_scores(recent, sim, POOL)  # what goes with the customer's latest purchases
        parts[f"{w}_recent"] = s.select("customer_id", "product_id",
                                        **{f"{w}_recent_score": s.score, f"{w}_recent_rank": s["rank"]})
    ids = who.to_pyarrow().column("customer_id").to_numpy(zero_copy_only=False)
    staged = []
    for kind, f in g.factors.items():
        s = ws.engine.stage(_arrow(f.scores(ids, POOL)))
        staged.append(s)
        parts[kind] = s.select("customer_id", "product_id", **{f"{kind}_score": s.score, f"{kind}_rank": s["rank"]})
    pop = C.popularity(g.history, g.asof, 30)
    pop = pop.filter(pop["rank"] <= POPULAR).select("product_id")
    pairs = [t.select("customer_id", "product_id") for name, t in parts.items() if name != "rep" or protocol == "repeat"]
    pairs.append(who.cross_join(pop))
    cand = ibis.union(*pairs, distinct=True)
    if protocol == "cross-sell":
        cand = cand.anti_join(x, ["customer_id", "product_id"])
    t = cand
    for part in parts.values():
        t = joined(t, part, ["customer_id", "product_id"])
    t = joined(t, recent_pairs(g, who), ["customer_id", "product_id"])
    t = joined(t, item_features(ws, g), ["product_id"])
    t = joined(t, customer_features(g), ["customer_id"])
    t = joined(t, _category_affinity(ws, g, who), ["customer_id", "category"])
    # how much of the customer's buying the item is: all time and in the last 90 days
    t = t.mutate(share=t.orders / t.c_orders.cast("float64"),
                 share_90=t.orders_90 / t.c_orders_90.nullif(0).cast("float64"))
    try:
        frame = t.to_pyarrow().to_pandas()
    finally:
        for s in staged:
            ws.engine.release(s)
    return frame.sort_values(["customer_id", "product_id"], kind="stable").reset_index(drop=True)


def _category_affinity(ws, g: Generators, who: ir.Table) -> ir.Table:
    """customer_id, category, affinity: the share of the customer's purchase lines in the category."""
    prods = ws.table("products")
    prods = prods.filter(prods.category.notnull()).select(product_id=prods.product_id.cast("string"),
                                                          category=prods.category)
    h = g.history.semi_join(who, "customer_id").join(prods, "product_id")
    per = h.group_by(["customer_id", "category"]).aggregate(n=h.count())
    total = per.group_by("customer_id").aggregate(total=per.n.sum())
    per = per.join(total, "customer_id")
    return per.select("customer_id", "category", affinity=per.n.cast("float64") / per.total)


def _arrow(frame: pd.DataFrame):
    import pyarrow as pa

    schema = pa.schema([("customer_id", pa.string()), ("product_id", pa.string()), ("score", pa.float64()),
                        ("rank", pa.int64())])
    return pa.Table.from_pandas(frame.astype({"customer_id": str, "product_id": str, "score": float, "rank": "int64"}),
                                schema=schema, preserve_index=False)


FEATURES = ("rep_score", "rep_rank", "orders", "orders_30", "orders_90", "days_since_last", "cycle_days", "due",
            "bm25_score", "bm25_rank", "bm25_recent_score", "bm25_recent_rank", "als_score", "als_rank", "bpr_score", "bpr_rank",
            "pop_all", "pop_all_rank", "pop_30", "pop_30_rank", "pop_90", "pop_7", "item_age", "item_since_sold",
            "item_cycle", "item_repeat_rate", "price", "margin", "c_orders", "c_items", "c_orders_90",
            "c_days_since_last", "c_tenure", "affinity", "share", "share_90")


def matrix_of(frame: pd.DataFrame, features: tuple[str, ...] = FEATURES) -> np.ndarray:
    cols = [frame[c].astype(float).to_numpy() if c in frame else np.full(len(frame), np.nan) for c in features]
    return np.column_stack(cols)
