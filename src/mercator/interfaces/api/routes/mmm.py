"""The media-mix model: fit (a background job), optimize, scenario, plan."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import Field

from mercator.interfaces._params import csv_list
from mercator.interfaces.api.routes._common import Body, answer, server, submit

router = APIRouter(prefix="/v1/mmm", tags=["mmm"])


class MmmFit(Body):
    kpi: str | None = Field(None, description="A kpi_series name (default: the workspace's conversions).")
    channels: str | None = None
    adstock: str = "auto"
    saturation: str = "auto"
    lmax: int | None = Field(None, ge=1, le=104)
    yearly_order: int = Field(2, ge=0, le=10)
    changepoints: int = Field(10, ge=0, le=50)
    holdout: float = Field(0.1, ge=0, lt=0.5)
    chains: int = Field(4, ge=1, le=8)
    warmup: int = Field(1000, ge=50, le=10_000)
    samples: int = Field(1000, ge=50, le=10_000)
    seed: int = 0


def fit_job(ws, p: dict, progress):
    from mercator.mmm import fit_mmm

    return fit_mmm(ws=ws, kpi=p["kpi"], channels=csv_list(p["channels"]), adstock=p["adstock"],
                   saturation=p["saturation"], lmax=p["lmax"], yearly_order=p["yearly_order"],
                   changepoints=p["changepoints"], holdout=p["holdout"], chains=p["chains"], warmup=p["warmup"],
                   samples=p["samples"], seed=p["seed"], save=True, progress=progress)


@router.post("/fit", status_code=202)
def fit(request: Request, body: MmmFit) -> Response:
    """Fit the Bayesian media-mix model on the workspace's media tables (`mercator mmm fit`); a job.
    The model is saved beside the workspace; its id is the result's ``params.model``."""
    return submit(request, "mmm-fit", fit_job, body)


def _model(request: Request, model: str | None):
    from mercator.mmm import find_model

    srv = server(request)
    return find_model(srv.workspace if srv.is_duckdb else None, model)


class Optimize(Body):
    model: str | None = Field(None, description="A model id (default: the newest model of the workspace).")
    budget: float | None = Field(None, gt=0)
    bounds: str | None = Field(None, description="CHANNEL:LOW-HIGH spend per period, comma-separated.")
    lock: str | None = None
    risk_aversion: float = Field(0.0, ge=0)
    target_roas: float | None = Field(None, gt=0)
    target_cpa: float | None = Field(None, gt=0)


@router.post("/optimize")
def optimize(request: Request, body: Optimize) -> Response:
    """The allocation that maximizes the expected KPI, with the gain over the current mix
    (`mercator mmm optimize`)."""
    from mercator.mmm import optimize_budget, parse_bounds

    return answer(optimize_budget(_model(request, body.model), body.budget, bounds=parse_bounds(body.bounds or ""),
                                  locks=csv_list(body.lock), risk_aversion=body.risk_aversion,
                                  target_roas=body.target_roas, target_cpa=body.target_cpa))


class Scenario(Body):
    shift: str = Field(description='Spend changes, e.g. "tv:-15%,search:+15%".')
    periods: int = Field(13, ge=1)
    model: str | None = None


@router.post("/scenario")
def scenario(request: Request, body: Scenario) -> Response:
    """The expected KPI change of a change of the media mix (`mercator mmm scenario`)."""
    from mercator.mmm import parse_shift
    from mercator.mmm import scenario as run

    return answer(run(_model(request, body.model), parse_shift(body.shift), periods=body.periods))


class Plan(Body):
    spend: str = Field(description='Spend per period per channel, e.g. "tv:30000,search:12000".')
    horizon: int = Field(13, ge=1, le=520)
    model: str | None = None


@router.post("/plan")
def plan(request: Request, body: Plan) -> Response:
    """Expected media-driven KPI over a horizon for a spend plan (`mercator mmm plan`)."""
    from mercator.mmm import parse_shift
    from mercator.mmm import plan as run

    return answer(run(_model(request, body.model), parse_shift(body.spend), body.horizon))
