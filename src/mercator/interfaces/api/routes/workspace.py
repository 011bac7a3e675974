"""The workspace: loads, tables, quarantine, read-only SQL, the data model, the mappers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import Field

from mercator.errors import BadParameter
from mercator.interfaces.api.routes._common import Body, answer, read, server, submit

router = APIRouter(prefix="/v1", tags=["workspace"])


class Load(Body):
    paths: list[str] = Field(min_length=1, description="Files on the server's machine, inside its ingest folder "
                             "(`mercator serve --ingest-root`, default: the folder it was started in).")
    table: str | None = Field(None, description="Canonical table; columns matched by name.")
    mapping: str | None = Field(None, description="A YAML column mapping, inside the ingest folder.")
    mapper: str | None = Field(None, description="A built-in mapper (`GET /v1/mappers`).")
    options: dict[str, str] = Field(default_factory=dict, description="Options of the built-in mapper.")
    set: dict[str, str] = Field(default_factory=dict, description="Canonical columns set to one value for "
                                "every row, e.g. {\"platform\": \"google_ads\"}.")
    force: bool = Field(False, description="Load even if the same bytes were loaded before.")


def ingest_job(ws, p: dict, progress):
    from mercator.ingest import ingest

    return ingest(ws, p["paths"], table=p["table"], mapping=p["mapping"], mapper=p["mapper"], options=p["options"],
                  force=p["force"], constants=p["set"], progress=progress)


def _inside(root: Path, name: str, field: str) -> str:
    """``name`` resolved inside the server's ingest folder, or a 400 that says where it may be."""
    path = (root / name).resolve()
    if not path.is_relative_to(root):
        raise BadParameter(f"{field} {name!r} is outside the server's ingest folder {str(root)!r} "
                           "(`mercator serve --ingest-root DIR` sets it)")
    if not path.is_file():
        raise BadParameter(f"{field} {name!r}: no such file in {str(root)!r}")
    return str(path)


@router.post("/ingest", status_code=202)
def load(request: Request, body: Load) -> Response:
    """Load files into the workspace (`mercator ingest`); a job run by the server itself, so reads
    stay available while it loads (they see the data as it was until each file commits).
    Bad rows go to quarantine with their reason; the job's result is the load's document."""
    root = server(request).ingest_root
    params = body.model_dump()
    params["paths"] = [_inside(root, p, "path") for p in body.paths]
    if body.mapping is not None:
        params["mapping"] = _inside(root, body.mapping, "mapping")
    return submit(request, "ingest", ingest_job, params, in_server=True)


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
