"""The post-campaign review: the verdict nobody can bend.

``review(ws, campaign)`` judges the campaign by what was agreed before launch:

1. **Objectives.** Each *locked* version for the campaign (never a later proposal) against the
   actual KPI over its dates: met, acceptable (worse than the target, within the threshold) or
   missed; its guardrails held or breached.
2. **Incremental impact.** What the campaign added against what would have happened without
   it. With a control group (``experiment``: a workspace experiment whose control arm was held
   out of the campaign), the difference between the arms times the treated units
   (experiment.analyze, CUPED on the period before). Without one, a structural time-series
   model (experiment.impact, CausalImpact-style) fitted on the days before launch only, with
   the other campaigns as controls where there are any, so the counterfactual is the forecast
   made before launch. A ratio KPI (CPA, ROAS) is judged on the conversions behind it.
3. **Why the gap.** diagnose's decomposition of the KPI's change against the period before.
4. **One number for conversions.** What the platforms reported against the first-party
   purchases tagged with the campaign, the gap and why they differ.
5. **The record.** The optimization log and the alerts of the period, and the lessons recorded
   for the campaign (``add_lesson``: structured entries later reviews and objectives search).

With ``archive``, everything behind the verdict is written under that folder: each table as
Parquet, the objectives' terms and the creatives as JSON, and the review's own document.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import ibis
import numpy as np
import pandas as pd

from mercator.errors import BadParameter, MercatorError, NotFoundError
from mercator.govern import record
from mercator.metrics import Period, kpi
from mercator.monitor._objectives import campaign_kpi, locked_objectives
from mercator.results import Finding, Recommendation, Result, number


@dataclass(frozen=True)
class CampaignReview(Result):
    """A campaign judged against its locked objectives: actuals, incremental impact, why, and the record."""

    kind = "campaign_review"
    title = "Post-campaign review"
    headline = ("objectives", "impact", "reconciliation")
    display: ClassVar[dict[str, tuple[str, ...]]] = {
        "objectives": ("objective_id", "version", "kpi", "target", "threshold", "actual", "verdict"),
        "impact": ("metric", "method", "actual_total", "predicted_total", "cumulative_effect", "cumulative_lo",
                   "cumulative_hi", "relative_effect", "pvalue"),
        "reconciliation": ("source", "conversions", "share_of_first_party", "note")}

    def figures(self) -> list:
        import plotly.graph_objects as go

        s = self.tables.get("impact_series")
        if s is None or s.empty:
            return []
        fig = go.Figure()
        fig.add_trace(go.Scatter(x=s.date, y=s.predicted_hi, line={"width": 0}, showlegend=False, hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=s.date, y=s.predicted_lo, fill="tonexty", line={"width": 0},
                                 name="expected without the campaign (95%)"))
        fig.add_trace(go.Scatter(x=s.date, y=s.predicted, name="expected", line={"dash": "dash"}))
        fig.add_trace(go.Scatter(x=s.date, y=s.actual, name="actual"))
        fig.update_layout(title=f"{self.params.get('impact_metric')}: actual against the forecast made before launch")
        return [fig]


def _verdict(k, actual: float, target: float, threshold: float | None) -> str:
    good = (lambda v, ref: v >= ref) if k.higher_is_better else (lambda v, ref: v <= ref)
    if not np.isfinite(actual):
        return "no data"
    if good(actual, target):
        return "met"
    if threshold is not None and good(actual, threshold):
        return "acceptable"
    return "missed"


def _impact(ws, metric: str, campaign: str, start: dt.date, end: dt.date, history_days: int):
    """The campaign's daily ``metric`` with the other campaigns as controls, from ``history_days``
    before the start to the end (built in the engine), judged by experiment.impact."""
    from mercator.experiment import impact

    t = ws.table("ad_performance")
    lo = start - dt.timedelta(days=history_days)
    t = t.filter((t.date >= lo) & (t.date <= end))
    mine = (t.campaign == campaign) | (t.campaign_id == campaign)
    other = t.campaign.fill_null(t.campaign_id)
    daily = t.group_by("date").aggregate(
        y=t[metric].sum(where=mine).fill_null(0).cast("float64"),
        **{f"c{i}": t[metric].sum(where=~mine & (other == o)).fill_null(0).cast("float64")
           for i, o in enumerate(_others(ws, campaign, lo, end))})
    controls = [c for c in daily.columns if c.startswith("c")]
    return impact(daily, date_col="date", kpi="y", post_start=start, controls=controls)


def _holdout(ws, experiment: str) -> tuple[pd.DataFrame, dict]:
    """What the treated arm added against the held-out control: purchasers and revenue."""
    from mercator.experiment import analyze

    res = analyze(ws=ws, experiment=experiment, metrics=("converted", "revenue"),
                  covariate={"converted": "pre_converted", "revenue": "pre_revenue"})
    e = res.to_frame("effects")
    names = {"converted": "purchasers", "revenue": "revenue"}
    rows = pd.DataFrame({"metric": e.metric.map(names), "variant": e.variant, "method": "holdout",
                         "cumulative_effect": e.incremental, "cumulative_lo": e.incremental_lo,
                         "cumulative_hi": e.incremental_hi, "relative_effect": e.rel_effect, "pvalue": e.pvalue})
    return rows, res.params


def _others(ws, campaign: str, lo, hi) -> list[str]:
    """The other campaigns that ran every week of the span (the controls), at most 10, biggest first."""
    t = ws.table("ad_performance")
    t = t.filter((t.date >= lo) & (t.date <= hi) & (t.campaign != campaign) & (t.campaign_id != campaign))
    name = t.campaign.fill_null(t.campaign_id)
    weeks = ((hi - lo).days + 1) // 7
    rows = t.group_by(name.name("name")).aggregate(weeks=t.date.truncate("W").nunique(), cost=t.cost.sum()) \
        .order_by(ibis.desc("cost")).limit(10).to_pandas()
    return [str(n) for n in rows[rows.weeks >= weeks].name if n is not None]


def _reconcile(ws, campaign: str, start, end) -> pd.DataFrame:
    platform = campaign_kpi(ws, "conversions", campaign, Period(start, end))
    e = ws.table("events")
    e = e.filter((e.event_name == "purchase") & (e.campaign == campaign) & (e.ts >= pd.Timestamp(start))
                 & (e.ts < pd.Timestamp(end) + pd.Timedelta(days=1)))
    first = int(e.count().execute())
    rows = [{"source": "platforms (ad_performance)", "conversions": platform}]
    if first:
        rows.append({"source": "first party (purchase events tagged with the campaign)", "conversions": float(first)})
        rows.append({"source": "reconciled", "conversions": float(first)})
    out = pd.DataFrame(rows)
    out["share_of_first_party"] = out.conversions / first if first else np.nan
    notes = {"platforms (ad_performance)": "the platforms' own count: it includes view-through and modelled "
                                           "conversions and credits every platform that touched the buyer",
             "first party (purchase events tagged with the campaign)": "purchases on the site whose session "
                                                                       "carried the campaign's tag",
             "reconciled": "first-party purchases are the number of record; the platforms' excess is their "
                           "attribution, not extra sales"}
    out["note"] = out.source.map(notes)
    return out


def review(ws, campaign: str, *, experiment: str | None = None, archive: str | Path | None = None,
           history_days: int = 56) -> CampaignReview:
    """Judge ``campaign`` against its locked objectives (see the module's docstring): its
    incremental impact against the control group of ``experiment`` where there is one, the
    forecast made before launch otherwise; with ``archive``, write what the verdict rests on
    under that folder."""
    from mercator.diagnose import diagnose

    o = ws.table("objectives")
    locked = locked_objectives(ws, campaign)
    if locked.empty:
        raise NotFoundError(f"no locked objective for campaign {campaign!r}: a review judges what was agreed and "
                            "locked before launch (`mercator objective set` and `objective sign`)")
    proposals = o.filter((o.status == "proposed") & (o.campaign == campaign)).count().execute()
    findings, recs, rows, rails = [], [], [], []
    for r in locked.itertuples(index=False):
        k = kpi(r.kpi)
        threshold = None if pd.isna(r.threshold) else float(r.threshold)
        actual = campaign_kpi(ws, r.kpi, campaign, Period(r.start, r.end))
        verdict = _verdict(k, actual, float(r.target), threshold)
        rows.append({"objective_id": r.objective_id, "version": int(r.version), "kpi": r.kpi, "target": r.target,
                     "threshold": threshold, "actual": actual, "verdict": verdict, "start": r.start, "end": r.end,
                     "baseline": r.baseline, "spec_hash": r.spec_hash, "locked_at": r.locked_at})
        findings.append(Finding(
            f"{r.objective_id} (version {int(r.version)}, locked {r.locked_at}): {k.label} {k.format(actual)} from "
            f"{r.start} to {r.end} against the target {k.format(r.target)}"
            + (f" (acceptable {k.format(threshold)})" if threshold is not None else "") + f": {verdict}.",
            metric=r.kpi, value=actual if np.isfinite(actual) else None, impact=10.0))
        if pd.notna(r.locked_at) and pd.Timestamp(r.locked_at).date() >= r.start:
            findings.append(Finding(f"{r.objective_id} was locked on {pd.Timestamp(r.locked_at).date()}, not before "
                                    f"its launch on {r.start}: its terms may have been set knowing the first "
                                    "results.", impact=9.5))
        for g, limit in json.loads(r.guardrails or "{}").items():
            gk = kpi(g)
            v = campaign_kpi(ws, g, campaign, Period(r.start, r.end))
            held = np.isfinite(v) and ((v >= limit) if gk.higher_is_better else (v <= limit))
            rails.append({"objective_id": r.objective_id, "kpi": g, "limit": limit, "actual": v, "held": held})
            if not held:
                findings.append(Finding(f"Guardrail {gk.label} of {r.objective_id}: {gk.format(v)} against the "
                                        f"limit {gk.format(limit)}: breached.", metric=g, value=v, impact=8.0))
    start, end = min(locked.start), max(locked.end)
    main = kpi(locked.kpi.iloc[0])
    metric = main.name if not main.is_ratio else "conversions"
    tables: dict[str, pd.DataFrame] = {"objectives": pd.DataFrame(rows), "guardrails": pd.DataFrame(
        rails, columns=["objective_id", "kpi", "limit", "actual", "held"])}
    if experiment is not None:
        effects, eparams = _holdout(ws, experiment)
        tables["impact"] = effects
        for r in effects.itertuples():
            findings.append(Finding(
                f"Incremental {r.metric} ({r.variant} against the held-out {eparams['control']} of experiment "
                f"{experiment}): {number(r.cumulative_effect, sign=True)} ({100 * r.relative_effect:+.1f}%, 95% "
                f"interval {number(r.cumulative_lo, sign=True)} to {number(r.cumulative_hi, sign=True)}, "
                f"p = {r.pvalue:.2g}).", metric=r.metric, value=float(r.cumulative_effect),
                interval=(float(r.cumulative_lo), float(r.cumulative_hi)), impact=9.0))
        if eparams.get("srm_pvalue") is not None and eparams["srm_pvalue"] < 0.001:
            findings.append(Finding(f"The arms' sizes are not what the split promised (p = {eparams['srm_pvalue']:.2g}): "
                                    "the holdout comparison may be biased.", impact=9.5))
        metric = "purchasers"
    else:
        try:
            imp = _impact(ws, metric, campaign, start, end, history_days)
            s = imp.to_frame("summary").iloc[0]
            tables["impact"] = pd.DataFrame([{"metric": metric, "method": "forecast before launch", **s.to_dict()}])
            tables["impact_series"] = imp.to_frame("series")
            mk = kpi(metric)
            findings.append(Finding(
                f"Incremental {mk.label.lower()}: {number(s.cumulative_effect, sign=True)} "
                f"({100 * s.relative_effect:+.1f}%, 95% interval {number(s.cumulative_lo, sign=True)} to "
                f"{number(s.cumulative_hi, sign=True)}, p = {s.pvalue:.2g}) against the forecast made from the "
                f"{history_days} days before launch" + (f" with {len(imp.params['controls'])} other campaign(s) as "
                                                        "controls" if imp.params["controls"] else "") + ".",
                metric=metric, value=float(s.cumulative_effect), interval=(float(s.cumulative_lo),
                                                                             float(s.cumulative_hi)), impact=9.0))
        except MercatorError as exc:
            findings.append(Finding(f"No incremental impact: {exc}.", impact=9.0))
    try:
        dx = diagnose(ws, main.name, Period(start, end))
        tables["diagnosis"] = dx.to_frame("segments").head(10)
        if dx.findings:
            findings.append(Finding(f"Why: {dx.findings[0].text}", metric=main.name, impact=5.0))
    except MercatorError as exc:
        findings.append(Finding(f"No diagnosis: {exc}.", impact=1.0))
    rec = _reconcile(ws, campaign, start, end)
    tables["reconciliation"] = rec
    if len(rec) > 1:
        plat, first = rec.conversions.iloc[0], rec.conversions.iloc[1]
        findings.append(Finding(f"Conversions: the platforms reported {number(plat)}, first-party purchases tagged "
                                f"with the campaign were {number(first)} ({plat / first - 1:+.0%}); the reconciled "
                                f"number is {number(first)}.", metric="conversions", value=float(first), impact=4.0))
    else:
        findings.append(Finding("Conversions: no first-party purchase events carry the campaign's tag, so the "
                                "platforms' count cannot be reconciled.", impact=2.0))
    ch = ws.table("optimizations")
    tables["changes"] = ch.filter(ch.campaign == campaign).order_by("ts").to_pandas() \
        .drop(columns=["_load_id"], errors="ignore")
    ev = ws.table("alert_events")
    tables["alerts"] = ev.filter((ev.ts >= pd.Timestamp(start)) & (ev.ts < pd.Timestamp(end) + pd.Timedelta(days=1))
                                 & (ev.event == "firing")).order_by("ts").to_pandas() \
        .drop(columns=["_load_id"], errors="ignore")
    pb = ws.table("playbook")
    tables["lessons"] = pb.filter(pb.campaign == campaign).order_by("created_at").to_pandas() \
        .drop(columns=["_load_id"], errors="ignore")
    if proposals:
        findings.append(Finding(f"{proposals} later proposal(s) were not judged: the review holds to the locked "
                                "versions.", impact=3.0))
    missed = [r for r in rows if r["verdict"] == "missed"]
    if missed:
        recs.append(Recommendation(f"Record what to change next time for {', '.join(r['objective_id'] for r in missed)}"
                                   " (`mercator playbook add`)", evidence="objectives missed"))
    params = {"campaign": campaign, "start": start, "end": end, "impact_metric": metric, "experiment": experiment,
              "objectives": [r["objective_id"] for r in rows]}
    result = CampaignReview(tables=tables, findings=tuple(findings), recommendations=tuple(recs), params=params)
    if archive is not None:
        folder = _archive(ws, result, Path(archive), campaign)
        record(ws, "review.archive", campaign, detail={"folder": str(folder), "objectives": params["objectives"]})
        result = CampaignReview(tables=tables, findings=result.findings, recommendations=result.recommendations,
                                params={**params, "archive": str(folder)})
    return result


def _archive(ws, result: CampaignReview, root: Path, campaign: str) -> Path:
    """Every table behind the verdict as Parquet, the terms and creatives as JSON, and the document."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    folder = root / f"{campaign}-{stamp}"
    folder.mkdir(parents=True, exist_ok=False)
    for name, df in result.tables.items():
        df.to_parquet(folder / f"{name}.parquet", index=False)
    o = ws.table("objectives")
    terms = o.filter(o.campaign == campaign).to_pandas().drop(columns=["_load_id"], errors="ignore")
    (folder / "objectives.json").write_text(terms.to_json(orient="records", date_format="iso", indent=1))
    cr = ws.table("creatives").to_pandas().drop(columns=["_load_id"], errors="ignore")
    (folder / "creatives.json").write_text(cr.to_json(orient="records", date_format="iso", indent=1))
    (folder / "review.json").write_text(json.dumps(result.to_dict(), indent=1, ensure_ascii=False))
    return folder


@dataclass(frozen=True)
class Playbook(Result):
    """Lessons from reviews: what, where, the effect and the evidence."""

    kind = "playbook"
    title = "Playbook"
    display: ClassVar[dict[str, tuple[str, ...]]] = {"lessons": ("campaign", "what", "where", "effect", "evidence")}


def add_lesson(ws, campaign: str, what: str, *, where: str | None = None, effect: str | None = None,
               evidence: str | None = None, objective_id: str | None = None, author: str | None = None) -> Playbook:
    """Record a lesson of a reviewed campaign as a structured playbook entry."""
    if not what or not what.strip():
        raise BadParameter("lesson: say what was learned")
    now = pd.Timestamp.now(tz="UTC").tz_localize(None).floor("us")
    lid = hashlib.sha1(f"{campaign}|{what}|{now}".encode()).hexdigest()[:12]
    row = pd.DataFrame([{"lesson_id": lid, "campaign": campaign, "objective_id": objective_id, "what": what.strip(),
                         "where": where, "effect": effect, "evidence": evidence, "author": author,
                         "created_at": now}]).astype({"created_at": "datetime64[us]"})
    with ws.transaction():
        ws.replace("playbook", row, on=["lesson_id"])
        record(ws, "playbook.add", lid, actor=author, detail={"campaign": campaign, "what": what})
    return Playbook(tables={"lessons": row}, findings=(Finding(f"Lesson {lid} recorded for {campaign}: {what}.",
                                                               impact=1.0),), params={"lesson_id": lid})


def search_playbook(ws, text: str | None = None, *, where: str | None = None) -> Playbook:
    """Lessons whose what, where, effect or campaign contain ``text`` (any case), and whose where
    contains ``where``; newest first."""
    pb = ws.table("playbook")
    if text:
        needle = text.lower()
        pb = pb.filter(pb.what.lower().contains(needle) | pb.where.fill_null("").lower().contains(needle)
                       | pb.effect.fill_null("").lower().contains(needle)
                       | pb.campaign.fill_null("").lower().contains(needle))
    if where:
        pb = pb.filter(pb.where.fill_null("").lower().contains(where.lower()))
    rows = pb.order_by(pb.created_at.desc()).to_pandas().drop(columns=["_load_id"], errors="ignore")
    return Playbook(tables={"lessons": rows}, findings=(Finding(
        f"{len(rows)} lesson(s)" + (f" about {text!r}" if text else "") + (f" where {where!r}" if where else "") + ".",
        impact=1.0),), params={"text": text, "where": where})
