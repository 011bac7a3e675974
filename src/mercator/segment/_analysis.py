"""The public analyses of ``mercator.segment`` (the package re-exports them)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

import ibis
import numpy as np
import pandas as pd
import plotly.graph_objects as go

from mercator.errors import MercatorError
from mercator.results import Finding, Result
from mercator.segment._features import FEATURES, customer_features
from mercator.segment._rfm import RFM_SEGMENTS, cut_points, rfm_table
from mercator.workspace import Workspace

_DESCRIPTIONS = {name: text for name, _r, _f, text in RFM_SEGMENTS} | {"other": "not matched by the grid"}


@dataclass(frozen=True)
class RfmResult(Result):
    kind = "rfm"
    title = "RFM segments"
    headline = ("segments",)

    def figures(self) -> list:
        seg = self.to_frame("segments")
        if seg.empty:
            return []
        tree = go.Figure(go.Treemap(labels=seg["segment"], parents=[""] * len(seg), values=seg["customers"],
                                    customdata=seg["share_of_revenue"],
                                    texttemplate="%{label}<br>%{value:,} customers<br>%{customdata:.0%} of revenue"))
        tree.update_layout(title="Segment map: customers per RFM segment", height=420)
        grid = self.to_frame("grid")
        heat = go.Figure(go.Heatmap(x=grid.columns.astype(str), y=grid.index.astype(str), z=grid.to_numpy(),
                                    colorscale="Blues", hovertemplate="F %{x}, R %{y}: %{z:,} customers"))
        heat.update_layout(title="Customers by recency (R) and frequency (F) score", xaxis_title="F",
                           yaxis_title="R", height=380)
        return [tree, heat]


def rfm(ws: Workspace, *, quantiles: int | list[float] = 5, as_of: dt.date | None = None, min_size: int = 50,
        save: bool = False) -> RfmResult:
    """RFM scores and named segments of every customer with orders up to ``as_of`` (default: the
    day after the last order); profiles in words; saved to the workspace when ``save``."""
    cut_points(quantiles)  # validates before any query
    as_of = _reference_date(ws, as_of)
    t = rfm_table(ws.table("orders"), as_of, quantiles)
    per = t.group_by("segment").aggregate(
        customers=t.count(), revenue=t.monetary.sum(), recency_days=t.recency_days.mean(),
        frequency=t.frequency.mean(), monetary=t.monetary.mean(), r=t.r.mean(), f=t.f.mean(),
        m=t.m.mean()).to_pandas()
    if per.empty:
        raise MercatorError(f"no customers with orders up to {as_of}")
    grid = t.group_by(["r", "f"]).aggregate(n=t.count()).to_pandas().pivot(index="r", columns="f", values="n") \
        .fillna(0).astype(int).sort_index(ascending=False)
    total_n, total_rev = per["customers"].sum(), per["revenue"].sum()
    overall = {c: float((per[c] * per["customers"]).sum() / total_n) for c in ("recency_days", "frequency", "monetary")}
    per["share_of_customers"] = per["customers"] / total_n
    per["share_of_revenue"] = per["revenue"] / total_rev if total_rev else np.nan
    per["too_small"] = per["customers"] < min_size
    per["description"] = per["segment"].map(_DESCRIPTIONS)
    per["profile"] = [_profile(r, overall) for r in per.itertuples()]
    order = {name: i for i, (name, *_rest) in enumerate(RFM_SEGMENTS)}
    per = per.sort_values("segment", key=lambda s: s.map(order).fillna(len(order)), ignore_index=True)
    params = {"quantiles": quantiles, "as_of": as_of.isoformat(), "min_size": min_size,
              "customers": int(total_n), "cut_points": cut_points(quantiles)}
    segment_set = _run_id("rfm", {**params, "revenue": round(float(total_rev), 2)})
    params["segment_set"] = segment_set
    if save:
        _save(ws, t, per, segment_set, params)
    findings = [Finding(r.profile, metric="customers", segment=r.segment, value=float(r.customers),
                        impact=float(r.share_of_revenue) if r.share_of_revenue == r.share_of_revenue else 0.0)
                for r in per.itertuples()]
    small = per[per.too_small]
    if len(small):
        findings.append(Finding(f"Segments under {min_size} customers, too small to act on alone: "
                                + ", ".join(f"{r.segment} ({r.customers})" for r in small.itertuples()) + ".",
                                metric="customers", impact=0.0))
    return RfmResult(tables={"segments": per, "grid": grid}, findings=tuple(findings), params=params)


def _reference_date(ws: Workspace, as_of: dt.date | None) -> dt.date:
    """``as_of``, or the day after the last order (a clear error when there are no orders)."""
    o = ws.table("orders")
    last = o.aggregate(hi=o.ts.max()).to_pyarrow().to_pylist()[0]["hi"]
    if last is None:
        raise MercatorError("orders is empty: load orders first (mercator ingest)")
    return as_of or (last.date() + dt.timedelta(days=1))


def _profile(r, overall: dict) -> str:
    return (f"{r.segment} ({r.description}): {r.customers:,} customers ({r.share_of_customers:.0%}), "
            f"{r.share_of_revenue:.0%} of revenue; last purchase {r.recency_days:,.0f} days ago on average "
            f"(all customers {overall['recency_days']:,.0f}), {r.frequency:.1f} purchase days "
            f"({overall['frequency']:.1f}), {r.monetary:,.2f} spent ({overall['monetary']:,.2f}).")


def _save(ws: Workspace, t, per: pd.DataFrame, segment_set: str, params: dict) -> None:
    """The definitions and the members, replacing an earlier save of the same run."""
    grid = {name: {"r": list(r), "f": list(f)} for name, r, f, _ in RFM_SEGMENTS}
    definitions = [{"scores_5_level": grid.get(s), "rule": "first match in RFM_SEGMENTS order"
                    if s != "other" else "no rule matched"} for s in per["segment"]]
    members = t.select(segment_set=ibis.literal(segment_set), customer_id=t.customer_id, segment=t.segment)
    _save_set(ws, "rfm", segment_set, per["segment"], definitions, per["customers"], params, members)


def _save_set(ws: Workspace, kind: str, segment_set: str, names, definitions: list[dict], sizes,
              params: dict, members) -> None:
    """Write a segmentation run (its segments' logic and its members), replacing an earlier save."""
    defs = pd.DataFrame({
        "segment_set": segment_set, "segment": list(names), "kind": kind,
        "definition": [json.dumps(d, default=float) for d in definitions],
        "params": json.dumps(params, default=str), "customers": np.asarray(sizes, dtype="int64"),
        "created_at": pd.Timestamp.now(tz="UTC").tz_localize(None)})
    ws.replace("segments", defs, on=["segment_set"])
    ws.replace("segment_members", members, on=["segment_set"])


def _num(v: float) -> str:
    return f"{v:,.2f}" if abs(v) < 10 else f"{v:,.1f}"


def _run_id(kind: str, config: dict) -> str:
    return f"{kind}-" + hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:12]


