"""The HTML report: one self-contained file (Jinja2 + Plotly, JavaScript inlined, no network).

The report renders results; it computes nothing itself. Each section is a function from the
workspace to a result, registered in ``SECTIONS``; later capabilities add theirs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import jinja2

from mercator import __version__
from mercator.errors import MercatorError
from mercator.results import LEAD_FINDINGS, Result, number
from mercator.workspace import Workspace


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    build: Callable[[Workspace, dict[str, Result]], Result]  # (workspace, earlier sections' results by id)
    tables: tuple[str, ...] = ()


def _data_quality(ws: Workspace, _done: dict[str, Result]) -> Result:
    from mercator.quality import data_quality
    return data_quality(ws)


def _kpis(ws: Workspace, _done: dict[str, Result]) -> Result:
    from mercator.explore import kpi_overview
    return kpi_overview(ws)


def _what_happened(ws: Workspace, _done: dict[str, Result]) -> Result:
    from mercator.explore import explore
    return explore(ws)


def _why(ws: Workspace, done: dict[str, Result]) -> Result:
    """The leading shift of "What happened" explained: its KPI, 4 weeks from the shift against the 4 weeks before."""
    import datetime as dt

    from mercator.diagnose import diagnose
    from mercator.explore import Period

    found = done["what-happened"].tables.get("anomalies") if "what-happened" in done else None
    shifts = found[found["type"] == "shift"] if found is not None and len(found) else None
    if shifts is None or not len(shifts):
        return _absent('"What happened" found no shift to explain')
    top = shifts.iloc[0]
    start = top.date.date()
    return diagnose(ws, top.kpi, Period(start, start + dt.timedelta(days=27)))


def _funnel(ws: Workspace, _done: dict[str, Result]) -> Result:
    from mercator.diagnose import funnel

    names = set(ws.table("events").event_name.value_counts().to_pandas()["event_name"])
    steps = [s for s in ("page_view", "add_to_cart", "begin_checkout", "purchase") if s in names]
    return funnel(ws, steps, by="device") if len(steps) >= 2 else \
        _absent("fewer than two of the funnel steps page_view, add_to_cart, begin_checkout, purchase are in events")


def _cohorts(ws: Workspace, _done: dict[str, Result]) -> Result:
    from mercator.diagnose import cohorts
    return cohorts(ws, table="orders", grain="month")


def _correlations(ws: Workspace, _done: dict[str, Result]) -> Result:
    from mercator.diagnose import correlations
    return correlations(ws)


def _who_rfm(ws: Workspace, _done: dict[str, Result]) -> Result:
    from mercator.segment import rfm
    return rfm(ws, save=False) if ws.count("orders") else _absent("the workspace has no orders")


def _absent(why: str) -> Result:
    """A section the workspace's data does not support, saying why."""
    from mercator.results import Finding

    return Result(findings=(Finding(f"Not shown: {why}."),))


def _who_clusters(ws: Workspace, _done: dict[str, Result]) -> Result:
    from mercator.segment import cluster

    return cluster(ws, save=False, rounds=10) if ws.count("orders") \
        else _absent("the workspace has no orders")


def _who_clv(ws: Workspace, _done: dict[str, Result]) -> Result:
    from mercator.clv import fit_clv

    return fit_clv(ws, keep_customers=False) if ws.count("orders") else _absent("the workspace has no orders")


def _first_experiment(ws: Workspace) -> tuple[str, object] | None:
    """The workspace's first experiment and its frame (rows per unit, built in the engine)."""
    from mercator.target import experiment_frame

    if not ws.count("experiments") or not ws.count("assignments"):
        return None
    first = ws.table("experiments").experiment_id.to_pyarrow().to_pylist()[0]
    return first, experiment_frame(ws, first)


def _who_propensity(ws: Workspace, _done: dict[str, Result]) -> Result:
    """Who buys in the first experiment's window: a propensity model (gains, calibration, SHAP),
    evaluated but not saved: the report explains, it does not deploy."""
    from mercator.target import train_model

    exp = _first_experiment(ws)
    if exp is None:
        return _absent("the workspace has no experiments with assignments")
    _, frame = exp
    return train_model(ws, frame, "converted", exclude=["unit_id", "orders", "revenue"], save=False)


