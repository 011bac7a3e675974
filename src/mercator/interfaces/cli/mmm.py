"""The media-mix model: mmm fit, optimize, scenario, plan."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mercator.interfaces._params import csv_list
from mercator.interfaces.cli._common import (
    JsonOpt,
    WorkspaceOpt,
    _analysis,
    _file_or_workspace,
    _result,
    _spinner,
    app,
    models_location,
)

mmm_app = typer.Typer(help="Media-mix model and budget allocation.", no_args_is_help=True)
app.add_typer(mmm_app, name="mmm")


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
            data, ws=ws, date_col=date_col, kpi=kpi, channels=csv_list(channels), controls=csv_list(controls),
            adstock=adstock, saturation=saturation, lmax=lmax, yearly_order=yearly_order, changepoints=changepoints,
            holdout=holdout, lift_tests=tests, holidays=holidays, holiday_country=holiday_country, chains=chains, warmup=warmup, samples=samples, seed=seed,
            save=True, save_to=model_out, progress=progress))

    if data is not None:
        _file_or_workspace(workspace, str(data), run, as_json)
    else:
        _analysis(workspace, run, as_json)


def _mmm_model(model: Path | None, workspace: str | None) -> Path:
    """The model file: --model, else the newest one beside the workspace (or in ./models)."""
    from mercator.mmm import latest_model

    if model is not None:
        return model
    return latest_model(models_location(workspace))


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
                                    locks=csv_list(lock), risk_aversion=risk_aversion, target_roas=target_roas,
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

