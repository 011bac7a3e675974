"""Why it happened: diagnose, funnel and cohorts."""

from __future__ import annotations

from typing import Annotated

import typer

from mercator.interfaces.cli._common import JsonOpt, WorkspaceOpt, _analysis, app


@app.command("diagnose")
def diagnose_cmd(metric: Annotated[str, typer.Option(help="KPI, e.g. cvr, cpa, conversions.")],
                 current: Annotated[str, typer.Option(help="START:END of the period to explain.")],
                 baseline: Annotated[str | None, typer.Option(help="START:END to compare with; default: the "
                                                                   "period just before.")] = None,
                 workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Why a KPI changed: mix and rate effects by segment, root cause, one level of drill-down."""
    from mercator.diagnose import diagnose

    _analysis(workspace, lambda ws: diagnose(ws, metric, current, baseline), as_json)


@app.command("funnel")
def funnel_cmd(steps: Annotated[str, typer.Option(help="Event names in order, comma-separated.")],
               by: Annotated[str | None, typer.Option(help="Segment by this events column (device, channel...).")]
               = None, window: Annotated[str, typer.Option(help="Conversion window from the first step.")] = "7d",
               period: Annotated[str | None, typer.Option(help="START:END of first steps; default: all.")] = None,
               workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Users through ordered steps within a window; drop-off and its significance by segment."""
    from mercator.diagnose import funnel

    _analysis(workspace, lambda ws: funnel(ws, [s.strip() for s in steps.split(",")], window=window, by=by,
                                           period=period), as_json)


@app.command("cohorts")
def cohorts_cmd(grain: Annotated[str, typer.Option(help="week or month.")] = "week",
                table: Annotated[str, typer.Option(help="events or orders.")] = "events",
                workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Retention of first-activity cohorts."""
    from mercator.diagnose import cohorts

    _analysis(workspace, lambda ws: cohorts(ws, grain=grain, table=table), as_json)