def _who_uplift(ws: Workspace, _done: dict[str, Result]) -> Result:
    """The first experiment in the workspace: whom did the treatment change?"""
    from mercator.target import uplift

    exp = _first_experiment(ws)
    if exp is None:
        return _absent("the workspace has no experiments with assignments")
    _, frame = exp
    return uplift(ws, frame, treatment_col="variant", treated="treatment", control="control", outcome="converted",
                  exclude=["unit_id", "orders", "revenue"], bootstrap=50)


def _forecast(ws: Workspace, _done: dict[str, Result]) -> Result:
    """Conversions for the next 28 days per channel, each series by the model its backtest chose."""
    from mercator.forecast import forecast

    if not ws.count("ad_performance"):
        return _absent("the workspace has no ad performance rows")
    return forecast(ws, "conversions", by="channel", horizon=28)


def _drivers(ws: Workspace, _done: dict[str, Result]) -> Result:
    """What moves CPC per channel and device: boosting against ridge, partial dependence."""
    from mercator.forecast import drivers

    if not ws.count("ad_performance"):
        return _absent("the workspace has no ad performance rows")
    return drivers(ws, "cpc", by=("channel", "device"))


def _experiments(ws: Workspace, _done: dict[str, Result]) -> Result:
    from mercator.experiment import review

    return review(ws) if ws.count("experiments") and ws.count("assignments") else \
        _absent("the workspace has no experiments with assignments")


def _attribution(ws: Workspace, _done: dict[str, Result]) -> Result:
    from mercator.attribution import attribution

    return attribution(ws) if ws.count("events") else _absent("the workspace has no events (journeys need them)")


def _budget(ws: Workspace, _done: dict[str, Result]) -> Result:
    from mercator.mmm import budget_plan

    if not (ws.count("media_spend") or ws.count("ad_performance")):
        return _absent("the workspace has no media spend or ad performance rows")
    # 4 chains x 500 draws keep the report quick; `mercator mmm fit` uses 1000
    return budget_plan(ws, warmup=500, samples=500)


#: Report sections in order. Capabilities append to this list.
SECTIONS: list[Section] = [
    Section("kpis", "KPI overview", _kpis, tables=("totals", "by_channel")),
    Section("what-happened", "What happened", _what_happened, tables=("summary", "by_channel", "by_device",
                                                                      "anomalies", "event_anomalies")),
    Section("why", "Why: the leading change decomposed", _why, tables=("segments", "drill_down")),
    Section("funnel", "Why: funnel", _funnel, tables=("steps", "step_tests")),
    Section("cohorts", "Why: cohort retention (orders)", _cohorts, tables=()),
    Section("correlations", "Why: correlations", _correlations, tables=("pairs",)),
    Section("who-segments", "Who: RFM segments", _who_rfm, tables=("segments",)),
    Section("who-clusters", "Who: behavioural segments", _who_clusters, tables=("clusters",)),
    Section("who-clv", "Who: customer lifetime value", _who_clv, tables=("params", "models", "deciles")),
    Section("who-propensity", "Who: who buys in the first experiment's window (propensity)", _who_propensity,
            tables=("model_card", "gains")),
    Section("who-uplift", "Who: whom the experiment's treatment changed (uplift)", _who_uplift,
            tables=("learners",)),
    Section("forecast", "What could happen: conversions forecast (next 28 days)", _forecast,
            tables=("backtest", "band", "breaks")),
    Section("drivers", "What could happen: what moves CPC (driver regression)", _drivers,
            tables=("models", "importance")),
    Section("experiments", "Did it work: experiments (verdicts against the locked criteria)", _experiments,
            tables=("verdict", "effects", "variants", "guardrails")),
    Section("attribution", "Which channels earn the conversions (attribution)", _attribution,
            tables=("comparison", "models", "reconciliation")),
    Section("budget", "What should we do: budget (media-mix model)", _budget,
            tables=("allocation", "summary", "roas", "fit", "identification")),
    Section("data-quality", "Data quality", _data_quality, tables=("tables", "quarantine_by_reason")),
]


def plotly_js() -> str:
    """Plotly's JavaScript from the installed package (never a CDN)."""
    return resources.files("plotly").joinpath("package_data/plotly.min.js").read_text(encoding="utf-8")


