"""The HTML report and one-result pages: self-contained files (Jinja2 + Plotly, JavaScript
inlined, no network). The report renders what ``mercator.pipeline`` ran; it computes nothing."""

from mercator.interfaces.report._render import (
    ReportResult,
    plotly_js,
    render_pipeline,
    render_report,
    result_page,
    section_parts,
    write_report,
)

__all__ = ["ReportResult", "plotly_js", "render_pipeline", "render_report", "result_page", "section_parts",
           "write_report"]
