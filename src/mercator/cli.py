"""The ``mercator`` command line (Typer + Rich).

Every command that returns a result accepts ``--json`` and then prints exactly one JSON
document (the result's ``to_dict()``) on stdout; logs and progress go to stderr.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from typer.core import TyperGroup

from mercator import __version__
from mercator.errors import MercatorError
from mercator.results import LEAD_FINDINGS, Result

if TYPE_CHECKING:
    import pandas as pd


class _Commands(TyperGroup):
    """The root command group: one place that turns errors into messages.

    A Mercator error prints its message (exit code 2); any other exception prints its type
    and message with a pointer to ``--verbose`` (exit code 1). Tracebacks are shown only
    with ``--verbose``, so bad input never answers with one.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _add_view_options(self)

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
schema_app = typer.Typer(help="The canonical data model.", no_args_is_help=True)
app.add_typer(schema_app, name="schema")
clv_app = typer.Typer(help="Customer lifetime value (BG/NBD and Gamma-Gamma).", no_args_is_help=True)
app.add_typer(clv_app, name="clv")
segment_app = typer.Typer(help="Customer segments (RFM), saved to the workspace for audit.", no_args_is_help=True)
app.add_typer(segment_app, name="segment")
target_app = typer.Typer(help="Propensity, churn and lead scoring models.", no_args_is_help=True)
app.add_typer(target_app, name="target")
mmm_app = typer.Typer(help="Media-mix model and budget allocation.", no_args_is_help=True)
app.add_typer(mmm_app, name="mmm")
experiment_app = typer.Typer(help="A/B and multivariate tests, pre-registration and incrementality.",
                             no_args_is_help=True)
app.add_typer(experiment_app, name="experiment")
forecast_app = typer.Typer(help="Forecasts of KPIs with 80% and 95% intervals, models chosen by backtest.",
                           invoke_without_command=True)
app.add_typer(forecast_app, name="forecast")

err = Console(stderr=True)
out = Console()
log = logging.getLogger("mercator")

WorkspaceOpt = Annotated[str | None, typer.Option("--workspace", "-w", envvar="MERCATOR_WORKSPACE",
                                                  help="DuckDB file or spark:// URL (default ./mercator.duckdb).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as one JSON document on stdout.")]


def _open(workspace: str | None, **kw):
    from mercator.workspace import Workspace

    def waiting(holder: str) -> None:
        err.print(f"waiting up to {_STATE['wait']:g} s for the workspace, held by {holder} ...", highlight=False)

    return Workspace(workspace, wait=_STATE["wait"], on_wait=waiting, **kw)


def _emit(result: Result, as_json: bool) -> None:
    if _STATE.get("output"):
        _write_csv(result, Path(_STATE["output"]))
    if _STATE.get("html"):
        from mercator.report import result_page

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


def _write_csv(result: Result, path: Path) -> None:
    """Every table of ``result`` as CSV: the first to ``path``, the others beside it as
    ``<stem>-<table>.csv``."""
    from mercator.exports import write_csv

    written = []
    path.parent.mkdir(parents=True, exist_ok=True)
    for i, (name, df) in enumerate(result.tables.items()):
        target = path if i == 0 else path.with_name(f"{path.stem}-{name}{path.suffix or '.csv'}")
        write_csv(df, target)  # the one writer: cells that look like formulas are neutralized
        written.append(str(target))
    err.print("tables written: " + ", ".join(written), highlight=False, soft_wrap=True)


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
    import duckdb
    import ibis

    from mercator.results import Finding

    checks = [("mercator", __version__), ("python", sys.version.split()[0]), ("ibis", ibis.__version__),
              ("duckdb", duckdb.__version__)]
    try:
        import pyspark
        checks.append(("pyspark", pyspark.__version__))
    except ImportError:
        checks.append(("pyspark", "not installed (pip install 'mercator[spark]')"))
    findings = []
    try:
        with _open(workspace) as ws:
            inv = ws.inventory().to_frame()
            findings.append(Finding(f"workspace {ws.location} on {ws.engine.name}: {int(inv.rows.sum()):,} rows in "
                                    f"{int((inv.rows > 0).sum())} non-empty tables; settings in {ws.config.path}."))
    except MercatorError as exc:
        findings.append(Finding(f"workspace cannot be opened: {exc}", impact=1.0))
    import pandas as pd

    res = Result(tables={"versions": pd.DataFrame(checks, columns=["component", "version"])},
                 findings=tuple(findings))
    _emit(res, as_json)


def _progress_callback(progress: Progress):
    tasks: dict[str, int] = {}

    def cb(step: str, done: int, total: int) -> None:
        if step not in tasks:
            tasks[step] = progress.add_task(step, total=total)
        progress.update(tasks[step], completed=done, total=total)
    return cb


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

    opts, constants = {}, {}
    for flag, given, into in (("--option", option, opts), ("--set", set_, constants)):
        for o in given or []:
            if "=" not in o:
                _fail(MercatorError(f"{flag} {o!r}: expected key=value"))
            k, v = o.split("=", 1)
            into[k.strip()] = v.strip()
    try:
        with _open(workspace) as ws, Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                              TimeElapsedColumn(), console=err, transient=as_json) as progress:
            res = run_ingest(ws, paths, table=table, mapping=mapping, mapper=mapper, options=opts, force=force,
                             progress=_progress_callback(progress), constants=constants)
    except MercatorError as exc:
        _fail(exc)
    _emit(res, as_json)