def _recommendation(r) -> str:
    """An action, its expected impact with the interval, and the evidence, as one line."""
    text = r.action
    if r.expected_impact is not None:
        text += f" Expected impact: {number(r.expected_impact, True)}{' ' + r.unit if r.unit else ''}"
        if r.interval:
            text += f" (95% interval {number(r.interval[0], True)} to {number(r.interval[1], True)})"
        text += "."
    return f"{text} Evidence: {r.evidence}." if r.evidence else text


def _section(sid: str, title: str, res: Result, tables: tuple[str, ...] | None) -> dict:
    """One section's parts for the template (``tables`` None: every table of the result)."""
    names = list(res.tables) if tables is None else [n for n in tables if n in res.tables]
    return {"id": sid, "title": title, "findings": [f.text for f in res.findings[:LEAD_FINDINGS]],
            "more": [f.text for f in res.findings[LEAD_FINDINGS:]],
            "recommendations": [_recommendation(r) for r in res.recommendations],
            "figures": [f.to_html(full_html=False, include_plotlyjs=False) for f in res.figures()],
            "tables": [(n, res.to_frame(n).to_html(index=False, float_format=lambda x: f"{x:,.4g}", na_rep=""))
                       for n in names if not res.to_frame(n).empty]}


def _page(title: str, source: str, engine: str, sections: list[dict]) -> str:
    env = jinja2.Environment(loader=jinja2.PackageLoader("mercator.interfaces.report", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]))
    return env.get_template("report.html.j2").render(
        title=title, workspace=source, engine=engine, version=__version__,
        generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"), sections=sections, plotly_js=plotly_js())


def render_report(ws: Workspace, sections: list[Section] | None = None, progress=None) -> str:
    rendered, done = [], {}
    sections = sections or SECTIONS
    for i, s in enumerate(sections):
        try:
            res = s.build(ws, done)
        except MercatorError as exc:  # data this section cannot use: it says why, the report goes on
            res = _absent(str(exc).rstrip("."))
        done[s.id] = res
        rendered.append(_section(s.id, s.title, res, s.tables))
        if progress:
            progress("report", i + 1, len(sections))
    return _page("Mercator report", ws.location, ws.engine.name, [_actions(sections, done), *rendered])


def _actions(sections: list[Section], done: dict[str, Result]) -> dict:
    """"What to do now": every section's recommendations, the largest expected impact first
    (those without an estimate last), each with its interval, evidence and a link to its section."""
    recs = [(s, r) for s in sections for r in done[s.id].recommendations]
    recs.sort(key=lambda sr: (sr[1].expected_impact is None, -abs(sr[1].expected_impact or 0.0)))
    lead = (f"{len(recs)} recommendation(s) from {len({s.id for s, _ in recs})} section(s), the largest expected "
            "impact first (each in its own unit); the sections below hold the evidence."
            if recs else "No section has a recommendation for this workspace yet: the sections below say what the "
                         "data shows and what each analysis needs.")
    return {"id": "what-to-do-now", "title": "What to do now", "findings": [lead], "recommendations": [],
            "figures": [], "tables": [],
            "actions": [{"text": _recommendation(r), "href": s.id, "section": s.title} for s, r in recs]}


def result_page(result: Result, path: str | Path, source: str = "") -> Path:
    """One result as a self-contained HTML page (findings, recommendations, charts, every table):
    what ``--html FILE`` of an analysis command writes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_page(f"Mercator: {result.title}", source or "(in memory)", "", [
        _section(result.kind, result.title, result, None)]), encoding="utf-8")
    return path


def build_report(ws: Workspace, path: str | Path, progress=None) -> Path:
    """Write the report to ``path`` and return it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(ws, progress=progress), encoding="utf-8")
    return path


@dataclass(frozen=True)
class ReportResult(Result):
    """Where the report was written."""

    kind = "report"
    title = "Report"


def write_report(ws: Workspace, path: str | Path, progress=None) -> ReportResult:
    """Write the report to ``path``; the result says where (what ``mercator run`` prints)."""
    from mercator.results import Finding

    written = build_report(ws, path, progress)
    return ReportResult(findings=(Finding(f"report written to {written}"),), params={"report": str(written)})


__all__ = ["SECTIONS", "ReportResult", "Section", "build_report", "plotly_js", "render_report", "result_page",
           "write_report"]
