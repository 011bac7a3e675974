"""What every command of the ``mercator`` command line shares: the root app, options,
printing of a Result (terminal, JSON, CSV, HTML) and the one place errors become messages.

Every command that returns a result accepts ``--json`` and then prints exactly one JSON
document (the result's ``to_dict()``) on stdout; logs and progress go to stderr.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from typer.core import TyperGroup

from mercator.errors import MercatorError
from mercator.results import LEAD_FINDINGS, Result

if TYPE_CHECKING:
    import pandas as pd

#: The root commands in the order ``mercator --help`` lists them.
COMMAND_ORDER = ("version", "init", "doctor", "demo", "ingest", "mappers", "tables", "query", "quarantine", "schema",
                 "explore", "trend", "diagnose", "funnel", "cohorts", "forecast", "segment", "target", "uplift", "clv",
                 "recommend", "attribution", "mmm", "experiment", "run", "serve")


class _Commands(TyperGroup):
    """The root command group: one place that turns errors into messages.

    A Mercator error prints its message (exit code 2); any other exception prints its type
    and message with a pointer to ``--verbose`` (exit code 1). Tracebacks are shown only
    with ``--verbose``, so bad input never answers with one.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _add_view_options(self)

    def list_commands(self, ctx: typer.Context) -> list[str]:
        """Commands in the order of the work: set-up, then each analysis, then the report."""
        rank = {name: i for i, name in enumerate(COMMAND_ORDER)}
        return sorted(super().list_commands(ctx), key=lambda n: rank.get(n, len(rank)))

    def invoke(self, ctx: typer.Context):
        try:
            return super().invoke(ctx)
        except MercatorError as exc:
            if _STATE["verbose"]:
                raise
            err.print(f"[red]error:[/red] {_masked(exc)}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=2) from None
        except Exception as exc:  # the last line of defence of the command line
            if _STATE["verbose"] or isinstance(exc, (typer.Exit, typer.Abort)) \
                    or type(exc).__module__.startswith("typer."):  # usage errors and exits: the parser's own
                raise
            err.print(f"[red]error:[/red] {type(exc).__name__}: {_masked(exc)[:2000]}\n"
                      "This input was not handled as it should have been; run again with --verbose for the "
                      "traceback and report it.", highlight=False, soft_wrap=True)
            raise typer.Exit(code=1) from None


def _remember(ctx: typer.Context, param, value: object) -> object:
    _STATE[param.name] = value  # read by _emit; set (or reset to the default) on every run
    return value


def _view_options() -> list:
    """The parameters ``--wide`` and ``--output``, built by Typer from a signature."""
    def view(wide: Annotated[bool, typer.Option("--wide", callback=_remember, help="Show every column of every "
                                                "table (by default those that fit the terminal).")] = False,
             output: Annotated[Path | None, typer.Option("--output", callback=_remember, dir_okay=False,
                                                          help="Also write the result's tables as CSV: the first "
                                                               "to this file, the others beside it as "
                                                               "<name>-<table>.csv.")] = None,
             html: Annotated[Path | None, typer.Option("--html", callback=_remember, dir_okay=False,
                                                        help="Also write the result as a self-contained HTML page "
                                                             "(findings, charts, tables).")] = None) -> None:
        """Only its parameters are used."""

    holder = typer.Typer(add_completion=False)
    holder.command()(view)
    params = typer.main.get_command(holder).params
    for p in params:
        p.expose_value = False
    return params


def _add_view_options(group: TyperGroup, extra: list | None = None) -> None:
    """``--wide``, ``--output FILE.csv`` and ``--html FILE`` on every command that prints a
    result (those with ``--json``), in one place instead of three parameters on each command."""
    extra = extra or _view_options()  # built once, shared by every command
    for cmd in group.commands.values():
        if isinstance(cmd, TyperGroup):
            _add_view_options(cmd, extra)
        elif any(p.name == "as_json" for p in cmd.params):
            own = {p.name for p in cmd.params}  # a command's own --output (clv fit's list) wins
            cmd.params += [p for p in extra if p.name not in own]


def _masked(exc: Exception) -> str:
    from mercator.ingest import mask_text

    return mask_text(str(exc))


_STATE: dict = {"verbose": False, "wait": 60.0}


app = typer.Typer(help="Mercator: marketing data to decisions.", no_args_is_help=True, add_completion=False,
                  cls=_Commands, pretty_exceptions_enable=False)


err = Console(stderr=True)


out = Console()


log = logging.getLogger("mercator")


WorkspaceOpt = Annotated[str | None, typer.Option("--workspace", "-w", envvar="MERCATOR_WORKSPACE",
                                                  help="DuckDB file or spark:// URL (default ./mercator.duckdb).")]


JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as one JSON document on stdout.")]


def models_location(workspace: str | None) -> str | None:
    """Where saved models are looked for: beside the DuckDB workspace file (``$MERCATOR_WORKSPACE``
    or ./mercator.duckdb by default); None for Spark (./models)."""
    from mercator.config import default_location

    location = str(workspace or default_location())
    return None if location.startswith("spark") else location


def _open(workspace: str | None, **kw):
    from mercator.workspace import Workspace

    def waiting(holder: str) -> None:
        err.print(f"waiting up to {_STATE['wait']:g} s for the workspace, held by {holder} ...", highlight=False)

    return Workspace(workspace, wait=_STATE["wait"], on_wait=waiting, **kw)


def _emit(result: Result, as_json: bool, *, exported: bool = False) -> None:
    if _STATE.get("output") and not exported:
        _write_csv(result, Path(_STATE["output"]))
    if _STATE.get("html"):
        from mercator.interfaces.report import result_page

        err.print(f"page written: {result_page(result, _STATE['html'], str(result.params.get('source') or ''))}", highlight=False)
    if as_json:
        sys.stdout.write(json.dumps(result.to_dict(), ensure_ascii=False) + "\n")
        return
    out.print(f"[bold]{result.title}[/bold]")
    for f in result.findings[:LEAD_FINDINGS]:
        out.print(f"- {f.text}")
    if len(result.findings) > LEAD_FINDINGS:
        out.print(f"[dim]... {len(result.findings) - LEAD_FINDINGS} more findings (all of them: --json or "
                  f"--html FILE)[/dim]")
    wide = bool(_STATE.get("wide"))
    for name, df in result.tables.items():
        if not df.empty:
            table, needed = _table(name, df, result.display_columns(name), None if wide else out.width)
            # Rich never draws wider than its console: a wide table gets a console of its width
            (Console(width=needed, file=out.file, no_color=out.no_color) if wide and needed > out.width
             else out).print(table)


MAX_ROWS = 20  # rows of a table in the terminal; the rest are counted ("... N more rows")


def _table(name: str, df: pd.DataFrame, order: list[str], width: int | None) -> tuple[Table, int]:
    """One result table for a terminal ``width`` columns wide (None: every column), and the
    width it needs.

    Columns are taken in ``order`` while they fit with their whole header, so a header is never
    cut to nothing; the columns left out and the rows past :data:`MAX_ROWS` are counted below."""
    rows = df.head(MAX_ROWS if width else 10 * MAX_ROWS)
    cells = {c: [_cell(v) for v in rows[c]] for c in order}
    shown, used = [], 1
    for c in order:
        longest = max((len(v) for v in cells[c]), default=0)
        need = max(len(c), longest if width is None else min(longest, 14)) + 3  # padding and border
        if width is not None and shown and used + need > width:
            break
        shown.append(c)
        used += need
    notes = []
    if len(df) > len(rows):
        notes.append(f"... {len(df) - len(rows):,} more rows")
    if len(shown) < len(order):
        notes.append(f"{len(order) - len(shown)} more columns")
    t = Table(title=name, show_lines=False, caption=" · ".join(notes) + " (all of it: --wide, --json or --output "
              "FILE.csv)" if notes else None)
    for c in shown:
        t.add_column(c, min_width=len(c), overflow="fold")
    for i in range(len(rows)):
        t.add_row(*(cells[c][i] for c in shown))
    return t, used


def _write_csv(result: Result, path: Path, ws=None) -> None:
    """Every table of ``result`` as CSV: the first to ``path``, the others beside it as
    ``<stem>-<table>.csv``; with the workspace it came from, the export goes into its audit
    trail."""
    from mercator.exports import write_csv

    written = []
    path.parent.mkdir(parents=True, exist_ok=True)
    for i, (name, df) in enumerate(result.tables.items()):
        target = path if i == 0 else path.with_name(f"{path.stem}-{name}{path.suffix or '.csv'}")
        write_csv(df, target)  # the one writer: cells that look like formulas are neutralized
        written.append(str(target))
    if ws is not None:
        from mercator.govern import record_export

        record_export(ws, path, what=result.kind, rows={n: len(df) for n, df in result.tables.items()})
    err.print("tables written: " + ", ".join(written), highlight=False, soft_wrap=True)


def write_export(df: pd.DataFrame, path: Path, what: str) -> None:
    """One table to CSV through the one writer (formula-like cells neutralized), said on stderr."""
    from mercator.exports import write_csv

    write_csv(df, path)
    err.print(f"wrote {len(df):,} rows of {what} to {path}", highlight=False)


def _cell(value: object) -> str:
    """A table cell for people: floats to 4 significant digits (JSON keeps every digit)."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 10_000 else f"{value:.4g}"
    return str(value)


def _fail(exc: Exception) -> None:
    err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=2)


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log more to stderr; show tracebacks.")]
         = False,
         wait: Annotated[float, typer.Option("--wait", envvar="MERCATOR_WAIT", min=0,
                                             help="Seconds to wait for a workspace another process holds.")] = 60.0,
         ) -> None:
    _STATE.update(verbose=verbose, wait=wait)
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")


@contextlib.contextmanager
def _progress_bars(as_json: bool) -> Iterator:
    """Progress bars on stderr, one per step; yields ``progress(step, done, total)`` for the
    analysis (the bars vanish when the output is JSON)."""
    tasks: dict[str, int] = {}
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=err,
                  transient=as_json) as bars:
        def progress(step: str, done: int, total: int) -> None:
            if step not in tasks:
                tasks[step] = bars.add_task(step, total=total)
            bars.update(tasks[step], completed=done, total=total)

        yield progress


def _analysis(workspace: str | None, run, as_json: bool, *, read_only: bool = True) -> None:
    """Open the workspace (read-only unless the analysis saves), run one analysis, print it (or its JSON)."""
    try:
        ws = _open(workspace, read_only=read_only)
        try:
            res = run(ws)
            if _STATE.get("output"):
                _write_csv(res, Path(_STATE["output"]), ws)
        finally:
            ws.close()
    except MercatorError as exc:
        _fail(exc)
    if ws.audit_deferred:
        _chain_audit(workspace)
    _emit(res, as_json, exported=True)


def _chain_audit(workspace: str | None) -> None:
    """Chain the audit entries a reading command left waiting (a model trained, a list
    exported), by opening the workspace for writing a moment; if another process holds it, they
    wait for the next writer (`mercator serve` chains every minute)."""
    from mercator.workspace import Workspace

    try:
        Workspace(workspace).close()  # a writer chains what waits when it opens
    except MercatorError as exc:
        log.info("audit entries left waiting: %s", exc)


def _file_or_workspace(workspace: str | None, source: str | None, run, as_json: bool) -> None:
    """Run on a file (or a glob of Parquet files) in memory, without a workspace, unless one
    is named and exists (then it serves what the file lacks: consent, saved segments). A
    workspace that is named (``--workspace`` or ``MERCATOR_WORKSPACE``) but does not exist
    yet is no reason to fail a file analysis. Without a file, the workspace is the source."""
    import glob

    if source is not None and glob.glob(source) and (workspace is None or not _workspace_exists(workspace)):
        _result(lambda: run(None), as_json)
    else:
        _analysis(workspace, run, as_json)


def _workspace_exists(workspace: str) -> bool:
    """A Spark location always 'exists' (its catalog is created on first use); a DuckDB one
    when its file does."""
    return workspace.startswith("spark:") or Path(workspace.removeprefix("duckdb://")).exists()


def _spinner(run):
    """Run ``run(progress)`` under a Rich spinner on stderr; ``progress(text)`` names the step."""
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err,
                  transient=True) as bar:
        task = bar.add_task("starting", total=None)
        return run(lambda text: bar.update(task, description=text))


def _result(run, as_json: bool) -> None:
    """Print ``run()``'s result (or its JSON); a MercatorError becomes a one-line error, exit 2."""
    try:
        res = run()
    except MercatorError as exc:
        _fail(exc)
    _emit(res, as_json)

