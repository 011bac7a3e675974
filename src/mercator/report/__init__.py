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
from mercator.results import Result
from mercator.workspace import Workspace


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    build: Callable[[Workspace], Result]
    tables: tuple[str, ...] = ()


def _data_quality(ws: Workspace) -> Result:
    from mercator.quality import data_quality
    return data_quality(ws)


def _kpis(ws: Workspace) -> Result:
    from mercator.explore import kpi_overview
    return kpi_overview(ws)


#: Report sections in order. Capabilities append to this list.
SECTIONS: list[Section] = [
    Section("data-quality", "Data quality", _data_quality, tables=("tables", "quarantine_by_reason")),
    Section("kpis", "KPI overview", _kpis, tables=("totals", "by_channel")),
]


def plotly_js() -> str:
    """Plotly's JavaScript from the installed package (never a CDN)."""
    return resources.files("plotly").joinpath("package_data/plotly.min.js").read_text(encoding="utf-8")


def render_report(ws: Workspace, sections: list[Section] | None = None, progress=None) -> str:  # noqa: ANN001
    rendered = []
    sections = sections or SECTIONS
    for i, s in enumerate(sections):
        res = s.build(ws)
        figs = [f.to_html(full_html=False, include_plotlyjs=False) for f in res.figures()]
        tables = [(name, res.to_frame(name).to_html(index=False, float_format=lambda x: f"{x:,.4g}", na_rep=""))
                  for name in s.tables if name in res.tables and not res.to_frame(name).empty]
        rendered.append({"id": s.id, "title": s.title, "findings": [f.text for f in res.findings],
                         "figures": figs, "tables": tables})
        if progress:
            progress("report", i + 1, len(sections))
    env = jinja2.Environment(loader=jinja2.PackageLoader("mercator.report", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]))
    return env.get_template("report.html.j2").render(
        title="Mercator report", workspace=ws.location, engine=ws.engine.name, version=__version__,
        generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"), sections=rendered, plotly_js=plotly_js())


def build_report(ws: Workspace, path: str | Path, progress=None) -> Path:  # noqa: ANN001
    """Write the report to ``path`` and return it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(ws, progress=progress), encoding="utf-8")
    return path


__all__ = ["SECTIONS", "Section", "build_report", "plotly_js", "render_report"]
