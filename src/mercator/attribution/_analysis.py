"""The public analyses of ``mercator.attribution`` (the package re-exports them)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pyarrow as pa

from mercator.attribution._journeys import build_paths, time_decay
from mercator.attribution._models import (
    MARKOV,
    MODELS,
    RULES,
    Paths,
    compare,
    markov_credit,
    rule_credit,
    shapley_credit,
)
from mercator.errors import MercatorError
from mercator.frames import check_numeric, read_table, require_columns, source_name
from mercator.results import Finding, Result
from mercator.workspace import Workspace


@dataclass(frozen=True)
class AttributionResult(Result):
    kind = "attribution"
    title = "Attribution: which channels earn the conversions"
    headline = ("comparison", "models", "reconciliation")

    def figures(self) -> list:
        c = self.to_frame("credit")
        if c.empty:
            return []
        fig = go.Figure()
        for model, part in c.groupby("model", sort=False):
            fig.add_bar(x=part["channel"], y=part["share"], name=model)
        fig.update_layout(barmode="group", title="Share of conversion credit by channel and model",
                          yaxis_tickformat=".0%", height=420)
        figs = [fig]
        r = self.tables.get("reconciliation")
        if r is not None and not r.empty:
            rec = go.Figure()
            for col, name in (("platform_conversions", "platform-reported"), ("any_touch_conversions", "touched"),
                              ("attributed_conversions", "attributed (best model)")):
                rec.add_bar(x=r["channel"], y=r[col], name=name)
            rec.update_layout(barmode="group", title="Platform-reported vs attributed conversions", height=380)
            figs.append(rec)
        return figs


def read_paths(source: str | Path | pd.DataFrame, path_col: str, conversions_col: str, nulls_col: str | None,
               value_col: str | None, sep: str) -> Paths:
    """A path table from a CSV/Parquet file or DataFrame: one row per unique path (with counts)
    or per journey (conversions 0/1); rows with the same path are added up."""
    frame, name = read_table(None, source), source_name(source)
    cols = [c for c in (path_col, conversions_col, nulls_col, value_col) if c]
    require_columns(frame.columns, cols, name)
    frame = check_numeric(frame, [c for c in cols if c != path_col], name)
    # the same path on several rows is added up (Arrow's hash encoding: faster than a pandas groupby)
    try:
        text = pa.array(frame[path_col], pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # numbers or mixed types in the path column
        text = pa.array(frame[path_col].astype("string"), pa.string(), from_pandas=True)
    enc = text.fill_null("").dictionary_encode()
    idx = enc.indices.to_numpy(zero_copy_only=False)
    sums = {c: np.bincount(idx, frame[c].to_numpy(float), minlength=len(enc.dictionary)) if c else None
            for c in (conversions_col, nulls_col, value_col)}
    return Paths.from_strings(enc.dictionary, sums[conversions_col], sums[nulls_col], sums[value_col], sep=sep)


def _cost(ws: Workspace, start: dt.date | None, end: dt.date | None) -> pd.DataFrame:
    """Cost and platform-reported conversions per channel from ad_performance."""
    if ws is None or not ws.count("ad_performance"):
        return pd.DataFrame(columns=["channel", "cost", "platform_conversions"])
    a = ws.table("ad_performance")
    if start is not None:
        a = a.filter(a.date >= start)
    if end is not None:
        a = a.filter(a.date <= end)
    return a.group_by("channel").aggregate(cost=a.cost.sum(), platform_conversions=a.conversions.sum()).to_pandas()


def _window(ws: Workspace, conversion_event: str) -> tuple[dt.date | None, dt.date | None]:
    e = ws.table("events")
    e = e.filter(e.event_name == conversion_event)
    row = e.aggregate(lo=e.ts.min(), hi=e.ts.max()).to_pandas().iloc[0]
    return (None, None) if pd.isna(row.lo) else (row.lo.date(), row.hi.date())


def attribution(ws: Workspace | None, *, models: tuple[str, ...] | list[str] = MODELS,
                lookback_days: float = 30.0, half_life_days: float = 7.0, conversion_event: str = "purchase",
                start: dt.date | None = None, end: dt.date | None = None,
                exclude_channels: tuple[str, ...] = (), direct: tuple[str, ...] = ("direct",),
                paths: str | Path | pd.DataFrame | None = None, path_col: str = "path",
                conversions_col: str = "conversions", nulls_col: str | None = "nulls",
                value_col: str | None = "value", sep: str = ">", compare_models: bool = True,
                seed: int = 0) -> AttributionResult:
    """Credit per channel under each model, side by side; which model predicts held-out
    conversions best; cost per attributed conversion and ROAS; and the reconciliation of
    platform-reported conversions with ours.

    Journeys come from the workspace's ``events`` (a ``conversion_event`` closes one; touches
    are events with a channel within ``lookback_days`` before it), or from ``paths``: a file or
    DataFrame of paths with their counts (``time_decay`` then is not available: it needs touch
    times).
    """
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise MercatorError(f"unknown attribution model(s) {', '.join(unknown)}; models: {', '.join(MODELS)}")
    if lookback_days <= 0 or half_life_days <= 0:
        raise MercatorError("lookback and half-life must be positive")
    if paths is not None:
        p = read_paths(paths, path_col, conversions_col, nulls_col, value_col, sep)
        source = source_name(paths)
        models = [m for m in models if m != "time_decay"]
    else:
        if ws is None:
            raise MercatorError("attribution needs a workspace with events, or a path table (paths=...)")
        if not ws.count("events"):
            raise MercatorError("the workspace has no events: ingest web or app analytics first, or give a path table")
        frame = build_paths(ws, conversion_event=conversion_event, lookback_days=lookback_days, start=start,
                            end=end, exclude_channels=tuple(exclude_channels))
        p = Paths.from_strings(frame["path"], frame["conversions"], frame["nulls"], frame["value"], sep=">")
        source = "events"
    if p.conversions.sum() == 0:
        raise MercatorError(f"{source}: no conversions{'' if paths is not None else f' ({conversion_event!r} events)'}"
                            " to attribute")
    if not p.channels:
        raise MercatorError(f"{source}: no touchpoints (events with a channel) before the conversions")
    credit, extra, info = [], {}, {}
    for m in models:
        if m in RULES:
            c = rule_credit(p, m, tuple(direct))
        elif m in MARKOV:
            c, re = markov_credit(p, int(m[-1]))
            extra[f"removal_effects_{m}"] = re
        elif m == "shapley":
            c, info = shapley_credit(p, seed)
        else:
            c = time_decay(ws, half_life_days=half_life_days, conversion_event=conversion_event,
                           lookback_days=lookback_days, start=start, end=end,
                           exclude_channels=tuple(exclude_channels))
            c = pd.DataFrame({"channel": p.channels}).merge(c, on="channel", how="left").fillna(0.0)
        credit.append(c.assign(model=m))
    credit = pd.concat(credit, ignore_index=True)[["model", "channel", "conversions", "value"]]
    credit["share"] = credit["conversions"] / credit.groupby("model")["conversions"].transform("sum")
    window = (start, end) if paths is not None or start or end else _window(ws, conversion_event)
    cost = _cost(ws, *window) if paths is None else pd.DataFrame(columns=["channel", "cost", "platform_conversions"])
    credit = credit.merge(cost[["channel", "cost"]], on="channel", how="left")
    spend, conv = credit["cost"].astype(float).to_numpy(), credit["conversions"].to_numpy()
    credit["cost"] = spend
    credit["cost_per_conversion"] = np.divide(spend, conv, out=np.full(len(conv), np.nan), where=conv > 0)
    credit["roas"] = np.divide(credit["value"].to_numpy(), spend, out=np.full(len(conv), np.nan),
                               where=np.nan_to_num(spend) > 0)
    tables = {"credit": credit,
              "comparison": credit.pivot(index="channel", columns="model", values="share")[list(models)].reset_index()}
    if compare_models:
        tables["models"] = compare(p, tuple(models), seed=seed, direct=tuple(direct)).sort_values(
            "log_loss", ignore_index=True)
    tables.update(extra)
    top = np.lexsort((-p.nulls, -p.conversions))[:25]
    tables["paths"] = pd.DataFrame({"path": p.strings(top), "conversions": p.conversions[top], "nulls": p.nulls[top],
                                    "value": p.value[top]})
    best = _best(tables.get("models"), models)
    if not cost.empty and paths is None:
        tables["reconciliation"] = _reconcile(p, cost, credit, best)
    findings = _findings(p, credit, tables, best, info)
    total = float(p.conversions.sum())
    params = {"source": source, "models": list(models), "lookback_days": lookback_days,
              "half_life_days": half_life_days, "conversion_event": conversion_event, "journeys": float(p.journeys.sum()),
              "unique_paths": len(p.conversions), "conversions": total, "channels": list(p.channels),
              "best_model": best, "window": [str(w) if w else None for w in window], **info}
    return AttributionResult(tables=tables, findings=tuple(findings), params=params)


def _best(models_table: pd.DataFrame | None, models) -> str:
    if models_table is None:
        return "shapley" if "shapley" in models else models[0]
    ranked = models_table[models_table["model"] != "constant_rate"]
    return str(ranked.iloc[0]["model"]) if len(ranked) else models[0]


def _reconcile(p: Paths, cost: pd.DataFrame, credit: pd.DataFrame, best: str) -> pd.DataFrame:
    """Platform-reported conversions against ours, per channel. A platform counts every
    conversion it touched (and view-through and cross-device ones we cannot see), so the gap
    splits into conversions we also saw the channel touch but credit partly to other channels
    (``shared_with_other_channels``) and conversions the platform claims that our journeys do
    not show it touching (``not_seen_in_events``)."""
    pid, _ = p.position()
    touched = np.zeros((len(p.conversions), len(p.channels)), bool)
    touched[pid, p.tokens] = True
    any_touch = touched.T.astype(float) @ p.conversions
    att = credit[credit["model"] == best].set_index("channel")["conversions"]
    r = pd.DataFrame({"channel": p.channels, "any_touch_conversions": any_touch})
    r["attributed_conversions"] = r["channel"].map(att).fillna(0.0)
    r = cost[["channel", "platform_conversions"]].merge(r, on="channel", how="outer")
    r[["any_touch_conversions", "attributed_conversions"]] = r[["any_touch_conversions",
                                                                "attributed_conversions"]].fillna(0.0)
    # a channel the platforms do not report (e-mail, organic) has no platform figure: NaN, not 0
    r["gap"] = r["platform_conversions"] - r["attributed_conversions"]
    r["shared_with_other_channels"] = r["any_touch_conversions"] - r["attributed_conversions"]
    r["not_seen_in_events"] = r["platform_conversions"] - r["any_touch_conversions"]
    r["model"] = best
    return r.sort_values("platform_conversions", ascending=False, ignore_index=True)


def _findings(p: Paths, credit: pd.DataFrame, tables: dict, best: str, info: dict) -> list[Finding]:
    total = float(p.conversions.sum())
    out = [Finding(f"{int(p.journeys.sum()):,} journeys ({len(p.conversions):,} unique paths) with "
                   f"{total:,.0f} conversions over {len(p.channels)} channels.", metric="conversions", value=total,
                   impact=0.3)]
    m = tables.get("models")
    if m is not None:
        row = m[m["model"] == best].iloc[0]
        out.append(Finding(
            f"The data supports {best} best: held-out conversion log-loss {row.log_loss:.4f}, "
            f"{row.improvement_over_constant:.1%} better than a constant rate (ranking of all models in 'models').",
            metric="log_loss", value=float(row.log_loss), impact=0.9))
    b = credit[credit["model"] == best].sort_values("share", ascending=False)
    lead = b.iloc[0]
    out.append(Finding(f"Under {best}, {lead.channel} earns the most credit: {lead.share:.0%} of conversions "
                       f"({lead.conversions:,.0f}).", metric="share", segment=str(lead.channel),
                       value=float(lead.share), impact=0.8))
    last = credit[credit["model"] == "last_touch"].set_index("channel")["share"] if "last_touch" in set(
        credit["model"]) else None
    if last is not None and best != "last_touch":
        diff = (b.set_index("channel")["share"] - last).dropna().sort_values()
        lo, hi = diff.index[0], diff.index[-1]
        out.append(Finding(f"Against last touch, {best} moves credit to {hi} ({diff[hi]:+.0%}) and away from "
                           f"{lo} ({diff[lo]:+.0%}).", metric="share", impact=0.7))
    touched = p.length > 0
    touched_rate = p.conversions[touched].sum() / max(p.journeys[touched].sum(), 1)
    if info and info["baseline_rate"] >= touched_rate:
        out.append(Finding(
            f"Shapley credit is not meaningful here: journeys without touches convert at {info['baseline_rate']:.1%}, "
            f"touched ones at {touched_rate:.1%}. The data probably holds only users who were reached (or only "
            "converters without touches), so there is no fair baseline; read the other models, or test "
            "incrementality with an experiment.", metric="baseline_rate", value=info["baseline_rate"], impact=1.0))
    elif info and best == "shapley":
        note = "" if info.get("baseline_observed") else " (no journey without touches was seen: it is extrapolated)"
        out.append(Finding(f"Journeys without any touch convert at {info['baseline_rate']:.2%}{note}; Shapley credit "
                           "is the conversions above that rate.", metric="baseline_rate",
                           value=info["baseline_rate"], impact=0.5))
    r = tables.get("reconciliation")
    if r is not None and r["platform_conversions"].sum() > 0:
        reported = r["platform_conversions"].notna()
        plat, att = r["platform_conversions"].sum(), r.loc[reported, "attributed_conversions"].sum()
        out.append(Finding(f"Platforms report {plat:,.0f} conversions for their channels against {att:,.0f} attributed "
                           f"to them from events ({best}): platforms count every conversion they touched, view-through "
                           "and cross-device ones included; 'reconciliation' splits the gap per channel.", metric="platform_conversions",
                           value=float(plat), impact=0.6))
    return out
