"""Customer lifetime value: clv fit."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mercator.interfaces._params import csv_list, iso_date
from mercator.interfaces.cli._common import (
    JsonOpt,
    WorkspaceOpt,
    _analysis,
    app,
    write_export,
)

clv_app = typer.Typer(help="Customer lifetime value (BG/NBD and Gamma-Gamma).", no_args_is_help=True)
app.add_typer(clv_app, name="clv")


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
    from mercator.clv import fit_clv

    def run(ws):
        res = fit_clv(ws, iso_date(calibration_end, "--calibration-end"), iso_date(holdout_end, "--holdout-end"),
                      horizon_months=horizon, discount=discount, unit=unit, model=model,
                      compare=tuple(csv_list(compare)), keep_customers=output is not None)
        if output is not None:
            write_export(res.to_frame("customers"), output, "customers")
        return res

    _analysis(workspace, run, as_json)

