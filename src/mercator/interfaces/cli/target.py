"""Propensity models and uplift: target train, target score, uplift."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress

from mercator.interfaces._params import csv_list, pairs
from mercator.interfaces.cli._common import (
    JsonOpt,
    WorkspaceOpt,
    _analysis,
    _file_or_workspace,
    app,
    err,
    write_export,
)

target_app = typer.Typer(help="Propensity, churn and lead scoring models.", no_args_is_help=True)
app.add_typer(target_app, name="target")


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

    times = pairs(feature_time, "--feature-time")
    _file_or_workspace(workspace, table, lambda ws: train_model(
        ws, table, label, exclude=csv_list(exclude), positive=positive, time_col=time_col, ordered=ordered,
        label_time=label_time, feature_times=times, save=True, save_to=model_out), as_json)


@target_app.command("score")
def target_score(model: Annotated[Path, typer.Option(help="A model saved by `mercator target train`.")],
                 table: Annotated[str, typer.Option(help="A CSV or Parquet file, or a workspace table.")],
                 output: Annotated[Path, typer.Option(help="CSV to write the scores to.")],
                 id_col: Annotated[str | None, typer.Option(help="Column to copy into the output as the id.")]
                 = None,
                 batch_size: Annotated[int, typer.Option(help="Rows per batch.")] = 100_000,
                 reasons: Annotated[bool, typer.Option(help="Top SHAP reasons for rows above the threshold.")]
                 = True,
                 consent: Annotated[str | None, typer.Option(help="Write only people with this consent (a purpose: "
                                                                  "marketing_email, ads, personalization, "
                                                                  "analytics); needs --id-col.")] = None,
                 suppress_segment: Annotated[list[str] | None, typer.Option(help="Leave out members of this saved "
                                                                               "segment (repeatable).")] = None,
                 workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Score a whole table in batches streamed from the engine (with progress): probability and
    top reasons per row; with --consent or --suppress-segment, only people who may be selected."""

    from mercator.target import score_table

    def run(ws):
        with Progress(console=err, transient=True) as bar:
            task = bar.add_task("scoring", total=None)
            return score_table(model, ws, table, output, id_col=id_col, batch_size=batch_size, reasons=reasons,
                               consent=consent, suppress_segments=tuple(suppress_segment or ()),
                               progress=lambda done, total: bar.update(task, completed=done, total=total))

    if consent or suppress_segment:  # the filter reads the workspace's customers and segments
        _analysis(workspace, run, as_json)
    else:
        _file_or_workspace(workspace, table, run, as_json)


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
    from mercator.target import ListSpec, uplift

    spec = None if target_list_out is None else ListSpec(
        top=top, id_col=id_col, value_col=value_col, suppress_rule=suppress_rule,
        suppress_segments=tuple(suppress_segment or ()), consent=consent)

    def run(ws):
        res = uplift(ws, experiment, treatment_col=treatment_col, treated=treated, control=control, outcome=outcome,
                     exclude=[*csv_list(exclude), *([id_col] if id_col else [])], k=k, bootstrap=bootstrap,
                     channel=channel, target=spec)
        if target_list_out is not None:
            write_export(res.to_frame("target_list"), target_list_out, "target list")
        return res

    if suppress_segment or consent:  # suppression reads the workspace's segments and consent
        _analysis(workspace, run, as_json)
    else:
        _file_or_workspace(workspace, experiment, run, as_json)
