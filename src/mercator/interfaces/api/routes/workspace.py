"""The workspace: tables, quarantine, read-only SQL, the data model, the mappers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import Field

from mercator.interfaces.api.routes._common import Body, answer, read, server

router = APIRouter(prefix="/v1", tags=["workspace"])


@router.get("/tables")
async def tables(request: Request) -> Response:
    """The canonical tables with row counts and time ranges (`mercator tables`)."""
    return await read(request, lambda ws: ws.inventory(), {})


@router.get("/quarantine")
async def quarantine(request: Request, table: str | None = None, limit: Annotated[int, Query(ge=0)] = 1000
               ) -> Response:
    """Rejected rows: counts by table, file and reason, and the rows (`mercator quarantine`)."""
    from mercator.quality import quarantine_report

    return await read(request, lambda ws: quarantine_report(ws, table=table, limit=limit), {"table": table, "limit": limit})


class Sql(Body):
    sql: str = Field(description="One SELECT over the workspace's tables.")
    limit: int = Field(10_000, ge=1)


@router.post("/query")
def query(request: Request, body: Sql) -> Response:
    """One read-only SELECT on a sandboxed connection (`mercator query`)."""
    result, _ = server(request).run(None, lambda ws: ws.query(body.sql, limit=body.limit), sandbox=True)
    return answer(result)


@router.get("/schema/{table}")
def schema_show(table: str) -> Response:
    """The columns of one canonical table (`mercator schema show`)."""
    from mercator.schema import describe_table

    return answer(describe_table(table))


@router.get("/mappers")
def mappers() -> Response:
    """The built-in mappers and the columns that identify each export (`mercator mappers`)."""
    from mercator.ingest import list_mappers

    return answer(list_mappers())
