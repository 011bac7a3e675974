"""Workspace commands: init, doctor, ingest, mappers, tables, query, quarantine, schema, demo, version."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from mercator import __version__
from mercator.errors import MercatorError
from mercator.interfaces._params import pairs
from mercator.interfaces.cli._common import (
    _STATE,
    JsonOpt,
    WorkspaceOpt,
    _emit,
    _fail,
    _open,
    _progress_bars,
    app,
    err,
    out,
)

schema_app = typer.Typer(help="The canonical data model.", no_args_is_help=True)
app.add_typer(schema_app, name="schema")


@app.command()
def version() -> None:
    """Print Mercator's version."""
    out.print(__version__)


@app.command()
def init(workspace: WorkspaceOpt = None) -> None:
    """Create a workspace (tables and the settings file with its pseudonymization key)."""
    try:
        with _open(workspace) as ws:
            err.print(f"workspace ready: {ws.location} (settings: {ws.config.path})")
    except MercatorError as exc:
        _fail(exc)


@app.command()
def doctor(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Check the installation and the workspace: versions, engine, tables, settings."""
    from mercator.workspace import doctor as check

    _emit(check(workspace, wait=_STATE["wait"]), as_json)


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files to load (CSV/TSV, Parquet, JSON lines, Excel; .gz).")],
    table: Annotated[str | None, typer.Option("--table", "-t", help="Canonical table; columns matched by name.")]
    = None,
    mapping: Annotated[Path | None, typer.Option("--mapping", "-m", help="YAML column mapping.")] = None,
    mapper: Annotated[str | None, typer.Option("--mapper", help="Built-in mapper (see `mercator mappers`).")]
    = None,
    option: Annotated[list[str] | None, typer.Option("--option", "-o", help="Mapper option key=value.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Load even if the same bytes were loaded before.")] = False,
    set_: Annotated[list[str] | None, typer.Option("--set", help="COLUMN=VALUE: a canonical column set to one "
                                                   "value for every row (repeatable), e.g. platform=google_ads.")]
    = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Load files into the workspace; bad rows go to quarantine with their reason."""
    from mercator.ingest import ingest as run_ingest

    opts, constants = pairs(option, "--option"), pairs(set_, "--set")
    from mercator.config import default_location
    from mercator.interfaces._served import running_server

    url = running_server(str(workspace or default_location()))
    if url is not None:  # the server holds the workspace's writes: load through it (docs/api.md)
        _ingest_through(url, paths, {"table": table, "mapping": str(mapping.resolve()) if mapping else None,
                                     "mapper": mapper, "options": opts, "set": constants, "force": force}, as_json)
        return
    try:
        with _open(workspace) as ws, _progress_bars(as_json) as progress:
            res = run_ingest(ws, paths, table=table, mapping=mapping, mapper=mapper, options=opts, force=force,
                             progress=progress, constants=constants)
    except MercatorError as exc:
        _fail(exc)
    _emit(res, as_json)


def _ingest_through(url: str, paths: list[Path], body: dict, as_json: bool) -> None:
    from mercator.ingest import IngestResult
    from mercator.interfaces._served import run_job

    err.print(f"loading through mercator serve at {url} (its reads go on meanwhile)", highlight=False)
    try:
        with _progress_bars(as_json) as progress:
            doc = run_job(url, "/v1/ingest", {**body, "paths": [str(p.resolve()) for p in paths]}, progress)
    except MercatorError as exc:
        _fail(exc)
    _emit(IngestResult.from_dict(doc), as_json)


@app.command()
def mappers(as_json: JsonOpt = False) -> None:
    """List the built-in mappers and the columns that identify each export."""
    from mercator.ingest import list_mappers

    _emit(list_mappers(), as_json)


@app.command()
def tables(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """The canonical tables with row counts and time ranges."""
    try:
        with _open(workspace, read_only=True) as ws:
            res = ws.inventory()
    except MercatorError as exc:
        _fail(exc)
    _emit(res, as_json)


@app.command()
def query(sql: Annotated[str, typer.Argument(help="SQL over the workspace's tables.")],
          limit: Annotated[int, typer.Option(help="At most this many rows.")] = 10_000,
          workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Run one read-only SELECT over the workspace's tables (no file access, no other statements)."""
    try:
        with _open(workspace, read_only=True, sandbox=True) as ws:
            res = ws.query(sql, limit=limit)
    except MercatorError as exc:
        _fail(exc)
    _emit(res, as_json)


@app.command()
def quarantine(table: Annotated[str | None, typer.Option("--table", "-t", help="Only rows meant for this table.")]
               = None, limit: Annotated[int, typer.Option(help="At most this many sample rows.")] = 1000,
               workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Rejected rows: counts by table, file and reason, and the rows themselves."""
    from mercator.quality import quarantine_report

    try:
        with _open(workspace, read_only=True) as ws:
            res = quarantine_report(ws, table=table, limit=limit)
    except MercatorError as exc:
        _fail(exc)
    _emit(res, as_json)


@schema_app.command("docs")
def schema_docs(output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file.")] = None
                ) -> None:
    """Print (or write) the data-model documentation generated from the declarations."""
    from mercator.schema import data_model_markdown

    text = data_model_markdown()
    if output:
        output.write_text(text, encoding="utf-8")
        err.print(f"wrote {output}")
    else:
        sys.stdout.write(text)


@schema_app.command("show")
def schema_show(table: Annotated[str, typer.Argument(help="Canonical table.")], as_json: JsonOpt = False) -> None:
    """The columns of one canonical table."""
    from mercator.schema import describe_table

    _emit(describe_table(table), as_json)


@app.command()
def demo(size: Annotated[str, typer.Option(help="small, default or large.")] = "default",
         workspace: Annotated[str, typer.Option("--workspace", "-w", help="Demo workspace file.")]
         = "demo/mercator-demo.duckdb",
         report: Annotated[Path, typer.Option(help="Where to write the HTML report.")] = Path("demo/report.html"),
         seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
         as_json: JsonOpt = False) -> None:
    """Build the demo company's workspace (known ground truth), run the pipeline, write the report."""
    from mercator.demo import build_demo_workspace
    from mercator.interfaces.report import write_report

    with _progress_bars(as_json) as progress:
        ws, res = build_demo_workspace(workspace, size=size, seed=seed, progress=progress)
        written = write_report(ws, report, progress=progress)
        ws.close()
    err.print(f"report: {written.params['report']}")
    _emit(res, as_json)

