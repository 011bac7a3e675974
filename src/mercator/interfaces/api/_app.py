"""The REST API of ``mercator serve``: one FastAPI app, one router per capability."""

from __future__ import annotations

import contextlib
import os

from fastapi import FastAPI, Request
from starlette.middleware.base import BaseHTTPMiddleware

from mercator import __version__
from mercator.errors import MercatorError
from mercator.interfaces.api import _problems
from mercator.interfaces.api._jobs import Jobs, jobs_folder
from mercator.interfaces.api._server import Server
from mercator.interfaces.api.routes import (
    attribution,
    clv,
    diagnose,
    experiment,
    explore,
    forecast,
    jobs,
    mmm,
    report,
    segment,
    target,
    workspace,
)

ROUTERS = (workspace, explore, diagnose, forecast, segment, target, clv, attribution, mmm, experiment, report, jobs)

#: Largest request body accepted (bytes); larger ones get 413.
MAX_BODY = 1_000_000


class _BodyLimit(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next):
        size = request.headers.get("content-length")
        if size is not None and (not size.isdigit() or int(size) > MAX_BODY):
            return _problems.problem(413, "Request body too large", f"the body is {size} bytes; at most "
                                     f"{MAX_BODY:,} are accepted", kind="too-large", instance=request.url.path)
        return await call_next(request)


def create_app(workspace: str | None = None, *, max_jobs: int = 1, wait: float = 10.0) -> FastAPI:
    """The API over ``workspace`` (default: ``$MERCATOR_WORKSPACE`` or ``./mercator.duckdb``);
    at most ``max_jobs`` background jobs run at once; a request waits up to ``wait`` seconds for
    a workspace another process holds, then answers 503."""
    from mercator.config import default_location

    location = str(workspace or default_location())
    job_queue = Jobs(jobs_folder(location), location, max_running=max_jobs)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        job_queue.shutdown()

    app = FastAPI(title="Mercator", version=__version__, lifespan=lifespan,
                  description="Marketing data to decisions. Every analysis route returns the document the command "
                              "line's `--json` prints for the same parameters; errors are RFC 9457 problem "
                              "documents.")
    app.state.server = Server(location, wait=wait)
    app.state.jobs = job_queue
    app.add_middleware(_BodyLimit)
    _problems.install(app)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict:
        """Version, engine and whether the workspace can be reached."""
        srv = app.state.server
        try:
            with srv.open() as ws:
                reachable, engine = True, ws.engine.name
        except MercatorError as exc:  # a health check reports, it does not fail
            reachable, engine = False, ("spark" if not srv.is_duckdb else "duckdb")
            detail = _problems.message(exc)
        body = {"status": "ok" if reachable else "degraded", "version": __version__, "engine": engine,
                "workspace": srv.workspace, "workspace_reachable": reachable, "pid": os.getpid()}
        if not reachable:
            body["detail"] = detail
        return body

    for module in ROUTERS:
        app.include_router(module.router)
    return app
