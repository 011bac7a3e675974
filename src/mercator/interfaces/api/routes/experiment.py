"""Experiments: design, pre-registration, analysis, incrementality."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import Field

from mercator.interfaces._params import csv_list
from mercator.interfaces.api.routes._common import Body, answer, read, write

router = APIRouter(prefix="/v1/experiments", tags=["experiment"])


@router.get("/design")
def design(baseline: float = Query(gt=0), mde: float | None = Query(None, gt=0), sd: float | None = Query(None, gt=0),
           n_control: float | None = Query(None, gt=0), alpha: float = Query(0.05, gt=0, lt=1),
           power: float = Query(0.8, gt=0, lt=1), ratio: float = Query(1.0, gt=0), one_sided: bool = False,
           units_per_day: float | None = Query(None, gt=0), share: float = Query(1.0, gt=0, le=1)) -> Response:
    """Sample size (or minimum detectable effect), duration and power curve (`mercator experiment design`)."""
    from mercator.experiment import design as run

    return answer(run(baseline=baseline, mde_relative=mde, sd=sd, n_control=n_control, alpha=alpha, power=power,
                      ratio=ratio, alternative="greater" if one_sided else "two-sided", units_per_day=units_per_day,
                      share_in_test=share))


@router.get("/review")
async def review(request: Request, metrics: str = "converted,revenue,revenue/orders", covariate: str = "pre_*"
           ) -> Response:
    """Every experiment read against its locked criteria (`mercator experiment review`)."""
    from mercator.experiment import review as run

    return await read(request, lambda ws: run(ws, metrics=csv_list(metrics), covariate=covariate),
                {"metrics": metrics, "covariate": covariate})


class Register(Body):
    hypothesis: str = Field(min_length=1)
    metric: str = Field(min_length=1, description="The primary metric.")
    min_lift: float = 0.0
    alpha: float = Field(0.05, gt=0, lt=1)
    guardrail: list[str] = Field(default_factory=list, description="metric>-0.02 or metric<0.1.")
    name: str | None = None
    expected_split: str | None = None


@router.put("/{experiment}")
async def register(request: Request, experiment: str, body: Register) -> Response:
    """Lock an experiment's hypothesis, metric, guardrails and decision rule before reading any
    result (`mercator experiment register`); 409 if it was locked with other criteria."""
    from mercator.experiment import Guardrail, parse_split
    from mercator.experiment import register as run

    guards = [Guardrail.parse(g).spec for g in body.guardrail]
    rule = {"metric": body.metric, "min_relative_lift": body.min_lift, "alpha": body.alpha}
    if body.expected_split:
        rule["expected_split"] = parse_split(body.expected_split)
    return await write(request, lambda ws: run(ws, experiment, hypothesis=body.hypothesis, primary_metric=body.metric,
                                         guardrails=guards, name=body.name, success_criteria=rule))


@router.get("/{experiment}/analysis")
async def analyze(request: Request, experiment: str, metrics: str = "converted", covariate: str | None = None,
            control: str | None = None, by: str | None = None, guardrail: Annotated[list[str] | None, Query()] = None,
            correction: Literal["holm", "fdr_bh"] = "holm", alpha: float = Query(0.05, gt=0, lt=1),
            sequential: bool = False, n_target: float | None = Query(None, gt=0),
            cap: float | None = Query(None, gt=0, le=1)) -> Response:
    """Effects of every arm on every metric with intervals, SRM and guardrail checks and the
    verdict against the locked criteria (`mercator experiment analyze --experiment ID`)."""
    from mercator.experiment import analyze as run

    def analysis(ws):
        return run(None, ws=ws, experiment=experiment, metrics=csv_list(metrics), covariate=covariate,
                   control=control, by=csv_list(by), guardrails=guardrail or [], alpha=alpha, correction=correction,
                   sequential=sequential, n_target=n_target, cap=cap)

    return await read(request, analysis, {"experiment": experiment, "metrics": metrics, "covariate": covariate,
                                    "control": control, "by": by, "guardrail": guardrail, "correction": correction,
                                    "alpha": alpha, "sequential": sequential, "n_target": n_target, "cap": cap})


class Impact(Body):
    data: str = Field(description="A workspace table (or kpi_series) with the KPI rows.")
    kpi: str
    post_start: str
    date_col: str = "date"
    controls: str | None = None
    method: Literal["causal_impact", "did"] = "causal_impact"
    unit_col: str | None = None
    treated: str | None = None
    min_lift: float | None = None
    experiment: str | None = None
    alpha: float = Field(0.05, gt=0, lt=1)


@router.post("/impact")
async def impact(request: Request, body: Impact) -> Response:
    """A campaign's incremental effect against a counterfactual (`mercator experiment impact`)."""
    from mercator.experiment import impact as run

    def analysis(ws):
        return run(body.data, ws=ws, date_col=body.date_col, kpi=body.kpi, post_start=body.post_start,
                   controls=csv_list(body.controls), method=body.method, unit_col=body.unit_col,
                   treated=csv_list(body.treated), alpha=body.alpha,
                   criteria={"min_relative_lift": body.min_lift} if body.min_lift is not None else None,
                   experiment=body.experiment)

    return await read(request, analysis, body.model_dump())
