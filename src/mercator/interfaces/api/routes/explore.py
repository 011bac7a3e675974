"""What happened: explore and trend."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from mercator.interfaces._params import csv_list, iso_date
from mercator.interfaces.api.routes._common import read

router = APIRouter(prefix="/v1", tags=["explore"])


@router.get("/explore")
async def explore(request: Request, since: str | None = None, by: str = "channel,device") -> Response:
    """KPIs against the previous period and a year ago, breakdowns, anomalies (`mercator explore`)."""
    from mercator.explore import explore as run

    start = iso_date(since, "since")
    return await read(request, lambda ws: run(ws, since=start, by=csv_list(by)), {"since": since, "by": by})


@router.get("/trend")
async def trend(request: Request, metric: str = "conversions", grain: str = "day", period: str | None = None
          ) -> Response:
    """A KPI's trend and seasonality (STL), with anomalous days marked (`mercator trend`)."""
    from mercator.explore import Period
    from mercator.explore import trend as run

    span = Period.parse(period) if period else None
    return await read(request, lambda ws: run(ws, metric, grain=grain, period=span),
                {"metric": metric, "grain": grain, "period": period})
