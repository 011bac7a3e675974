"""What every router shares: the server, answering with a Result, reads through the cache,
writes, and submitting a background job."""

from __future__ import annotations

import json
import typing
from collections.abc import Callable
from typing import Any

from fastapi import Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, model_validator
from pydantic_core import PydanticCustomError

from mercator.interfaces.api._jobs import Jobs
from mercator.interfaces.api._server import Server
from mercator.results import Result

#: The error type of a schema-valid value no analysis can take (answered 400, not 422).
REFUSED = "mercator_refused"


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    return isinstance(value, list) and any(_has_nul(v) for v in value)


class Body(BaseModel):
    """A request body: unknown fields are refused (422), not ignored, and values are taken as
    their declared type only (``0`` is not ``false``, ``"5"`` not ``5``): what the OpenAPI
    document says is what is accepted."""

    model_config = ConfigDict(extra="forbid", strict=True)

    @model_validator(mode="before")
    @classmethod
    def _integral_numbers(cls, data: Any) -> Any:
        """8.0 is an integer to JSON Schema (and so to the OpenAPI document), so here too; a NUL
        character is refused in any string."""
        if not isinstance(data, dict):
            return data
        if _has_nul(data):  # a NUL ends a string in the SQL an analysis compiles to
            raise PydanticCustomError(REFUSED, "a NUL character (\\u0000) is not accepted in a request")
        ints = {name for name, f in cls.model_fields.items() if int in (typing.get_args(f.annotation) or
                                                                        (f.annotation,))}
        out = {k: int(v) if k in ints and isinstance(v, float) and v.is_integer() else v for k, v in data.items()}
        for k in ints:
            if isinstance(out.get(k), int) and not isinstance(out[k], bool) and abs(out[k]) > 2**63 - 1:
                raise PydanticCustomError(REFUSED, f"{k}: out of range (integers are 64-bit)")
        return out


#: The cookie the dashboard keeps the caller's token in.
TOKEN_COOKIE = "mercator_token"


def caller_token(request: Request) -> str | None:
    """The token the request carries: ``Authorization: Bearer``, or the dashboard's cookie."""
    header = request.headers.get("authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else request.cookies.get(TOKEN_COOKIE)


def caller_role(request: Request) -> str | None:
    """The role of the token the request carries; admin when no token is configured (open
    access)."""
    from mercator.govern import role_of

    return role_of(caller_token(request), request.app.state.tokens)


def _check(request: Request, needed: str) -> str:
    from mercator.govern import allows

    role = caller_role(request)
    if role is None:
        raise HTTPException(401, "a token is needed: send Authorization: Bearer <token> (tokens are set in the "
                                 "workspace settings' [access] section)", headers={"WWW-Authenticate": "Bearer"})
    if not allows(role, needed):
        raise HTTPException(403, f"this needs the {needed} role; the token given is a {role}'s")
    return role


def require(needed: str):
    """A route dependency: the caller's role must allow ``needed`` (401 without a token, 403 with
    too small a role)."""
    def dependency(request: Request) -> str:
        return _check(request, needed)

    return Depends(dependency)


def by_method(request: Request) -> str:
    """Every route's floor: reading needs a viewer, anything else an analyst (routes that change
    rules, objectives or approvals ask for admin on top)."""
    return _check(request, "viewer" if request.method in ("GET", "HEAD") else "analyst")


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
