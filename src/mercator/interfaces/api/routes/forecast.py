"""Forecasts: forecast, backtest, pace, drivers (background jobs)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import Field

from mercator.interfaces._params import csv_list
from mercator.interfaces.api.routes._common import Body, submit

router = APIRouter(prefix="/v1/forecast", tags=["forecast"])


class Forecast(Body):
    metric: str = Field(description="A KPI of the workspace (conversions, cpa, revenue, visits...).")
    by: str | None = Field(None, description="One series per value of this dimension.")
    horizon: int = Field(28, ge=1, le=730)
    freq: str = "D"
    models: str = "auto"
    windows: int = Field(3, ge=1, le=20)
    until: str | None = None


def forecast_job(ws, p: dict, progress):
    from mercator.forecast import forecast

    progress("forecasting")
    return forecast(ws, p["metric"], by=p["by"], horizon=p["horizon"], freq=p["freq"], models=p["models"],
                    n_windows=p["windows"], until=p["until"])


@router.post("", status_code=202)
def forecast(request: Request, body: Forecast) -> Response:
    """Forecast a KPI with 80% and 95% intervals, each series by its backtest's best model
    (`mercator forecast`); a job."""
    return submit(request, "forecast", forecast_job, body)


class Backtest(Body):
    metric: str
    by: str | None = None
    horizon: int = Field(28, ge=1, le=730)
    freq: str = "D"
    models: str = "auto"
    windows: int = Field(3, ge=1, le=20)


def backtest_job(ws, p: dict, progress):
    from mercator.forecast import backtest

    progress("backtesting")
    return backtest(ws, p["metric"], by=p["by"], horizon=p["horizon"], freq=p["freq"], models=p["models"],
                    n_windows=p["windows"])


@router.post("/backtest", status_code=202)
def backtest(request: Request, body: Backtest) -> Response:
    """Every model's rolling-origin backtest per series (`mercator forecast backtest`); a job."""
    return submit(request, "forecast-backtest", backtest_job, body)


class Pace(Body):
    metric: str
    target: float
    end: str
    start: str | None = None
    by: str | None = None
    models: str = "auto"


def pace_job(ws, p: dict, progress):
    from mercator.forecast import pace

    progress("forecasting the rest of the period")
    return pace(ws, p["metric"], target=p["target"], end=p["end"], start=p["start"], by=p["by"], models=p["models"])


@router.post("/pace", status_code=202)
def pace(request: Request, body: Pace) -> Response:
    """Where the KPI lands at the end of the period at the current pace (`mercator forecast pace`); a job."""
    return submit(request, "forecast-pace", pace_job, body)


class Drivers(Body):
    target: str = "cpc"
    by: str = "channel,device"
    freq: str = "D"
    splits: int = Field(5, ge=2, le=20)


def drivers_job(ws, p: dict, progress):
    from mercator.forecast import drivers

    return drivers(ws, p["target"], by=csv_list(p["by"]), freq=p["freq"], n_splits=p["splits"], progress=progress)


@router.post("/drivers", status_code=202)
def drivers(request: Request, body: Drivers) -> Response:
    """What moves a KPI: gradient boosting against ridge with partial dependence
    (`mercator forecast drivers`); a job."""
    return submit(request, "forecast-drivers", drivers_job, body)
