"""What every router shares: the server, answering with a Result, reads through the cache,
writes, and submitting a background job."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict

from mercator.interfaces.api._jobs import Jobs
from mercator.interfaces.api._server import Server
from mercator.results import Result


class Body(BaseModel):
    """A request body: unknown fields are refused (422), not ignored."""

    model_config = ConfigDict(extra="forbid")


def server(request: Request) -> Server:
    return request.app.state.server


def jobs(request: Request) -> Jobs:
    return request.app.state.jobs


def _document(result: Result) -> bytes:
    """The result's ``to_dict()`` as JSON: the document the command line's ``--json`` prints."""
    return json.dumps(result.to_dict(), ensure_ascii=False).encode("utf-8")


def answer(result: Result | bytes, *, stale: bool = False) -> Response:
    """A result (or its document) as the response."""
    body = result if isinstance(result, bytes) else _document(result)
    return Response(body, media_type="application/json", headers={"X-Mercator-Stale": "1"} if stale else None)


async def read(request: Request, analysis: Callable, params: dict[str, Any]) -> Response:
    """Run a read-only ``analysis(ws)`` in a worker thread; its document is cached by route and
    ``params``, and a cached answer is served from the event loop (no query, no serialization,
    no thread)."""
    key = (request.url.path, json.dumps(params, sort_keys=True, default=str))
    srv = server(request)
    body = srv.cached(key)
    if body is not None:
        return answer(body)
    body, stale = await run_in_threadpool(srv.run, key, lambda ws: _document(analysis(ws)))
    return answer(body, stale=stale)


async def write(request: Request, analysis: Callable) -> Response:
    """Run ``analysis(ws)`` in a worker thread on the workspace opened for writing (never cached)."""
    result, _ = await run_in_threadpool(server(request).run, None, analysis, read_only=False)
    return answer(result)


def submit(request: Request, kind: str, target: Callable, params: BaseModel | dict, *,
           read_only: bool = True, in_server: bool = False) -> Response:
    """Queue ``target(ws, params, progress)`` as a job; 202 with the job and its address.
    ``in_server``: a write run by the server itself, so its reads go on meanwhile (a load)."""
    values = params.model_dump() if isinstance(params, BaseModel) else params
    job = jobs(request).submit(kind, f"{target.__module__}:{target.__name__}", values, read_only=read_only,
                               in_server=in_server)
    return JSONResponse(job, status_code=202, headers={"Location": f"/v1/jobs/{job['id']}"})


def consenting(srv: Server, purpose: str) -> frozenset[str]:
    """Who consented to ``purpose``, through the one targeting filter, kept until the workspace
    changes (a request then costs a set lookup, not a query)."""
    from mercator.govern import consenting as ids

    def compute() -> frozenset[str]:
        with srv.open() as ws:
            return ids(ws, purpose)

    return srv.keep(("consent", purpose), compute)
