"""Errors as RFC 9457 problem documents: one mapping from Mercator's error hierarchy to HTTP
status codes, with the same message the command line prints (personal data masked), never a
stack trace."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from mercator.errors import (
    BadParameter,
    ConflictError,
    MercatorError,
    NotFoundError,
    SchemaError,
    WorkspaceBusyError,
)

log = logging.getLogger("mercator.api")

PROBLEM = "application/problem+json"

#: Most specific first: the first class an error is an instance of gives its status.
STATUS: tuple[tuple[type[Exception], int, str], ...] = (
    (WorkspaceBusyError, 503, "workspace-busy"),
    (NotFoundError, 404, "not-found"),
    (SchemaError, 404, "unknown-table"),
    (ConflictError, 409, "conflict"),
    (BadParameter, 400, "bad-parameter"),
    (MercatorError, 400, "bad-request"),
)


def problem(status: int, title: str, detail: str, *, kind: str = "about:blank", instance: str | None = None,
            headers: dict[str, str] | None = None, **extra: object) -> JSONResponse:
    """A problem document (``type``, ``title``, ``status``, ``detail``, ``instance``)."""
    body = {"type": kind if kind == "about:blank" else f"https://mercator.dev/problems/{kind}", "title": title,
            "status": status, "detail": detail, **extra}
    if instance:
        body["instance"] = instance
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def status_of(exc: Exception) -> tuple[int, str]:
    for cls, status, kind in STATUS:
        if isinstance(exc, cls):
            return status, kind
    return 500, "internal"


def message(exc: Exception) -> str:
    """The command line's message for ``exc``, with personal data masked."""
    from mercator.ingest import mask_text

    return mask_text(str(exc))


def install(app: FastAPI) -> None:
    """Register the handlers: Mercator errors, request validation (422), HTTP errors (404 for
    unknown routes, 405...) and, last, anything unexpected (500 without a trace)."""

    @app.exception_handler(MercatorError)
    async def mercator_error(request: Request, exc: MercatorError) -> JSONResponse:
        status, kind = status_of(exc)
        title = {400: "Bad request", 404: "Not found", 409: "Conflict", 503: "Workspace busy"}[status]
        return problem(status, title, message(exc), kind=kind, instance=request.url.path,
                       headers={"Retry-After": "5"} if status == 503 else None)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"where": ".".join(str(p) for p in e.get("loc", ())), "reason": e.get("msg", "")}
                  for e in exc.errors()]
        detail = "; ".join(f"{e['where']}: {e['reason']}" for e in errors)
        return problem(422, "Invalid request", detail, kind="validation", instance=request.url.path, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(exc.status_code, str(exc.detail), str(exc.detail), instance=request.url.path,
                       headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)  # the trace goes to the server's log only
        return problem(500, "Internal error", f"{type(exc).__name__}: {message(exc)[:500]}. This input was not "
                       "handled as it should have been; the server log has the details.", kind="internal",
                       instance=request.url.path)
