"""Recommend: fit the recommender, evaluate it against every single generator, and ask it for
one customer or a batch."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import ibis
import numpy as np
import pandas as pd

from mercator.errors import BadParameter, MercatorError
from mercator.modelstore import config_hash, model_path, save_model
from mercator.recommend import _features as F
from mercator.recommend import _metrics as M
from mercator.recommend._data import as_datetime, purchase_lines, returned_pairs
from mercator.recommend._model import KEEP, Recommender
from mercator.recommend._ranker import PROTOCOLS, RankerConfig, fit_ranker, training_rows
from mercator.results import Finding, Recommendation, Result

Progress = Callable[[str, int, int], None]
_PACKAGES = ("lightgbm", "implicit", "scikit-learn", "numpy", "pandas")
_SUFFIX = ".mercator-model"


def _end_of(lines) -> dt.datetime:
    last = lines.ts.max().to_pyarrow().as_py()
    if last is None:
        raise MercatorError("no purchase lines to learn from (every order line is a return, has no customer or "
                            "no positive quantity, or no product id matches --products)")
    return (last + dt.timedelta(seconds=1)).replace(tzinfo=None)


def _reasons(frame: pd.DataFrame) -> pd.Series:
    """Why each candidate is there: the generator that ranked it best, in words."""
    cols = {"rep_rank": "bought before", "bm25_rank": "often bought with what they bought",
            "bm25_recent_rank": "goes with their latest purchases", "als_rank": "customers like them buy it",
            "bpr_rank": "customers like them buy it",
"pop_30_rank": "popular in the last 30 days"}
    ranks = pd.DataFrame({c: frame.get(c, np.nan) for c in cols}).fillna(np.inf)
    best = ranks.to_numpy().argmin(axis=1)
    text = np.array(list(cols.values()))[best]
    rep = frame.get("orders")
    if rep is not None:
        bought = rep.notna() & (ranks["rep_rank"].to_numpy() == ranks.min(axis=1).to_numpy())
        cyc = frame.get("cycle_days")
        text = np.where(bought, "bought " + rep.fillna(0).astype(int).astype(str) + " times"
                        + np.where(cyc.notna(), ", every " + cyc.fillna(0).round().astype(int).astype(str) + " days",
                                   "") + ", last " + frame.days_since_last.fillna(0).round().astype(int).astype(str)
                        + " days ago", text)
    return pd.Series(text, index=frame.index)


def _ranked_lists(frame: pd.DataFrame, score: np.ndarray, keep: int | None, p: np.ndarray | None = None
                  ) -> pd.DataFrame:
    out = frame[["customer_id", "product_id"]].copy()
    out["score"] = score
    if p is not None:
        out["p"] = p
    out = out[np.isfinite(out.score)]  # a generator's list holds only what it proposed
    out = out.sort_values(["customer_id", "score", "product_id"], ascending=[True, False, True], kind="stable")
    out["rank"] = out.groupby("customer_id").cumcount() + 1
    return out if keep is None else out[out["rank"] <= keep]


# -- fit --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RecommenderResult(Result):
    """A fitted recommender: what its rankers learned from, what drives them, and a sample."""

    kind = "recommender"
    title = "Recommender"
    headline = ("rankers", "importance")
    display: ClassVar[dict[str, tuple[str, ...]]] = {
        "rankers": ("protocol", "training_rows", "purchases", "customers_with_lists"),
        "importance": ("protocol", "feature", "gain_share")}
    model: Recommender | None = field(default=None, compare=False, repr=False)

    def figures(self) -> list:
        import plotly.graph_objects as go

        imp = self.to_frame("importance") if "importance" in self.tables else pd.DataFrame()
        if imp.empty:
            return []
        fig = go.Figure()
        for protocol, part in imp.groupby("protocol", sort=False):
            top = part.head(12).iloc[::-1]
            fig.add_bar(x=top.gain_share, y=top.feature, orientation="h", name=protocol)
        fig.update_layout(title="What the ranker uses (share of LightGBM gain)", xaxis_tickformat=".0%", height=460,
                          barmode="group")
        return [fig]


def fit_recommender(ws, *, products: str | None = None, horizon_days: int = 30, cuts: int = 2,
                    protocols: Sequence[str] = PROTOCOLS, segment_set: str | None = None, seed: int = 0,
                    save: bool = False, save_to: str | Path | None = None,
                    progress: Progress | None = None) -> RecommenderResult:
    """Fit the generators and the LambdaRank rankers on the workspace's orders and order items.

    Args:
        products: a regular expression product ids must match to count (``^\\d`` keeps Online
            Retail's products and drops postage, fees and manual lines).
        horizon_days: what the ranker learns to predict: purchases in this many days after a cut.
        cuts: history cuts the ranker is trained on (each one horizon earlier).
        protocols: ``repeat`` (anything) and/or ``cross-sell`` (only items not bought yet).
        segment_set: a saved segment set whose segments give cold customers their fallback.
        save: keep the fitted model beside the workspace (the CLI and the API ask for it).
    """
    protocols = _protocols(protocols)
    config = RankerConfig(horizon_days=horizon_days, cuts=cuts, seed=seed)
    lines = ws.engine.materialize(purchase_lines(ws, products=products))
    try:
        asof = _end_of(lines)
        rows = training_rows(ws, lines, asof, config, protocols, progress=progress)
        rankers = {p: fit_ranker(rows[p], p, config) for p in protocols}
        if progress:
            progress("scoring every customer", 0, 1)
        g = F.fit_generators(ws, lines, asof, seed=seed)
        try:
            everyone = g.x.select("customer_id").distinct()
            lists = {}
            for p in protocols:
                f = F.candidate_features(ws, g, everyone, p)
                score = rankers[p].score(f)
                ranked = _ranked_lists(f, score, KEEP, rankers[p].probability(score))
                ranked["reason"] = _reasons(f).loc[ranked.index].to_numpy()
                lists[p] = ranked
            popular = _popular(g)
            bought = _grouped(g.x.select("customer_id", "product_id").to_pyarrow().to_pandas())
        finally:
            F.release(ws, g)
        if progress:
            progress("scoring every customer", 1, 1)
        segments, seg_popular = _segments(ws, lines, segment_set)
        model = Recommender(asof=asof, config={"products": products, "horizon_days": horizon_days, "cuts": cuts,
                                               "seed": seed, "segment_set": segment_set},
                            lists=lists, popular=popular, products=_catalogue(ws), segments=segments,
                            segment_popular=seg_popular, bought=bought,
                            returned=_grouped(returned_pairs(ws).to_pyarrow().to_pandas()))
    finally:
        ws.engine.release(lines)
    return _fit_result(ws, model, rankers, save, save_to)


def _fit_result(ws, model: Recommender, rankers: dict, save: bool, save_to) -> RecommenderResult:
    config = {**model.config, "protocols": list(rankers)}
    chash = config_hash(config)
    path = None
    if save or save_to is not None:
        path = model_path(ws, save_to, f"recommend-{chash[:8]}", _SUFFIX)
        save_model(path, {"recommender": model}, config, _PACKAGES, ws=ws)
    summary = pd.DataFrame([{"protocol": p, "training_rows": r.rows, "purchases": r.positives,
                             "customers_with_lists": model.lists[p].customer_id.nunique()} for p, r in rankers.items()])
    imp = []
    for p, r in rankers.items():
        gain = r.model.booster_.feature_importance("gain")
        share = gain / gain.sum() if gain.sum() else gain
        imp.append(pd.DataFrame({"protocol": p, "feature": r.features, "gain_share": share}).sort_values(
            "gain_share", ascending=False))
    importance = pd.concat(imp, ignore_index=True)
    top = importance.groupby("protocol").head(3)
    findings = [Finding(f"Fitted on purchases up to {model.asof:%Y-%m-%d}: {model.customers:,} customers have "
                        f"personalized lists; the {p} ranker learned from {r.rows:,} candidates "
                        f"({r.positives:,} bought within {model.config['horizon_days']} days).",
                        metric="training_rows", value=float(r.rows), impact=1.0) for p, r in rankers.items()]
    findings += [Finding(f"The {p} ranker leans most on " + ", ".join(part.feature) + ".", impact=0.5)
                 for p, part in top.groupby("protocol", sort=False)]
    return RecommenderResult(tables={"rankers": summary, "importance": importance},
                             findings=tuple(findings),
                             params={**config, "asof": model.asof.isoformat(), "model": str(path) if path else None,
                                     "config_hash": chash},
                             model=model)


def _protocols(protocols: Sequence[str] | str) -> tuple[str, ...]:
    protocols = (protocols,) if isinstance(protocols, str) else tuple(protocols)
    bad = [p for p in protocols if p not in PROTOCOLS]
    if bad or not protocols:
        raise BadParameter(f"unknown protocol {', '.join(bad) or '(none)'}; use repeat and/or cross-sell")
    return protocols


def _popular(g: F.Generators, top: int = 200) -> pd.DataFrame:
    from mercator.recommend._candidates import popularity

    pop = popularity(g.history, g.asof, 30)
    return pop.filter(pop["rank"] <= top).order_by("rank").select("product_id", "score").to_pyarrow().to_pandas()


def _grouped(pairs: pd.DataFrame) -> dict[str, set[str]]:
    return {c: set(p) for c, p in pairs.groupby("customer_id").product_id} if len(pairs) else {}


def _catalogue(ws) -> pd.DataFrame:
    p = ws.table("products")
    return p.select(product_id=p.product_id.cast("string"), name=p.name, category=p.category, price=p.price,
                    margin=p.margin).to_pyarrow().to_pandas()


def _segments(ws, lines, segment_set: str | None) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Each customer's segment in ``segment_set`` and each segment's 50 most bought items."""
    if segment_set is None:
        return {}, {}
    from mercator.recommend._candidates import segment_popularity

    m = ws.table("segment_members")
    m = m.filter(m.segment_set == segment_set)
    if m.count().to_pyarrow().as_py() == 0:
        raise BadParameter(f"no saved segment set {segment_set!r} (save one with `mercator segment rfm --save`)")
    members = m.select(customer_id=m.customer_id.cast("string"), segment=m.segment).to_pyarrow().to_pandas()
    pop = segment_popularity(lines, m.select("customer_id", "segment"))
    pop = pop.filter(pop["rank"] <= 50).order_by(["segment", "rank"]).to_pyarrow().to_pandas()
    return (dict(zip(members.customer_id, members.segment, strict=True)),
            {s: list(part.product_id) for s, part in pop.groupby("segment", sort=False)})


# -- evaluate ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class RecommendEvaluation(Result):
    """Ranking metrics at k of the ranker and of every single generator on a time split, with
    paired bootstrap intervals."""

    kind = "recommend_evaluation"
    title = "Recommendations: evaluation on a time split"
    headline = ("metrics", "versus")
    display: ClassVar[dict[str, tuple[str, ...]]] = {
        "metrics": ("protocol", "model", "ndcg", "ndcg_low", "ndcg_high", "precision", "recall", "map", "hit_rate",
                    "coverage", "novelty", "customers"),
        "versus": ("protocol", "model", "ndcg_gain", "low", "high")}

    def figures(self) -> list:
        from plotly.subplots import make_subplots

        m = self.to_frame("metrics")
        if m.empty:
            return []
        fig = make_subplots(rows=1, cols=2, subplot_titles=(f"NDCG@{self.params['k']} (95% interval)",
                                                            "Catalogue coverage against NDCG"))
        for protocol, part in m.groupby("protocol", sort=False):
            fig.add_bar(x=part.model + " (" + protocol + ")", y=part.ndcg, name=protocol,
                        error_y={"type": "data", "symmetric": False, "array": part.ndcg_high - part.ndcg,
                                 "arrayminus": part.ndcg - part.ndcg_low}, row=1, col=1)
            fig.add_scatter(x=part.coverage, y=part.ndcg, text=part.model, mode="markers+text",
                            textposition="top center", name=f"{protocol}: coverage", row=1, col=2)
        fig.update_xaxes(title_text="catalogue coverage", tickformat=".0%", row=1, col=2)
        fig.update_layout(height=440, showlegend=True)
        return [fig]


def evaluate_recommenders(ws, *, split: dt.date | dt.datetime | str, until: dt.date | dt.datetime | str | None = None,
                          k: int = 10, products: str | None = None, protocols: Sequence[str] = PROTOCOLS,
                          cuts: int = 2, resamples: int = 1000, seed: int = 0,
                          progress: Progress | None = None) -> RecommendEvaluation:
    """Train on purchases before ``split``, recommend ``k`` items to every customer with history,
    and score the lists against what each bought from ``split`` to ``until`` (items of the
    training catalogue only). The ranker's horizon is the test window's length."""
    protocols = _protocols(protocols)
    if k < 1:
        raise BadParameter("k must be at least 1")
    asof = as_datetime(split)
    lines = ws.engine.materialize(purchase_lines(ws, products=products))
    try:
        end = as_datetime(until) if until is not None else _end_of(lines)
        if end <= asof:
            raise BadParameter(f"the test window is empty: --until {end:%Y-%m-%d} is not after --split {asof:%Y-%m-%d}")
        config = RankerConfig(horizon_days=max(1, round((end - asof).total_seconds() / 86400)), cuts=cuts, seed=seed)
        rows = training_rows(ws, lines, asof, config, protocols, progress=progress)
        rankers = {p: fit_ranker(rows[p], p, config) for p in protocols}
        g = F.fit_generators(ws, lines, asof, seed=seed)
        try:
            truth = _truth(lines, g, asof, end)
            history = g.x.select("customer_id", "product_id").to_pyarrow().to_pandas()
            testers = ibis.memtable(pd.DataFrame({"customer_id": truth.customer_id.unique()}))
            frames = {p: F.candidate_features(ws, g, testers, p) for p in protocols}
        finally:
            F.release(ws, g)
    finally:
        ws.engine.release(lines)
    catalogue = history.product_id.nunique()
    metrics, versus = [], []
    for p in protocols:
        target = truth if p == "repeat" else _not_bought(truth, history)
        f = frames[p]
        lists = {name: _ranked_lists(f, s, k) for name, s in _baseline_scores(f, p).items()}
        lists["ranker"] = _ranked_lists(f, rankers[p].score(f), k)
        per = {name: M.per_customer(r, target, k).set_index("customer_id") for name, r in lists.items()}
        customers = per["ranker"].index
        for name, r in lists.items():
            m = per[name].reindex(customers).fillna(0.0)
            lo, hi = M.paired_bootstrap(m.ndcg.to_numpy(), resamples=resamples, seed=seed)
            metrics.append({"protocol": p, "model": name, "k": k, "ndcg": m.ndcg.mean(), "ndcg_low": lo,
                            "ndcg_high": hi, "precision": m.precision.mean(), "recall": m.recall.mean(),
                            "map": m["map"].mean(), "hit_rate": m.hit_rate.mean(),
                            "coverage": M.coverage(r, catalogue, k), "novelty": M.novelty(r, history, k),
                            "customers": len(customers)})
            if name != "ranker":
                gain = per["ranker"].ndcg.to_numpy() - m.ndcg.to_numpy()
                lo, hi = M.paired_bootstrap(gain, resamples=resamples, seed=seed)
                versus.append({"protocol": p, "model": f"ranker vs {name}", "ndcg_gain": gain.mean(), "low": lo,
                               "high": hi})
    metrics_df, versus_df = pd.DataFrame(metrics), pd.DataFrame(versus)
    return RecommendEvaluation(tables={"metrics": metrics_df, "versus": versus_df},
                               findings=tuple(_evaluation_findings(metrics_df, versus_df, k)),
                               recommendations=tuple(_evaluation_advice(metrics_df, versus_df)),
                               params={"split": asof.isoformat(), "until": end.isoformat(), "k": k,
                                       "products": products, "protocols": list(protocols),
                                       "horizon_days": config.horizon_days, "cuts": cuts, "resamples": resamples})


def _truth(lines, g: F.Generators, asof: dt.datetime, end: dt.datetime) -> pd.DataFrame:
    """What each customer with history bought in [asof, end), among the items with history."""
    t = lines.filter((lines.ts >= ibis.literal(asof)) & (lines.ts < ibis.literal(end)))
    t = t.semi_join(g.x.select("customer_id").distinct(), "customer_id")
    t = t.semi_join(g.x.select("product_id").distinct(), "product_id")
    return t.select("customer_id", "product_id").distinct().to_pyarrow().to_pandas()


def _not_bought(pairs: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``pairs`` whose (customer, product) is not in ``history``."""
    m = pairs.merge(history[["customer_id", "product_id"]], how="left", on=["customer_id", "product_id"],
                    indicator=True)
    return m[m.pop("_merge") == "left_only"].reset_index(drop=True)


def _baseline_scores(f: pd.DataFrame, protocol: str) -> dict[str, np.ndarray]:
    """Each single generator's order of the candidates (higher is better)."""
    out = {"popular": -f.pop_30_rank.fillna(np.inf).to_numpy()}
    if protocol == "repeat":
        out["repurchase"] = f.rep_score.fillna(-np.inf).to_numpy()
    for g in ("bm25", "als", "bpr"):
        if f"{g}_score" in f:
            out[g] = f[f"{g}_score"].fillna(-np.inf).to_numpy()
    return out


def _evaluation_findings(metrics: pd.DataFrame, versus: pd.DataFrame, k: int) -> list[Finding]:
    out = []
    for p, part in metrics.groupby("protocol", sort=False):
        r = part[part.model == "ranker"].iloc[0]
        base = part[part.model != "ranker"].sort_values("ndcg", ascending=False).iloc[0]
        v = versus[(versus.protocol == p) & (versus.model == f"ranker vs {base.model}")].iloc[0]
        better = "above" if v.low > 0 else ("below" if v.high < 0 else "not distinguishable from")
        out.append(Finding(f"{p}: the ranker's NDCG@{k} is {r.ndcg:.3f} ({r.ndcg_low:.3f} to {r.ndcg_high:.3f}), "
                           f"{better} the best single generator, {base.model} ({base.ndcg:.3f}; gain "
                           f"{v.ndcg_gain:+.3f}, {v.low:+.3f} to {v.high:+.3f}), over {int(r.customers):,} customers.",
                           metric="ndcg", segment=p, value=float(r.ndcg), interval=(float(r.ndcg_low),
                                                                                     float(r.ndcg_high)),
                           impact=2.0))
        out.append(Finding(f"{p}: the ranker's lists cover {r.coverage:.0%} of the catalogue (best single generator "
                           f"{base.coverage:.0%}); hit rate {r.hit_rate:.0%}.", metric="coverage", segment=p,
                           value=float(r.coverage), impact=1.0))
    return out


def _evaluation_advice(metrics: pd.DataFrame, versus: pd.DataFrame) -> list[Recommendation]:
    out = []
    for p, part in versus.groupby("protocol", sort=False):
        worst = part.sort_values("low").iloc[0]
        if worst.low > 0:
            out.append(Recommendation(
                f"Serve the ranker's {p} lists: it beats every single generator on this split.",
                expected_impact=float(part.ndcg_gain.min()), interval=(float(worst.low), float(worst.high)),
                unit="NDCG gain over the closest generator", evidence=f"paired bootstrap over customers ({worst.model})"))
    return out


# -- ask --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Recommendations(Result):
    """What to offer one customer next, with the probability, the reason for each item and why
    this list (personalized or which fallback)."""

    kind = "recommendations"
    title = "Recommendations"
    display: ClassVar[dict[str, tuple[str, ...]]] = {"items": ("rank", "product_id", "name", "p", "reason")}


def recommender_path(workspace: str | None, model: str | None = None) -> Path:
    """The file of a saved recommender: ``model`` (a file, or an id beside the workspace), or the newest."""
    from mercator.modelstore import find_saved

    return Path(model) if model and Path(model).is_file() else find_saved(
        workspace, _SUFFIX, "recommender", "mercator recommend fit", model, prefix="recommend-")


def find_recommender(workspace: str | None, model: str | None = None, *, required: bool = True
                     ) -> Recommender | None:
    """A saved recommender: ``model`` (a file, or an id beside the workspace), or the newest
    (None if there is none and it is not ``required``)."""
    from mercator.errors import NotFoundError
    from mercator.modelstore import load_model

    try:
        path = recommender_path(workspace, model)
    except NotFoundError:
        if required or model is not None:
            raise
        return None
    saved = load_model(path)
    if "recommender" not in saved:
        raise MercatorError(f"{path}: not a recommender")
    return saved["recommender"]


def out_of_stock(ws) -> frozenset[str]:
    """The products whose stock is at zero or below now: never recommended or offered (a product
    whose stock is not tracked, empty, counts as available)."""
    p = ws.table("products")
    return frozenset(p.filter(p.stock <= 0).product_id.cast("string").to_pyarrow().to_pylist())


def recommend_for(model: Recommender, customer_id: str, *, protocol: str = "repeat", k: int = 10,
                  per_category: int | None = None, margin_aware: bool = False, ws=None,
                  purpose: str | None = "personalization", consented: bool | None = None,
                  unavailable: frozenset[str] | None = None) -> Recommendations:
    """``customer_id``'s next best items. A customer without consent to ``purpose``
    (personalization), checked in the workspace ``ws`` by the one targeting filter (or given as
    ``consented`` by a caller that checked it so), gets the non-personalized default. Products
    out of stock in ``ws`` now (or ``unavailable``, from a caller that read them so) are left out."""
    if unavailable is None:
        unavailable = out_of_stock(ws) if ws is not None else frozenset()
    personalized = True if consented is None else consented
    if consented is None and ws is not None and purpose:
        from mercator.govern import eligible_frame

        ok, _ = eligible_frame(ws, pd.DataFrame({"customer_id": [str(customer_id)]}), id_col="customer_id",
                               purpose=purpose)
        personalized = len(ok) == 1
    items, why = model.recommend(str(customer_id), protocol=protocol, k=k, per_category=per_category,
                                 margin_aware=margin_aware, personalized=personalized, exclude=unavailable)
    return Recommendations(tables={"items": items}, findings=(Finding(f"{customer_id}: {why}.", impact=1.0),),
                           params={"customer_id": str(customer_id), "protocol": protocol, "k": k,
                                   "per_category": per_category, "margin_aware": margin_aware, "reason": why,
                                   "out_of_stock": len(unavailable),
                                   "model_asof": model.asof.isoformat()})


@dataclass(frozen=True)
class BatchResult(Result):
    """Top-k lists for every customer the model knows who may be personalized to (the whole list
    is written by the caller; the result carries the counts and the first rows)."""

    kind = "recommend_batch"
    title = "Recommendations for every customer"
    headline = ("summary", "preview")
    display: ClassVar[dict[str, tuple[str, ...]]] = {"preview": ("customer_id", "rank", "product_id", "p", "reason")}
    lists: pd.DataFrame | None = field(default=None, compare=False, repr=False)


def recommend_batch(ws, model: Recommender, *, protocol: str = "repeat", k: int = 10,
                    per_category: int | None = None, purpose: str | None = "personalization",
                    suppress_segments: Sequence[str] = ()) -> BatchResult:
    """Every known customer's top ``k``, without those who have not consented to ``purpose`` or
    are in ``suppress_segments`` (the one engine-side targeting filter): they are left out; and
    without the products out of stock now."""
    from mercator.govern import eligible_frame

    unavailable = out_of_stock(ws)
    lists = model.batch(protocol=protocol, k=k, per_category=per_category, exclude=unavailable)
    people = pd.DataFrame({"customer_id": lists.customer_id.unique()})
    kept, removed = eligible_frame(ws, people, id_col="customer_id", purpose=purpose,
                                   suppress_segments=suppress_segments)
    lists = lists[lists.customer_id.isin(kept.customer_id)].reset_index(drop=True)
    summary = pd.DataFrame([{"customers": len(people), "left_out": len(people) - len(kept),
                             "customers_listed": lists.customer_id.nunique(), "rows": len(lists)}])
    reasons = lists.reason.value_counts().rename_axis("reason").reset_index(name="items")
    findings = [Finding(f"{lists.customer_id.nunique():,} customers get {protocol} lists of up to {k}; "
                        f"{len(people) - len(kept):,} left out by consent and suppression"
                        + (f" ({', '.join(f'{r}: {n:,}' for r, n in removed.items())})" if removed else "") + ".",
                        metric="customers", value=float(lists.customer_id.nunique()), impact=1.0)]
    return BatchResult(tables={"summary": summary, "reasons": reasons, "preview": lists.head(20)},
                       findings=tuple(findings),
                       params={"protocol": protocol, "k": k, "per_category": per_category, "purpose": purpose,
                               "suppress_segments": list(suppress_segments), "model_asof": model.asof.isoformat(),
                               "out_of_stock": len(unavailable)},
                       lists=lists)
