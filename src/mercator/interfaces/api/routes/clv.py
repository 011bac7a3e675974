"""Customer lifetime value (a background job)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import Field

from mercator.interfaces._params import csv_list, iso_date
from mercator.interfaces.api.routes._common import Body, submit

router = APIRouter(prefix="/v1/clv", tags=["clv"])


class ClvFit(Body):
    calibration_end: str | None = None
    holdout_end: str | None = None
    horizon: int = Field(12, ge=1, le=120)
    discount: float = Field(0.01, ge=0, lt=1)
    unit: str = "W"
    model: str = "auto"
    compare: str = "bg_nbd,mbg_nbd"


def fit_job(ws, p: dict, progress):
    from mercator.clv import fit_clv

    progress("fitting BG/NBD and Gamma-Gamma")
    return fit_clv(ws, iso_date(p["calibration_end"], "calibration_end"), iso_date(p["holdout_end"], "holdout_end"),
                   horizon_months=p["horizon"], discount=p["discount"], unit=p["unit"], model=p["model"],
                   compare=tuple(csv_list(p["compare"])), keep_customers=False)


@router.post("/fit", status_code=202)
def fit(request: Request, body: ClvFit) -> Response:
    """Fit BG/NBD and Gamma-Gamma on orders (`mercator clv fit`); a job."""
    for name in ("calibration_end", "holdout_end"):  # a bad date is a 400 now, not a failed job later
        iso_date(getattr(body, name), name)
    return submit(request, "clv-fit", fit_job, body)
