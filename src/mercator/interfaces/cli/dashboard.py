"""Dashboard: refresh (the pages `mercator serve` shows, computed ahead of their views)."""

from __future__ import annotations

from typing import Annotated

import typer

from mercator.interfaces._params import csv_list
from mercator.interfaces.cli._common import JsonOpt, WorkspaceOpt, _analysis, _progress_bars, app

dashboard_app = typer.Typer(help="The dashboard of `mercator serve`: its pages, computed ahead of their views.",
                            no_args_is_help=True)
app.add_typer(dashboard_app, name="dashboard")


@dashboard_app.command("refresh")
def refresh(pages: Annotated[str | None, typer.Option(help="Only these pages, comma-separated (default: every "
                                                           "page).")] = None,
            force: Annotated[bool, typer.Option(help="Recompute pages that are current too.")] = False,
            workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Compute the dashboard pages the data has changed under and store them in the workspace,
    so each view reads one row (for cron after loads; `mercator serve` also does it on its
    --refresh-interval)."""
    from mercator.interfaces.dashboard import refresh_dashboard

    def run(ws):
        with _progress_bars(as_json) as progress:
            return refresh_dashboard(ws, csv_list(pages) if pages else None, force=force, progress=progress)

    _analysis(workspace, run, as_json, read_only=False)
