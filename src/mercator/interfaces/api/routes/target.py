"""Propensity models (training is a background job) and uplift."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import Field

from mercator.interfaces._params import csv_list, pairs
from mercator.interfaces.api.routes._common import Body, read, submit

router = APIRouter(prefix="/v1", tags=["target"])


class Train(Body):
    table: str = Field(description="A workspace table.")
    label: str
    exclude: str | None = None
    positive: str | None = None
    time_col: str | None = None
    ordered: bool = False
    label_time: str | None = None
    feature_time: list[str] = Field(default_factory=list, description="FEATURE=COLUMN.")


def train_job(ws, p: dict, progress):
    from mercator.target import train_model

    progress("training LightGBM and the logistic baseline")
    return train_model(ws, p["table"], p["label"], exclude=csv_list(p["exclude"]), positive=p["positive"],
                       time_col=p["time_col"], ordered=p["ordered"], label_time=p["label_time"],
                       feature_times=pairs(p["feature_time"], "feature_time"), save=True)


@router.post("/target/train", status_code=202)
def train(request: Request, body: Train) -> Response:
    """Train LightGBM and a logistic baseline on a workspace table; metrics, gains, calibration,
    SHAP, a model card (`mercator target train`); a job. The model is saved beside the workspace."""
    pairs(body.feature_time, "feature_time")  # a bad pair is a 400 now, not a failed job later
    return submit(request, "target-train", train_job, body)


class Uplift(Body):
    experiment: str = Field(description="A workspace experiment id, or a workspace table of experiment rows.")
    treatment_col: str = "variant"
    treated: str = "treatment"
    control: str = "control"
    outcome: str = "converted"
    channel: str | None = None
    exclude: str | None = None
    k: float = Field(0.3, gt=0, lt=1)
    bootstrap: int = Field(200, ge=0, le=2000)


@router.post("/uplift")
async def uplift(request: Request, body: Uplift) -> Response:
    """Uplift learners compared by Qini, AUUC and uplift@k with bootstrap intervals (`mercator uplift`)."""
    from mercator.target import uplift as run

    def analysis(ws):
        return run(ws, body.experiment, treatment_col=body.treatment_col, treated=body.treated,
                   control=body.control, outcome=body.outcome, exclude=csv_list(body.exclude), k=body.k,
                   bootstrap=body.bootstrap, channel=body.channel)

    return await read(request, analysis, body.model_dump())
