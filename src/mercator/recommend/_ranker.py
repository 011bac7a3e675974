"""The learned ranker: LightGBM LambdaRank over every generator's candidates.

Trained on time cuts of the history: at each cut the generators are fitted on what came
before it, the candidates and their features computed, and a candidate is labelled by how
many orders of the customer held it in the ``horizon`` after the cut (0-3, graded). Three
cuts, one horizon apart, triple the examples (``mercator recommend evaluate --cuts N`` on
Online Retail: repeat / cross-sell NDCG@10 0.371 / 0.113 with one cut, 0.376 / 0.121 with
two, 0.376 / 0.121 with three); negatives are sampled (30%)
because most candidates are not bought and LambdaRank's cost grows with the list length (in
development runs on Online Retail, not a repository command: 10 s instead of 26 s to train,
repeat NDCG@10 0.382 against 0.380 without sampling).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from mercator.recommend import _features as F

PROTOCOLS = ("repeat", "cross-sell")
MIN_BUYERS = 10  # customers whose purchases the ranker learns from, at the least


@dataclass(frozen=True)
class RankerConfig:
    horizon_days: int = 30
    cuts: int = 2
    negatives: float = 0.3
    min_child_samples: int = 50
    seed: int = 0


#: Trees per protocol: cross-sell has a third of repeat's purchases to learn from, so smaller
#: trees learn more slowly (development runs on Online Retail, on an earlier feature set:
#: cross-sell NDCG@10 0.119 -> 0.124; repeat no better and twice as slow).
TREES = {"repeat": {"n_estimators": 300, "learning_rate": 0.05, "num_leaves": 31},
         "cross-sell": {"n_estimators": 500, "learning_rate": 0.03, "num_leaves": 15}}
#: Features per protocol. BPR's candidates help both, its scores only cross-sell (development
#: runs on Online Retail: cross-sell NDCG@10 0.117 without its scores, 0.121 with; repeat no
#: better with them).
FEATURES = {"repeat": tuple(f for f in F.FEATURES if not f.startswith("bpr_")), "cross-sell": F.FEATURES}


@dataclass
class Ranker:
    """A fitted LambdaRank model for one protocol, with the calibration of its scores to the
    probability that the customer buys the item within the horizon."""

    protocol: str
    model: object
    calibration: object
    rows: int
    positives: int
    features: tuple[str, ...]

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        return self.model.predict(F.matrix_of(frame, self.features)) if len(frame) else np.empty(0)

    def probability(self, scores: np.ndarray) -> np.ndarray:
        return self.calibration.predict(scores) if len(scores) else scores


def labels(lines: ir.Table, start: dt.datetime, end: dt.datetime) -> ir.Table:
    """customer_id, product_id, y: orders of the pair in [start, end), at most 3."""
    w = lines.filter((lines.ts >= ibis.literal(start)) & (lines.ts < ibis.literal(end)))
    t = w.group_by(["customer_id", "product_id"]).aggregate(y=w.order_id.nunique())
    return t.mutate(y=ibis.least(t.y, 3))


def training_rows(ws, lines: ir.Table, asof: dt.datetime, config: RankerConfig, protocols=PROTOCOLS,
                  progress=None) -> dict[str, pd.DataFrame]:
    """Per protocol, the labelled candidates of every cut before ``asof``."""
    horizon = dt.timedelta(days=config.horizon_days)
    rng = np.random.default_rng(config.seed)
    rows: dict[str, list[pd.DataFrame]] = {p: [] for p in protocols}
    for n in range(1, config.cuts + 1):
        cut = asof - n * horizon
        if progress:
            progress("ranker: history cuts", n - 1, config.cuts)
        if lines.filter(lines.ts < ibis.literal(cut)).count().to_pyarrow().as_py() == 0:
            continue  # no history before this cut (a short workspace): the other cuts teach
        g = F.fit_generators(ws, lines, cut, seed=config.seed)
        try:
            y = labels(lines, cut, cut + horizon)
            buyers = y.select("customer_id").distinct().semi_join(g.x.select("customer_id").distinct(), "customer_id")
            truth = y.to_pyarrow().to_pandas()
            for p in protocols:
                f = F.candidate_features(ws, g, buyers, p).merge(truth, how="left", on=["customer_id", "product_id"])
                f["y"] = f.y.fillna(0).astype(int)
                f["cut"] = n
                f = f[f.groupby("customer_id").y.transform("sum") > 0]  # a list without a purchase teaches nothing
                keep = (f.y > 0) | (rng.random(len(f)) < config.negatives)
                rows[p].append(f[keep])
        finally:
            F.release(ws, g)
    if progress:
        progress("ranker: history cuts", config.cuts, config.cuts)
    return {p: pd.concat(r, ignore_index=True) if r else pd.DataFrame() for p, r in rows.items()}


def fit_ranker(rows: pd.DataFrame, protocol: str, config: RankerConfig) -> Ranker:
    import lightgbm as lgb
    from sklearn.isotonic import IsotonicRegression

    from mercator.errors import MercatorError

    buyers = rows[rows.y > 0].customer_id.nunique() if not rows.empty else 0
    if buyers < MIN_BUYERS:
        raise MercatorError(f"no purchases to learn the {protocol} ranking from: {buyers} customer(s) with history "
                            f"bought a candidate within {config.horizon_days} days of a cut (at least {MIN_BUYERS} "
                            "are needed; a longer --horizon or more history helps)")
    rows = rows.sort_values(["cut", "customer_id"], kind="stable")
    groups = rows.groupby(["cut", "customer_id"], sort=False).size().to_numpy()
    model = lgb.LGBMRanker(objective="lambdarank", **TREES[protocol], min_child_samples=config.min_child_samples, subsample=0.8, subsample_freq=1,
                           colsample_bytree=0.8, random_state=config.seed, verbose=-1, n_jobs=2,
                           deterministic=True, force_row_wise=True)
    x = F.matrix_of(rows, FEATURES[protocol])
    model.fit(x, rows.y.to_numpy(), group=groups)
    # scores -> probability of a purchase in the horizon; sampled negatives weigh 1/rate
    bought = (rows.y > 0).to_numpy()
    weight = np.where(bought, 1.0, 1.0 / config.negatives)
    calibration = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(
        model.predict(x), bought.astype(float), sample_weight=weight)
    return Ranker(protocol, model, calibration, len(rows), int(bought.sum()), FEATURES[protocol])
