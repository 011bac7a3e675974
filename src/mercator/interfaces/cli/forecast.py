"""Forecasts: forecast, backtest, pace, drivers."""

from __future__ import annotations

from typing import Annotated

import typer

from mercator.errors import MercatorError
from mercator.interfaces._params import csv_list
from mercator.interfaces.cli._common import (
    JsonOpt,
    WorkspaceOpt,
    _analysis,
    _fail,
    _file_or_workspace,
    _spinner,
    app,
)

forecast_app = typer.Typer(help="Forecasts of KPIs with 80% and 95% intervals, models chosen by backtest.",
                           invoke_without_command=True)
app.add_typer(forecast_app, name="forecast")


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
        ws, target, data=data, by=csv_list(by), features=csv_list(features), freq=freq, date_col=date_col,
        spend_col=spend_col, n_splits=splits, progress=progress)), as_json)

