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

#: The problem document's JSON Schema (RFC 9457), declared in the OpenAPI document for every
#: error an operation can answer with.
PROBLEM_SCHEMA = {
    "title": "Problem", "type": "object", "required": ["type", "title", "status", "detail"],
    "properties": {"type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                   "detail": {"type": "string"}, "instance": {"type": "string"},
                   "errors": {"type": "array", "items": {"type": "object"}}},
    "additionalProperties": True}

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


def allowed_methods(app: FastAPI, scope: dict) -> list[str]:
    """Every method the OpenAPI document gives the request's path (RFC 9110: the Allow header of
    a 405 lists them all). Read from the document: FastAPI nests included routers, and each
    answers for its own routes only."""
    from starlette.routing import compile_path

    methods: set[str] = set()
    for template, item in app.openapi().get("paths", {}).items():
        if compile_path(template)[0].match(scope["path"]):
            methods |= {m.upper() for m in item}
    return sorted(methods)


def openapi_with_problems(app: FastAPI) -> dict:
    """FastAPI's OpenAPI document, with what the API really answers on errors: every operation
    may answer a problem document (``default``), and its 422 is one too (FastAPI declares its
    own validation error body, which this API does not send)."""
    from fastapi.openapi.utils import get_openapi

    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    for gone in ("HTTPValidationError", "ValidationError"):
        schemas.pop(gone, None)
    body = {"content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    for item in doc.get("paths", {}).values():
        for op in item.values():
            responses = op.setdefault("responses", {})
            if "422" in responses:
                responses["422"] = {"description": "Invalid request (a problem document)", **body}
            responses["default"] = {"description": "An error: a problem document (RFC 9457)", **body}
    app.openapi_schema = doc
    return doc


def install(app: FastAPI) -> None:
    """Register the handlers: Mercator errors, request validation (422), HTTP errors (404 for
    unknown routes, 405...) and, last, anything unexpected (500 without a trace); and declare
    them in the OpenAPI document."""
    app.openapi = lambda: openapi_with_problems(app)

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
        if any(e.get("type") == "mercator_refused" for e in exc.errors()):  # valid JSON, but no analysis takes it
            return problem(400, "Bad request", detail, kind="bad-request", instance=request.url.path, errors=errors)
        return problem(422, "Invalid request", detail, kind="validation", instance=request.url.path, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:  # Starlette names the methods of the first route that matched the path only
            headers = {**(headers or {}), "Allow": ", ".join(allowed_methods(app, request.scope))}
        return problem(exc.status_code, str(exc.detail), str(exc.detail), instance=request.url.path,
                       headers=headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)  # the trace goes to the server's log only
        return problem(500, "Internal error", f"{type(exc).__name__}: {message(exc)[:500]}. This input was not "
                       "handled as it should have been; the server log has the details.", kind="internal",
                       instance=request.url.path)