@app.command()
def mappers(as_json: JsonOpt = False) -> None:
    """List the built-in mappers and the columns that identify each export."""
    import pandas as pd

    from mercator.ingest import MAPPERS

    df = pd.DataFrame([{"mapper": m.name, "description": m.description, "signature": ", ".join(sorted(m.signature)),
                        "options": "; ".join(f"{k}: {v}" for k, v in m.options.items())} for m in MAPPERS.values()])
    _emit(Result(tables={"mappers": df}), as_json)


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


def _analysis(workspace: str | None, run, as_json: bool, *, read_only: bool = True) -> None:
    """Open the workspace (read-only unless the analysis saves), run one analysis, print it (or its JSON)."""
    try:
        ws = _open(workspace, read_only=read_only)
        try:
            res = run(ws)
        finally:
            ws.close()
    except MercatorError as exc:
        _fail(exc)
    _emit(res, as_json)


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


def _date(text: str | None):
    import datetime as dt

    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        _fail(MercatorError(f"{text!r} is not an ISO date (YYYY-MM-DD)"))


@clv_app.command("fit")
def clv_fit(calibration_end: Annotated[str | None, typer.Option(help="Last day the models see (YYYY-MM-DD); the "
                                                                     "orders after it are the holdout. Default: all.")]
            = None,
            holdout_end: Annotated[str | None, typer.Option(help="Last day of the holdout; default: the last "
                                                                 "order.")] = None,
            horizon: Annotated[int, typer.Option(help="Months of value to predict.")] = 12,
            discount: Annotated[float, typer.Option(help="Discount rate per month.")] = 0.01,
            unit: Annotated[str, typer.Option(help="Time unit of the model: D, W or M.")] = "W",
            model: Annotated[str, typer.Option(help="auto (smallest holdout RMSE), bg_nbd, mbg_nbd or pareto_nbd.")]
            = "auto",
            compare: Annotated[str, typer.Option(help="Purchase models to fit and compare.")] = "bg_nbd,mbg_nbd",
            output: Annotated[Path | None, typer.Option(help="Write every customer's predictions to this CSV.")]
            = None,
            workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Fit BG/NBD and Gamma-Gamma on orders; expected purchases, P(alive) and CLV per customer."""
    import dataclasses

    from mercator.clv import fit_clv
    from mercator.exports import write_csv

    def run(ws):
        res = fit_clv(ws, _date(calibration_end), _date(holdout_end), horizon_months=horizon, discount=discount,
                      unit=unit, model=model, compare=tuple(_csv_list(compare)), keep_customers=output is not None)
        if output is not None:
            write_csv(res.to_frame("customers"), output)
            err.print(f"wrote {len(res.to_frame('customers')):,} customers to {output}")
            res = dataclasses.replace(res, tables={k: v for k, v in res.tables.items() if k != "customers"},
                                      params={**res.params, "output": str(output)})
        return res

    _analysis(workspace, run, as_json)


@segment_app.command("rfm")
def segment_rfm(quantiles: Annotated[str, typer.Option(help="Number of quantiles (5), or cut points such as "
                                                             "0.5,0.8,0.95.")] = "5",
                as_of: Annotated[str | None, typer.Option(help="Reference date (YYYY-MM-DD); default: the day "
                                                               "after the last order.")] = None,
                min_size: Annotated[int, typer.Option(help="Flag segments smaller than this.")] = 50,
                save: Annotated[bool, typer.Option(help="Save definitions and members to the workspace.")] = True,
                workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """RFM scores and named segments (champions, loyal, at risk...), with profiles."""
    from mercator.segment import rfm

    try:
        q: int | list[float] = int(quantiles) if "," not in quantiles and "." not in quantiles else \
            [float(v) for v in quantiles.split(",")]
    except ValueError:
        _fail(MercatorError(f"--quantiles {quantiles!r} is neither a number nor comma-separated cut points"))
    _save_segments(workspace, lambda ws: rfm(ws, quantiles=q, as_of=_date(as_of), min_size=min_size, save=save),
                   save, as_json)


def _save_segments(workspace: str | None, run, save: bool, as_json: bool) -> None:
    """A segmentation run on a writable workspace, saying where it was saved."""
    def saved(ws):
        res = run(ws)
        if save:
            err.print(f"saved segment set {res.params['segment_set']} to segments and segment_members")
        return res

    _analysis(workspace, saved, as_json, read_only=not save)


@segment_app.command("cluster")
def segment_cluster(method: Annotated[str, typer.Option(help="kmeans (k by silhouette) or gmm (k by BIC).")]
                    = "kmeans",
                    k: Annotated[int | None, typer.Option(help="Number of segments; default: chosen from 2-8.")]
                    = None,
                    min_share: Annotated[float, typer.Option(help="Smallest segment allowed, as a share of "
                                                                  "customers.")] = 0.02,
                    rounds: Annotated[int, typer.Option(help="Bootstrap refits for stability.")] = 20,
                    as_of: Annotated[str | None, typer.Option(help="Reference date; default: the day after the "
                                                                   "last order.")] = None,
                    channel: Annotated[str | None, typer.Option(help="Only this sales channel's orders.")] = None,
                    save: Annotated[bool, typer.Option(help="Save definitions and members.")] = True,
                    workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Behavioural segments from order features, with stability and profiles in words."""
    from mercator.segment import cluster

    _save_segments(workspace, lambda ws: cluster(ws, method=method, k=k, min_share=min_share, rounds=rounds,
                                                 as_of=_date(as_of), channel=channel, save=save), save, as_json)


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


def _csv_list(text: str | None) -> list[str]:
    return [v.strip() for v in (text or "").split(",") if v.strip()]


@target_app.command("train")
def target_train(table: Annotated[str, typer.Option(help="A CSV or Parquet file, or a workspace table.")],
                 label: Annotated[str, typer.Option(help="The column to predict.")],
                 exclude: Annotated[str | None, typer.Option(help="Columns to leave out, comma-separated.")] = None,
                 positive: Annotated[str | None, typer.Option(help="The label value that counts as positive.")]
                 = None,
                 time_col: Annotated[str | None, typer.Option(help="Sort by this column and split in time order.")]
                 = None,
                 ordered: Annotated[bool, typer.Option(help="The rows are already in time order: split in "
                                                            "order.")] = False,
                 label_time: Annotated[str | None, typer.Option(help="Column: when the label became known.")]
                 = None,
                 feature_time: Annotated[list[str] | None, typer.Option(help="FEATURE=COLUMN: when a feature was "
                                                                            "recorded (repeatable).")] = None,
                 model_out: Annotated[Path | None, typer.Option(help="Where to save the model.")] = None,
                 workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Train LightGBM and a logistic baseline; metrics, gains, calibration, SHAP, a model card."""
    from mercator.target import train_model

    times = {}
    for item in feature_time or []:
        if "=" not in item:
            _fail(MercatorError(f"--feature-time {item!r} is not FEATURE=COLUMN"))
        f, c = item.split("=", 1)
        times[f.strip()] = c.strip()
    _file_or_workspace(workspace, table, lambda ws: train_model(
        ws, table, label, exclude=_csv_list(exclude), positive=positive, time_col=time_col, ordered=ordered,
        label_time=label_time, feature_times=times, save_to=model_out), as_json)


@target_app.command("score")
def target_score(model: Annotated[Path, typer.Option(help="A model saved by `mercator target train`.")],
                 table: Annotated[str, typer.Option(help="A CSV or Parquet file, or a workspace table.")],
                 output: Annotated[Path, typer.Option(help="CSV to write the scores to.")],
                 id_col: Annotated[str | None, typer.Option(help="Column to copy into the output as the id.")]
                 = None,
                 batch_size: Annotated[int, typer.Option(help="Rows per batch.")] = 100_000,
                 reasons: Annotated[bool, typer.Option(help="Top SHAP reasons for rows above the threshold.")]
                 = True,
                 workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Score a whole table in batches (with progress): probability and top reasons per row."""
    from rich.progress import Progress

    from mercator.target import score_table

    def run(ws):
        with Progress(console=err, transient=True) as bar:
            task = bar.add_task("scoring", total=None)
            return score_table(model, ws, table, output, id_col=id_col, batch_size=batch_size, reasons=reasons,
                               progress=lambda done, total: bar.update(task, completed=done, total=total))

    _file_or_workspace(workspace, table, run, as_json)


def _days(text: str) -> float:
    """'30d', '2w' or '30' (days) as days."""
    t = text.strip().lower()
    try:
        return float(t[:-1]) * 7 if t.endswith("w") else float(t.removesuffix("d"))
    except ValueError:
        _fail(MercatorError(f"{text!r} is not a duration such as 30d or 2w"))


@app.command("attribution")
def attribution_cmd(model: Annotated[str | None, typer.Option(
                        "--model", help="Models, comma-separated (default all): first_touch, last_touch, "
                                        "last_non_direct, linear, time_decay, position_based, markov_1, markov_2, "
                                        "markov_3, shapley.")] = None,
                    lookback: Annotated[str, typer.Option(help="Touches counted before a conversion: 30d, 2w.")]
                    = "30d",
                    half_life: Annotated[str, typer.Option(help="Half-life of time-decay credit.")] = "7d",
                    conversion_event: Annotated[str, typer.Option(help="The event that is a conversion.")]
                    = "purchase",
                    since: Annotated[str | None, typer.Option(help="First day of events (YYYY-MM-DD).")] = None,
                    until: Annotated[str | None, typer.Option(help="Last day of events (YYYY-MM-DD).")] = None,
                    exclude_channels: Annotated[str | None, typer.Option(help="Channels that are not touches.")]
                    = None,
                    paths: Annotated[Path | None, typer.Option(help="A CSV/Parquet of paths with counts instead "
                                                                   "of the workspace's events.")] = None,
                    path_col: Annotated[str, typer.Option(help="Path column (channels joined by --sep).")] = "path",
                    conversions_col: Annotated[str, typer.Option(help="Conversions per path (or 0/1).")]
                    = "conversions",
                    nulls_col: Annotated[str | None, typer.Option(help="Journeys without conversion per path.")]
                    = "nulls",
                    value_col: Annotated[str | None, typer.Option(help="Conversion value per path.")] = "value",
                    sep: Annotated[str, typer.Option(help="Separator between channels in --paths.")] = ">",
                    workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Credit per channel under each attribution model, which model the data supports,
    cost per conversion and ROAS, and platform-reported vs attributed conversions."""
    from mercator.attribution import MODELS, attribution

    models = tuple(_csv_list(model)) or MODELS
    kw = {"models": models, "lookback_days": _days(lookback), "half_life_days": _days(half_life),
              "conversion_event": conversion_event, "start": _date(since), "end": _date(until),
              "exclude_channels": tuple(_csv_list(exclude_channels))}
    if paths is not None:
        def run(ws):
            return attribution(ws, paths=paths, path_col=path_col, conversions_col=conversions_col,
                               nulls_col=nulls_col or None, value_col=value_col or None, sep=sep, **kw)
        _file_or_workspace(workspace, str(paths), run, as_json)
    else:
        _analysis(workspace, lambda ws: attribution(ws, **kw), as_json)


def _spinner(run):
    """Run ``run(progress)`` under a Rich spinner on stderr; ``progress(text)`` names the step."""
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err,
                  transient=True) as bar:
        task = bar.add_task("starting", total=None)
        return run(lambda text: bar.update(task, description=text))


@mmm_app.command("fit")
def mmm_fit(data: Annotated[Path | None, typer.Option(help="CSV/Parquet, one row per period (default: the "
                                                         "workspace's media tables).")] = None,
            date_col: Annotated[str, typer.Option(help="The period column of --data.")] = "date",
            kpi: Annotated[str | None, typer.Option(help="The KPI column (or kpi_series name).")] = None,
            channels: Annotated[str | None, typer.Option(help="Spend columns, comma-separated.")] = None,
            controls: Annotated[str | None, typer.Option(help="Control columns, comma-separated.")] = None,
            adstock: Annotated[str, typer.Option(help="auto (chosen from the data by PSIS-LOO), geometric, "
                                                      "weibull_cdf or weibull_pdf.")] = "auto",
            saturation: Annotated[str, typer.Option(help="auto (chosen from the data by PSIS-LOO), logistic or "
                                                         "hill.")] = "auto",
            lmax: Annotated[int | None, typer.Option(help="Carryover window in periods (8 weekly, 28 daily).")]
            = None,
            yearly_order: Annotated[int, typer.Option(help="Fourier order of the yearly season.")] = 2,
            changepoints: Annotated[int, typer.Option(help="Knots where the trend may bend (0: a line).")] = 10,
            holdout: Annotated[float, typer.Option(help="Share of the last periods held out to check the fit.")]
            = 0.1,
            lift_tests: Annotated[Path | None, typer.Option(help="CSV of lift tests: channel, spend_before, "
                                                               "spend_after, delta_kpi, sd.")] = None,
            holidays: Annotated[Path | None, typer.Option(help="Holiday table (ds, country): holidays per period "
                                                             "become a control.")] = None,
            holiday_country: Annotated[str | None, typer.Option(help="Country code to take from --holidays.")]
            = None,
            chains: Annotated[int, typer.Option(help="NUTS chains.")] = 4,
            warmup: Annotated[int, typer.Option(help="Warm-up steps per chain.")] = 1000,
            samples: Annotated[int, typer.Option(help="Draws per chain.")] = 1000,
            seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
            model_out: Annotated[Path | None, typer.Option(help="Where to save the model.")] = None,
            workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Fit the Bayesian media-mix model: ROAS and marginal ROAS with intervals, contributions,
    response and adstock curves, diagnostics and a holdout check. Saves the model."""
    from mercator.mmm import fit_mmm, read_lift_tests

    def run(ws):
        tests = read_lift_tests(lift_tests) if lift_tests else ()
        return _spinner(lambda progress: fit_mmm(
            data, ws=ws, date_col=date_col, kpi=kpi, channels=_csv_list(channels), controls=_csv_list(controls),
            adstock=adstock, saturation=saturation, lmax=lmax, yearly_order=yearly_order, changepoints=changepoints,
            holdout=holdout, lift_tests=tests, holidays=holidays, holiday_country=holiday_country, chains=chains, warmup=warmup, samples=samples, seed=seed,
            save_to=model_out, progress=progress))

    if data is not None:
        _file_or_workspace(workspace, str(data), run, as_json)
    else:
        _analysis(workspace, run, as_json)


def _result(run, as_json: bool) -> None:
    """Print ``run()``'s result (or its JSON); a MercatorError becomes a one-line error, exit 2."""
    try:
        res = run()
    except MercatorError as exc:
        _fail(exc)
    _emit(res, as_json)


def _mmm_model(model: Path | None, workspace: str | None) -> Path:
    """The model file: --model, else the newest one beside the workspace (or in ./models)."""
    from mercator.mmm import latest_model

    if model is not None:
        return model
    return latest_model(None if workspace and workspace.startswith("spark://") else workspace or "mercator.duckdb")


ModelOpt = Annotated[Path | None, typer.Option("--model", help="A model saved by `mercator mmm fit` (default: "
                                                               "the newest one of the workspace).")]


@mmm_app.command("optimize")
def mmm_optimize(budget: Annotated[float | None, typer.Option(help="Budget per period (default: the current "
                                                                   "total).")] = None,
                 bounds: Annotated[str | None, typer.Option(help="CHANNEL:LOW-HIGH spend per period, "
                                                                 "comma-separated.")] = None,
                 lock: Annotated[str | None, typer.Option(help="Channels kept at their current spend.")] = None,
                 risk_aversion: Annotated[float, typer.Option(help="Maximize mean - this x sd of the response.")]
                 = 0.0,
                 target_roas: Annotated[float | None, typer.Option(help="Find the largest budget with this "
                                                                        "ROAS.")] = None,
                 target_cpa: Annotated[float | None, typer.Option(help="Find the largest budget with this CPA "
                                                                       "(count KPI).")] = None,
                 model: ModelOpt = None, workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """The allocation of a budget across channels that maximizes the expected KPI (or a
    risk-adjusted utility), with the expected gain over the current mix and its interval."""
    from mercator.mmm import optimize_budget, parse_bounds

    _result(lambda: optimize_budget(_mmm_model(model, workspace), budget, bounds=parse_bounds(bounds or ""),
                                    locks=_csv_list(lock), risk_aversion=risk_aversion, target_roas=target_roas,
                                    target_cpa=target_cpa), as_json)


@mmm_app.command("scenario")
def mmm_scenario(shift: Annotated[str, typer.Option(help='Spend changes, e.g. "tv:-15%,search:+15%".')],
                 periods: Annotated[int, typer.Option(help="Current spend = the mean of the last N periods.")] = 13,
                 model: ModelOpt = None, workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """The expected KPI change (with interval) of a change of the media mix."""
    from mercator.mmm import parse_shift, scenario

    _result(lambda: scenario(_mmm_model(model, workspace), parse_shift(shift), periods=periods), as_json)


@mmm_app.command("plan")
def mmm_plan(spend: Annotated[str, typer.Option(help='Spend per period per channel, e.g. "tv:30000,search:'
                                                     '12000".')],
             horizon: Annotated[int, typer.Option(help="Periods ahead.")] = 13,
             model: ModelOpt = None, workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Expected media-driven KPI over a horizon for a spend plan, carryover counted."""
    from mercator.mmm import parse_shift, plan

    _result(lambda: plan(_mmm_model(model, workspace), parse_shift(spend), horizon), as_json)


@experiment_app.command("design")
def experiment_design(baseline: Annotated[float, typer.Option(help="The metric's mean before the test (a rate, "
                                                                   "e.g. 0.05, unless --sd is given).")],
                      mde: Annotated[float | None, typer.Option(help="Relative effect to detect (0.1 = +10%).")]
                      = None,
                      sd: Annotated[float | None, typer.Option(help="Standard deviation per unit of a mean "
                                                                   "metric (omit for a rate).")] = None,
                      n_control: Annotated[float | None, typer.Option(help="Units available per arm: report "
                                                                         "the detectable effect instead.")] = None,
                      alpha: Annotated[float, typer.Option(help="Significance level.")] = 0.05,
                      power: Annotated[float, typer.Option(help="Chance of detecting the effect.")] = 0.8,
                      ratio: Annotated[float, typer.Option(help="Treatment units per control unit.")] = 1.0,
                      one_sided: Annotated[bool, typer.Option(help="Test only for an increase.")] = False,
                      units_per_day: Annotated[float | None, typer.Option(help="Traffic: units per day.")] = None,
                      share: Annotated[float, typer.Option(help="Share of the traffic in the test.")] = 1.0,
                      as_json: JsonOpt = False) -> None:
    """Sample size (or minimum detectable effect), duration and power curve of a test."""
    from mercator.experiment import design

    _result(lambda: design(baseline=baseline, mde_relative=mde, sd=sd, n_control=n_control, alpha=alpha, power=power,
                           ratio=ratio, alternative="greater" if one_sided else "two-sided",
                           units_per_day=units_per_day, share_in_test=share), as_json)


SplitOpt = Annotated[str | None, typer.Option(help='The planned share of each arm, e.g. "psa:0.04,ad:0.96" '
                                              "(default: equal), so that a designed unequal split is not called "
                                              "a sample ratio mismatch.")]


@experiment_app.command("register")
def experiment_register(experiment: Annotated[str, typer.Argument(help="Experiment id.")],
                        hypothesis: Annotated[str, typer.Option(help="What you expect and why.")],
                        metric: Annotated[str, typer.Option(help="The primary metric (a column of the unit data, "
                                                                 "or num/den).")],
                        min_lift: Annotated[float, typer.Option(help="Smallest relative lift worth shipping.")]
                        = 0.0,
                        alpha: Annotated[float, typer.Option(help="Significance level.")] = 0.05,
                        guardrail: Annotated[list[str] | None, typer.Option(help="metric>-0.02 (may fall 2%) or "
                                                                                 "metric<0.1 (may rise 10%); "
                                                                                 "repeatable.")] = None,
                        name: Annotated[str | None, typer.Option(help="Short name.")] = None,
                        expected_split: SplitOpt = None,
                        workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Lock an experiment's hypothesis, primary metric, guardrails and decision rule (timestamp
    and SHA-256) before reading any result."""
    from mercator.experiment import Guardrail, parse_split, register

    def run(ws):
        guards = [Guardrail.parse(g).spec for g in guardrail or []]
        rule = {"metric": metric, "min_relative_lift": min_lift, "alpha": alpha}
        if expected_split:
            rule["expected_split"] = parse_split(expected_split)
        return register(ws, experiment, hypothesis=hypothesis, primary_metric=metric, guardrails=guards, name=name,
                        success_criteria=rule)

    _analysis(workspace, run, as_json, read_only=False)


@experiment_app.command("analyze")
def experiment_analyze(data: Annotated[str | None, typer.Option(help="Unit rows: CSV, Parquet (a glob reads many "
                                                                     "files) or a workspace table.")] = None,
                       experiment: Annotated[str | None, typer.Option(help="A workspace experiment id (units: "
                                                                           "assignments joined with orders).")]
                       = None,
                       variant_col: Annotated[str, typer.Option(help="Column naming each unit's variant.")]
                       = "variant",
                       metrics: Annotated[str, typer.Option(help="Columns (means; 0/1 = rates) or num/den ratios, "
                                                                 "comma-separated.")] = "converted",
                       covariate: Annotated[str | None, typer.Option(help="Pre-period column for CUPED; pre_* "
                                                                          "means pre_<metric>.")] = None,
                       control: Annotated[str | None, typer.Option(help="The control variant (default: control, "
                                                                        "holdout, A...).")] = None,
                       by: Annotated[str | None, typer.Option(help="Segment columns, comma-separated.")] = None,
                       factors: Annotated[str | None, typer.Option(help="Two-level factor columns of a 2^k "
                                                                        "factorial test, comma-separated.")]
                       = None,
                       guardrail: Annotated[list[str] | None, typer.Option(help="metric>-0.02 or metric<0.1; "
                                                                                "repeatable.")] = None,
                       correction: Annotated[str, typer.Option(help="holm or fdr_bh.")] = "holm",
                       alpha: Annotated[float, typer.Option(help="Significance level.")] = 0.05,
                       sequential: Annotated[bool, typer.Option(help="Add always-valid confidence sequences "
                                                                     "(peeking allowed).")] = False,
                       n_target: Annotated[float | None, typer.Option(help="Planned units (tunes the "
                                                                          "sequences).")] = None,
                       unit_col: Annotated[str | None, typer.Option(help="Unit id column: check for units in "
                                                                        "several variants or rows.")] = None,
                       exposure_col: Annotated[str | None, typer.Option(help="What the unit saw (e.g. "
                                                                            "landing_page): check it matches "
                                                                            "the variant.")] = None,
                       clean: Annotated[bool, typer.Option(help="Drop the rows the checks flag.")] = False,
                       min_lift: Annotated[float | None, typer.Option(help="Decision rule given now (not "
                                                                          "pre-registered): minimum lift of the "
                                                                          "first metric.")] = None,
                       expected_split: SplitOpt = None,
                       cap: Annotated[float | None, typer.Option(help="Cap every non-0/1 metric at this quantile "
                                                                      "(e.g. 0.999) and show effects with and "
                                                                      "without.")] = None,
                       workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Effects of every arm on every metric with intervals (Welch t, CUPED, delta method),
    Bayesian chance to win, SRM and guardrail checks, segments, factorial terms, and the
    verdict against the experiment's locked criteria."""
    from mercator.experiment import analyze, parse_split

    mets = _csv_list(metrics)
    split = parse_split(expected_split) if expected_split else None
    criteria = {"metric": mets[0], "min_relative_lift": min_lift, "alpha": alpha} if min_lift is not None else None

    def run(ws):
        return analyze(data, ws=ws, experiment=experiment, variant_col=variant_col, metrics=mets,
                       covariate=covariate, control=control, by=_csv_list(by), factors=_csv_list(factors),
                       guardrails=guardrail or [], alpha=alpha, correction=correction, sequential=sequential,
                       n_target=n_target, unit_col=unit_col, exposure_col=exposure_col, clean=clean,
                       criteria=criteria, expected_split=split, cap=cap)

    if (data is None) == (experiment is None):
        _fail(MercatorError("give --data FILE or --experiment ID"))
    _file_or_workspace(workspace, data, run, as_json)


@experiment_app.command("impact")
def experiment_impact(data: Annotated[str, typer.Option(help="KPI rows: CSV/Parquet or a workspace table.")],
                      kpi: Annotated[str, typer.Option(help="The KPI column.")],
                      post_start: Annotated[str, typer.Option(help="First day of the campaign (YYYY-MM-DD).")],
                      date_col: Annotated[str, typer.Option(help="The date column.")] = "date",
                      controls: Annotated[str | None, typer.Option(help="Control series columns (not moved by "
                                                                         "the campaign), comma-separated.")]
                      = None,
                      method: Annotated[str, typer.Option(help="causal_impact or did (control geos).")]
                      = "causal_impact",
                      unit_col: Annotated[str | None, typer.Option(help="did: the geo (unit) column.")] = None,
                      treated: Annotated[str | None, typer.Option(help="did: treated units, comma-separated.")]
                      = None,
                      min_lift: Annotated[float | None, typer.Option(help="Verdict: the minimum relative lift.")]
                      = None,
                      experiment: Annotated[str | None, typer.Option(help="Verdict: the locked criteria of this "
                                                                          "workspace experiment.")] = None,
                      alpha: Annotated[float, typer.Option(help="1 - interval level.")] = 0.05,
                      workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """A campaign's incremental effect against a counterfactual: a state-space model of the
    pre-period with control series (CausalImpact-style) or difference in differences."""
    from mercator.experiment import impact

    def run(ws):
        return impact(data, ws=ws, date_col=date_col, kpi=kpi, post_start=post_start, controls=_csv_list(controls),
                      method=method, unit_col=unit_col, treated=_csv_list(treated), alpha=alpha,
                      criteria={"min_relative_lift": min_lift} if min_lift is not None else None,
                      experiment=experiment)

    if experiment is not None:
        _analysis(workspace, run, as_json)
    else:
        _file_or_workspace(workspace, data, run, as_json)


MetricOpt = Annotated[str | None, typer.Option(help="A KPI of the workspace (conversions, cpa, revenue, visits...).")]
ByOpt = Annotated[str | None, typer.Option(help="One series per value of this dimension (channel, campaign_id, "
                                                "device, country...).")]
HorizonOpt = Annotated[int, typer.Option(help="Periods ahead.")]
FreqOpt = Annotated[str, typer.Option(help="D (daily) or W (weekly).")]
ModelsOpt = Annotated[str, typer.Option(help="auto, full, fast, or model names: seasonal_naive, auto_ets, "
                                             "auto_arima, mstl.")]
DataOpt = Annotated[str | None, typer.Option(help="Instead of a KPI: a CSV/Parquet file (with --value-col).")]
ValueOpt = Annotated[str | None, typer.Option(help="--data: the column to forecast (summed per period).")]
DateOpt = Annotated[str, typer.Option(help="--data: the date column.")]


@forecast_app.callback()
def forecast_cmd(ctx: typer.Context, metric: MetricOpt = None, by: ByOpt = None, horizon: HorizonOpt = 28,
                 freq: FreqOpt = "D", models: ModelsOpt = "auto",
                 windows: Annotated[int, typer.Option(help="Backtest windows.")] = 3,
                 until: Annotated[str | None, typer.Option(help="Forecast as if on this day (YYYY-MM-DD).")] = None,
                 data: DataOpt = None, value_col: ValueOpt = None, date_col: DateOpt = "date",
                 workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Forecast a KPI (total or per segment) with 80% and 95% intervals; each series by the
    model that did best in its rolling-origin backtest."""
    if ctx.invoked_subcommand is not None:
        return
    if metric is None and data is None:
        _fail(MercatorError("give --metric (a workspace KPI) or --data with --value-col"))
    from mercator.forecast import forecast

    _file_or_workspace(workspace, data, lambda ws: _spinner(lambda progress: forecast(
        ws, metric, data=data, date_col=date_col, value_col=value_col, by=by, horizon=horizon, freq=freq,
        models=models, n_windows=windows, until=until)), as_json)


@forecast_app.command("backtest")
def forecast_backtest(metric: MetricOpt = None, by: ByOpt = None, horizon: HorizonOpt = 28, freq: FreqOpt = "D",
                      models: ModelsOpt = "auto", windows: Annotated[int, typer.Option(help="Backtest windows.")] = 3,
                      data: DataOpt = None, value_col: ValueOpt = None, date_col: DateOpt = "date",
                      workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Every model's rolling-origin backtest per series: error relative to seasonal naive,
    MASE, and how often the 80% and 95% intervals held."""
    if metric is None and data is None:
        _fail(MercatorError("give --metric (a workspace KPI) or --data with --value-col"))
    from mercator.forecast import backtest

    _file_or_workspace(workspace, data, lambda ws: _spinner(lambda progress: backtest(
        ws, metric, data=data, date_col=date_col, value_col=value_col, by=by, horizon=horizon, freq=freq,
        models=models, n_windows=windows)), as_json)


@forecast_app.command("pace")
def forecast_pace(metric: Annotated[str, typer.Option(help="A workspace KPI, e.g. cpa.")],
                  target: Annotated[float, typer.Option(help="The target for the period.")],
                  end: Annotated[str, typer.Option(help="Last day of the period (YYYY-MM-DD).")],
                  start: Annotated[str | None, typer.Option(help="First day (default: the first of the last "
                                                                  "data month).")] = None,
                  by: ByOpt = None, models: ModelsOpt = "auto", workspace: WorkspaceOpt = None,
                  as_json: JsonOpt = False) -> None:
    """Where the KPI lands at the end of the period at the current pace, against a target."""
    from mercator.forecast import pace

    _analysis(workspace, lambda ws: _spinner(lambda progress: pace(ws, metric, target=target, end=end, start=start,
                                                                   by=by, models=models)), as_json)


@forecast_app.command("drivers")
def forecast_drivers(target: Annotated[str, typer.Option(help="An ad_performance KPI: cpc, clicks, conversions, "
                                                              "cpa, ctr...")] = "cpc",
                     by: Annotated[str, typer.Option(help="Segments of the rows, comma-separated (none: the "
                                                          "total per period, with the channel and device mix as "
                                                          "drivers).")] = "channel,device",
                     features: Annotated[str | None, typer.Option(help="--data: more driver columns (such as bid), "
                                                                       "comma-separated, averaged per row.")] = None,
                     freq: FreqOpt = "D", splits: Annotated[int, typer.Option(help="Time-ordered folds.")] = 5,
                     data: Annotated[str | None, typer.Option(help="A CSV/Parquet file with ad_performance's "
                                                                   "columns instead of the workspace.")] = None,
                     date_col: DateOpt = "date",
                     spend_col: Annotated[str, typer.Option(help="The spend column.")] = "cost",
                     workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """What moves a KPI: gradient boosting against a ridge regression on spend, calendar,
    device and channel (time-ordered CV), with partial dependence per driver."""
    from mercator.forecast import drivers

    _file_or_workspace(workspace, data, lambda ws: _spinner(lambda progress: drivers(
        ws, target, data=data, by=_csv_list(by), features=_csv_list(features), freq=freq, date_col=date_col,
        spend_col=spend_col, n_splits=splits, progress=progress)), as_json)


@app.command("uplift")
def uplift_cmd(experiment: Annotated[str, typer.Option(help="An experiment id of the workspace (outcome: any "
                                                            "order within the experiment's length), or experiment "
                                                            "rows in a CSV/Parquet file or workspace table.")],
               treatment_col: Annotated[str, typer.Option(help="Column naming each row's arm.")] = "variant",
               treated: Annotated[str, typer.Option(help="The treated arm's value.")] = "treatment",
               control: Annotated[str, typer.Option(help="The control arm's value.")] = "control",
               outcome: Annotated[str, typer.Option(help="0/1 outcome column.")] = "converted",
               channel: Annotated[str | None, typer.Option(help="Workspace experiments: count only orders of this "
                                                                "channel.")] = None,
               exclude: Annotated[str | None, typer.Option(help="Columns to leave out (other outcomes, ids).")]
               = None,
               k: Annotated[float, typer.Option(help="Share targeted for uplift@k.")] = 0.3,
               bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples for the intervals.")] = 200,
               target_list_out: Annotated[Path | None, typer.Option("--target-list", help="Also write the top "
                                                                     "customers by expected uplift to this CSV.")]
               = None,
               top: Annotated[int, typer.Option(help="Customers in the target list.")] = 1000,
               id_col: Annotated[str | None, typer.Option(help="Customer id column (for suppression).")] = None,
               value_col: Annotated[str | None, typer.Option(help="Value per customer: rank by uplift x value.")]
               = None,
               suppress_rule: Annotated[str | None, typer.Option(help="Exclude rows matching this pandas query.")]
               = None,
               suppress_segment: Annotated[list[str] | None, typer.Option(help="Exclude members of this saved "
                                                                               "segment (repeatable).")] = None,
               consent: Annotated[str | None, typer.Option(help="customers column that must be true, e.g. "
                                                                "consent_marketing_email.")] = None,
               workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Uplift learners compared by Qini, AUUC and uplift@k (bootstrap intervals); optional target list."""
    import dataclasses

    from mercator.target import experiment_frame, target_list, uplift

    skip = _csv_list(exclude)
    in_workspace = not Path(experiment).exists() and "." not in experiment

    def run(ws):
        nonlocal skip
        source = experiment
        if ws is not None and in_workspace and experiment not in ws.engine.con.list_tables():
            source = experiment_frame(ws, experiment, channel=channel)
            skip = [*skip, "unit_id", "orders", "revenue"]
        res = uplift(ws, source, treatment_col=treatment_col, treated=treated, control=control,
                     outcome=outcome, exclude=[*skip, *([id_col] if id_col else [])], k=k, bootstrap=bootstrap)
        if target_list_out is None:
            return res
        tl = target_list(ws, source, target_list_out, treatment_col=treatment_col, treated=treated,
                         control=control, outcome=outcome, id_col=id_col, value_col=value_col, top=top,
                         learner=res.params["best"], exclude=skip, suppress_rule=suppress_rule,
                         suppress_segments=suppress_segment or [], consent=consent)
        return dataclasses.replace(res, findings=res.findings + tl.findings,
                                   tables={**res.tables, "target_list": tl.to_frame("list"),
                                           "suppressed": tl.to_frame("suppressed")},
                                   params={**res.params, "target_list": tl.params})

    needs_ws = bool(suppress_segment or consent) or in_workspace
    if needs_ws:
        _analysis(workspace, run, as_json)
    else:
        _file_or_workspace(workspace, experiment, run, as_json)


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
    import pandas as pd

    from mercator.schema import table_spec

    try:
        spec = table_spec(table)
    except MercatorError as exc:
        _fail(exc)
    df = pd.DataFrame([{"column": c.name, "type": c.dtype, "unit": c.unit, "constraints": c.constraint_text(),
                        "pii": c.pii, "key": c.name in spec.key, "description": c.description}
                       for c in spec.columns])
    _emit(Result(tables={table: df}, params={"table": table}), as_json)


@app.command()
def demo(size: Annotated[str, typer.Option(help="small, default or large.")] = "default",
         workspace: Annotated[str, typer.Option("--workspace", "-w", help="Demo workspace file.")]
         = "demo/mercator-demo.duckdb",
         report: Annotated[Path, typer.Option(help="Where to write the HTML report.")] = Path("demo/report.html"),
         seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
         as_json: JsonOpt = False) -> None:
    """Build the demo company's workspace (known ground truth), run the pipeline, write the report."""
    from mercator.demo import build_demo_workspace
    from mercator.report import build_report

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                  console=err, transient=as_json) as progress:
        cb = _progress_callback(progress)
        ws, res = build_demo_workspace(workspace, size=size, seed=seed, progress=cb)
        path = build_report(ws, report, progress=cb)
        ws.close()
    err.print(f"report: {path}")
    _emit(res, as_json)


@app.command()
def run(workspace: WorkspaceOpt = None,
        report: Annotated[Path, typer.Option(help="Where to write the HTML report.")] = Path("mercator-report.html"),
        as_json: JsonOpt = False) -> None:
    """Run the analyses on the workspace and write the HTML report."""
    from mercator.report import build_report

    try:
        with _open(workspace) as ws, Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                              TimeElapsedColumn(), console=err, transient=as_json) as progress:
            path = build_report(ws, report, progress=_progress_callback(progress))
    except MercatorError as exc:
        _fail(exc)
    err.print(f"report: {path}")
    from mercator.results import Finding

    _emit(Result(findings=(Finding(f"report written to {path}"),), params={"report": str(path)}), as_json)


if __name__ == "__main__":  # pragma: no cover
    app()