# -- behavioural clusters ------------------------------------------------------------------------

@dataclass(frozen=True)
class ClusterResult(Result):
    kind = "clusters"
    title = "Behavioural segments"
    headline = ("clusters",)

    def figures(self) -> list:
        prof = self.to_frame("clusters")
        if prof.empty:
            return []
        z = prof[[f"z_{f}" for f in self.params["features"]]].to_numpy()
        heat = go.Figure(go.Heatmap(z=z, x=self.params["features"], y=prof["segment"], colorscale="RdBu",
                                    zmid=0, hovertemplate="%{y}, %{x}: %{z:+.2f} sd from the average"))
        heat.update_layout(title="Segment profiles: each feature's mean, in standard deviations from all customers",
                           height=120 + 50 * len(prof))
        sel = self.to_frame("selection")
        metric = "silhouette" if "silhouette" in sel else "bic"
        pick = go.Figure(go.Scatter(x=sel["k"], y=sel[metric], mode="lines+markers"))
        pick.update_layout(title=f"Choosing k: {metric} (k = {self.params['k']} chosen)", xaxis_title="k",
                           yaxis_title=metric, height=320)
        return [heat, pick]


def cluster(ws: Workspace, *, method: str = "kmeans", k: int | None = None, ks: range = range(2, 9),
            min_share: float = 0.02, rounds: int = 20, as_of: dt.date | None = None, fit_sample: int = 50_000,
            channel: str | None = None, seed: int = 0, save: bool = False) -> ClusterResult:
    """Behavioural segments of customers from their order features (computed in the engine).

    ``method`` kmeans (k by silhouette) or gmm (k by BIC); ``k`` fixes it. Clusters smaller than
    ``min_share`` of customers rule a k out. Stability by ``rounds`` bootstrap refits: the
    adjusted Rand index of each against the chosen solution, and per cluster the mean best
    Jaccard match (under 0.6: flagged unstable). Above ``fit_sample`` customers, models are fitted
    on a random sample and label everyone. ``channel`` keeps one sales channel's orders.
    """
    from mercator.segment._cluster import UNSTABLE_JACCARD, choose_k, fit_labels, prepare, stability

    if method not in ("kmeans", "gmm"):
        raise MercatorError(f"method must be kmeans or gmm; got {method!r}")
    as_of = _reference_date(ws, as_of)
    feats = customer_features(ws, as_of, channel)
    names = list(FEATURES)
    if len(feats) < 50:
        raise MercatorError(f"clustering needs at least 50 customers with purchases; there are {len(feats)}")
    x, _scaler = prepare(feats[names], [f for f, (_d, log) in FEATURES.items() if log])
    keep = np.nanstd(x, axis=0) > 0  # a constant feature (no returns at all) says nothing
    x, used = x[:, keep], [f for f, kept in zip(names, keep, strict=True) if kept]
    rng = np.random.default_rng(seed)
    fit_idx = rng.choice(len(x), fit_sample, replace=False) if len(x) > fit_sample else np.arange(len(x))
    xs = x[fit_idx]
    if k is None:
        choice = choose_k(xs, method, ks, min_share, seed)
        k, selection = choice.k, choice.scores
    else:
        selection = pd.DataFrame({"k": [k]})
    _lab, model = fit_labels(xs, method, k, seed)
    labels = model.predict(x)
    aris, jaccard = stability(xs, model.predict(xs), method, k, rounds, seed) if rounds else (np.array([]),
                                                                                            np.full(k, np.nan))
    # clusters ordered by size, named by what sets them apart
    order = np.argsort(-np.bincount(labels, minlength=k))
    rank = np.empty(k, int)
    rank[order] = np.arange(k)
    labels, jaccard = rank[labels], jaccard[order]
    z = pd.DataFrame(x, columns=used).groupby(labels).mean()
    raw = feats[names].groupby(labels).mean()
    overall = feats[names].mean()
    rows = []
    for c in range(k):
        n_c = int((labels == c).sum())
        top = z.loc[c].abs().sort_values(ascending=False).index[:3]
        name = f"s{c + 1}: " + ", ".join(f"{'high' if z.loc[c, f] > 0 else 'low'} {f}" for f in top[:2])
        words = "; ".join(f"{FEATURES[f][0]} {_num(raw.loc[c, f])} vs {_num(overall[f])} overall" for f in top)
        row = {"segment": name, "customers": n_c, "share": n_c / len(labels), "stability_jaccard": jaccard[c],
               "unstable": bool(jaccard[c] < UNSTABLE_JACCARD) if rounds else None,
               "profile": f"{name} ({n_c:,} customers, {n_c / len(labels):.0%}): {words}."}
        row.update({f: raw.loc[c, f] for f in names})
        row.update({f"z_{f}": z.loc[c, f] for f in used})
        rows.append(row)
    prof = pd.DataFrame(rows)
    params = {"method": method, "k": k, "as_of": as_of.isoformat(), "channel": channel, "features": used,
              "min_share": min_share,
              "rounds": rounds, "customers": len(labels), "fitted_on": len(fit_idx), "seed": seed,
              "mean_ari": float(aris.mean()) if len(aris) else None}
    segment_set = _run_id("cluster", {**params, "monetary": round(float(feats["monetary"].sum()), 2)})
    params["segment_set"] = segment_set
    findings = [Finding(r.profile + (" Unstable across bootstrap refits (Jaccard "
                                     f"{r.stability_jaccard:.2f})." if r.unstable else ""),
                        metric="customers", segment=r.segment, value=float(r.customers), impact=float(r.share),
                        confidence=None if r.stability_jaccard != r.stability_jaccard else float(r.stability_jaccard))
                for r in prof.itertuples()]
    if len(aris):
        findings.insert(0, Finding(
            f"{k} segments by {method} ({'silhouette' if method == 'kmeans' else 'BIC'}); bootstrap stability: mean "
            f"adjusted Rand index {aris.mean():.2f} over {rounds} refits"
            + ("." if not prof.unstable.any() else f"; {int(prof.unstable.sum())} segment(s) unstable."),
            metric="ari", value=float(aris.mean()), impact=1.0))
    if save:
        members = feats[["customer_id"]].assign(segment_set=segment_set, segment=prof["segment"].to_numpy()[labels])
        definitions = [{"centroid": {f: float(raw.loc[c, f]) for f in names},
                        "standardized_centroid": {f: float(z.loc[c, f]) for f in used},
                        "rule": f"nearest {method} component on log1p/standardized features"} for c in range(k)]
        _save_set(ws, "cluster", segment_set, prof["segment"], definitions, prof["customers"], params,
                  members[["segment_set", "customer_id", "segment"]])
    return ClusterResult(tables={"clusters": prof, "selection": selection,
                                 "stability": pd.DataFrame({"round": np.arange(len(aris)), "ari": aris})},
                         findings=tuple(findings), params=params)
