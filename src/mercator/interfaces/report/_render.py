"""Rendering: results to self-contained HTML (Jinja2 + Plotly, JavaScript inlined, no network).

Nothing here computes or queries: the report renders the :class:`~mercator.pipeline.Pipeline`
result (every analysis the workspace supports, chosen and run by ``mercator.pipeline``), and
``--html FILE`` renders one result. Each section shows its results' findings, recommendations,
figures and their ``headline`` tables.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import jinja2

from mercator import __version__
from mercator.pipeline import Pipeline, Section, run_pipeline
from mercator.results import LEAD_FINDINGS, Finding, Result, number
from mercator.workspace import Workspace


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


def section_parts(sid: str, title: str, results: tuple[Result, ...], *, every_table: bool = False) -> dict:
    """One section's parts for the template: its results' findings (ranked across them),
    recommendations, figures and tables (each result's ``headline`` ones, or all)."""
    findings = sorted((f for r in results for f in r.findings), key=lambda f: -abs(f.impact))
    tables = []
    for res in results:
        names = list(res.tables) if every_table or res.headline is None else \
            [n for n in res.headline if n in res.tables]
        tables += [(n, res.to_frame(n).to_html(index=False, float_format=lambda x: f"{x:,.4g}", na_rep=""))
                   for n in names if not res.to_frame(n).empty]
    return {"id": sid, "title": title, "findings": [f.text for f in findings[:LEAD_FINDINGS]],
            "more": [f.text for f in findings[LEAD_FINDINGS:]],
            "recommendations": [_recommendation(r) for res in results for r in res.recommendations],
            "figures": [f.to_html(full_html=False, include_plotlyjs=False) for res in results for f in res.figures()],
            "tables": tables}


def _page(title: str, source: str, engine: str, sections: list[dict]) -> str:
    env = jinja2.Environment(loader=jinja2.PackageLoader("mercator.interfaces.report", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]))
    return env.get_template("report.html.j2").render(
        title=title, workspace=source, engine=engine, version=__version__,
        generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"), sections=sections, plotly_js=plotly_js())


def _actions(sections: tuple[Section, ...]) -> dict:
    """"What to do now": every section's recommendations, the largest expected impact first
    (those without an estimate last), each with its interval, evidence and a link to its section."""
    recs = [(s, r) for s in sections for res in s.results for r in res.recommendations]
    recs.sort(key=lambda sr: (sr[1].expected_impact is None, -abs(sr[1].expected_impact or 0.0)))
    lead = (f"{len(recs)} recommendation(s) from {len({s.id for s, _ in recs})} section(s), the largest expected "
            "impact first (each in its own unit); the sections below hold the evidence."
            if recs else "No section has a recommendation for this workspace yet: the sections below say what the "
                         "data shows and what each analysis needs.")
    return {"id": "what-to-do-now", "title": "What to do now", "findings": [lead], "recommendations": [],
            "figures": [], "tables": [],
            "actions": [{"text": _recommendation(r), "href": s.id, "section": s.title} for s, r in recs]}


def render_pipeline(pipeline: Pipeline) -> str:
    """The report page of a pipeline run: "What to do now", then one section per step."""
    return _page("Mercator report", pipeline.params.get("workspace", ""), pipeline.params.get("engine", ""),
                 [_actions(pipeline.sections), *(section_parts(s.id, s.title, s.results) for s in pipeline.sections)])


def render_report(ws: Workspace, steps=None, progress=None) -> str:
    """Run the pipeline on ``ws`` (``steps``: default every step) and render it."""
    return render_pipeline(run_pipeline(ws, steps, progress=progress))


def result_page(result: Result, path: str | Path, source: str = "") -> Path:
    """One result as a self-contained HTML page (findings, recommendations, charts, every table):
    what ``--html FILE`` of an analysis command writes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_page(f"Mercator: {result.title}", source or "(in memory)", "", [
        section_parts(result.kind, result.title, (result,), every_table=True)]), encoding="utf-8")
    return path


@dataclass(frozen=True)
class ReportResult(Result):
    """Where the report was written."""

    kind = "report"
    title = "Report"


def write_report(ws: Workspace, path: str | Path, progress=None) -> ReportResult:
    """Run the pipeline, write its report to ``path``; the result says where (what ``mercator
    run`` prints)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(ws, progress=progress), encoding="utf-8")
    return ReportResult(findings=(Finding(f"report written to {path}"),), params={"report": str(path)})
