"""Customer segments: RFM and behavioural clusters."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import Field

from mercator.interfaces._params import iso_date, quantiles
from mercator.interfaces.api.routes._common import Body, read, write

router = APIRouter(prefix="/v1/segments", tags=["segment"])


class Rfm(Body):
    quantiles: str = Field("5", description="Number of quantiles, or cut points such as 0.5,0.8,0.95.")
    as_of: str | None = None
    min_size: int = Field(50, ge=0)
    save: bool = Field(True, description="Save definitions and members to the workspace.")


@router.post("/rfm")
async def rfm(request: Request, body: Rfm) -> Response:
    """RFM scores and named segments with profiles (`mercator segment rfm`)."""
    from mercator.segment import rfm as run

    q, as_of = quantiles(body.quantiles), iso_date(body.as_of, "as_of")

    def analysis(ws):
        return run(ws, quantiles=q, as_of=as_of, min_size=body.min_size, save=body.save)

    return await (write(request, analysis) if body.save else read(request, analysis, body.model_dump()))


class Cluster(Body):
    method: str = "kmeans"
    k: int | None = Field(None, ge=2, le=20)
    min_share: float = Field(0.02, ge=0, lt=1)
    rounds: int = Field(20, ge=0, le=200)
    as_of: str | None = None
    channel: str | None = None
    save: bool = True


@router.post("/cluster")
async def cluster(request: Request, body: Cluster) -> Response:
    """Behavioural segments from order features, with stability and profiles (`mercator segment cluster`)."""
    from mercator.segment import cluster as run

    as_of = iso_date(body.as_of, "as_of")

    def analysis(ws):
        return run(ws, method=body.method, k=body.k, min_share=body.min_share, rounds=body.rounds, as_of=as_of,
                   channel=body.channel, save=body.save)

    return await (write(request, analysis) if body.save else read(request, analysis, body.model_dump()))
