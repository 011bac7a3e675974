"""The report command: run the analyses and write the HTML report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mercator.errors import MercatorError
from mercator.interfaces.cli._common import (
    JsonOpt,
    WorkspaceOpt,
    _emit,
    _fail,
    _open,
    _progress_bars,
    app,
    err,
)


@app.command()
def run(workspace: WorkspaceOpt = None,
        report: Annotated[Path, typer.Option(help="Where to write the HTML report.")] = Path("mercator-report.html"),
        as_json: JsonOpt = False) -> None:
    """Run the analyses on the workspace and write the HTML report."""
    from mercator.interfaces.report import write_report

    try:
        with _open(workspace, read_only=True) as ws, _progress_bars(as_json) as progress:
            res = write_report(ws, report, progress=progress)
    except MercatorError as exc:
        _fail(exc)
    err.print(f"report: {res.params['report']}")
    _emit(res, as_json)
