"""Why it happened: diagnose, funnel and cohorts."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from mercator.interfaces._params import csv_list
from mercator.interfaces.api.routes._common import read

router = APIRouter(prefix="/v1", tags=["diagnose"])


@router.get("/diagnose")
async def diagnose(request: Request, metric: str, current: str = Query(description="START:END of the period to explain."),
             baseline: str | None = None) -> Response:
    """Why a KPI changed: mix and rate effects by segment, root cause (`mercator diagnose`)."""
    from mercator.diagnose import diagnose as run

    return await read(request, lambda ws: run(ws, metric, current, baseline),
                {"metric": metric, "current": current, "baseline": baseline})


@router.get("/funnel")
async def funnel(request: Request, steps: str = Query(description="Event names in order, comma-separated."),
           by: str | None = None, window: str = "7d", period: str | None = None) -> Response:
    """Users through ordered steps within a window; drop-off by segment (`mercator funnel`)."""
    from mercator.diagnose import funnel as run

    return await read(request, lambda ws: run(ws, csv_list(steps), window=window, by=by, period=period),
                {"steps": steps, "by": by, "window": window, "period": period})


@router.get("/cohorts")
async def cohorts(request: Request, grain: str = "week", table: str = "events") -> Response:
    """Retention of first-activity cohorts (`mercator cohorts`)."""
    from mercator.diagnose import cohorts as run

    return await read(request, lambda ws: run(ws, grain=grain, table=table), {"grain": grain, "table": table})
