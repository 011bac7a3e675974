"""Attribution of conversions to channels."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from mercator.interfaces._params import csv_list, days, iso_date
from mercator.interfaces.api.routes._common import read

router = APIRouter(prefix="/v1", tags=["attribution"])


@router.get("/attribution")
async def attribution(request: Request, model: str | None = None, lookback: str = "30d", half_life: str = "7d",
                conversion_event: str = "purchase", since: str | None = None, until: str | None = None,
                exclude_channels: str | None = None) -> Response:
    """Credit per channel under each model, which model the data supports, cost per conversion
    and ROAS (`mercator attribution`, on the workspace's events)."""
    from mercator.attribution import MODELS
    from mercator.attribution import attribution as run

    kw = {"models": tuple(csv_list(model)) or MODELS, "lookback_days": days(lookback, "lookback"),
          "half_life_days": days(half_life, "half_life"), "conversion_event": conversion_event,
          "start": iso_date(since, "since"), "end": iso_date(until, "until"),
          "exclude_channels": tuple(csv_list(exclude_channels))}
    return await read(request, lambda ws: run(ws, **kw), kw)
