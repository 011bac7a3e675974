"""What happened: explore and trend."""

from __future__ import annotations

from typing import Annotated

import typer

from mercator.interfaces.cli._common import JsonOpt, WorkspaceOpt, _analysis, app


@app.command("explore")
def explore_cmd(since: Annotated[str | None, typer.Option(help="First day of the period (YYYY-MM-DD); default: "
                                                               "the last 28 days.")] = None,
                by: Annotated[str, typer.Option(help="Breakdowns, comma-separated; a pair as a+b "
                                                     "(e.g. channel,device+country).")] = "channel,device",
                workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """What happened: KPIs against the previous period and a year ago, breakdowns, anomalies."""
    import datetime as dt

    from mercator.explore import explore

    start = dt.date.fromisoformat(since) if since else None
    _analysis(workspace, lambda ws: explore(ws, since=start, by=[b.strip() for b in by.split(",") if b.strip()]),
              as_json)


@app.command("trend")
def trend_cmd(metric: Annotated[str, typer.Option(help="KPI, e.g. conversions, cpa, revenue.")] = "conversions",
              grain: Annotated[str, typer.Option(help="day or week.")] = "day",
              period: Annotated[str | None, typer.Option(help="START:END; default: all data.")] = None,
              workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """A KPI's trend and seasonality (STL), with anomalous days marked."""
    from mercator.explore import Period, trend

    _analysis(workspace, lambda ws: trend(ws, metric, grain=grain, period=Period.parse(period) if period else None),
              as_json)

