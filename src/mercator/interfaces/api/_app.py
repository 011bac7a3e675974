"""The REST API of ``mercator serve``: one FastAPI app, one router per capability."""

from __future__ import annotations

import contextlib
import gc
import json
import os
import time
from pathlib import Path

from fastapi import Depends, FastAPI
from starlette.requests import Request
from starlette.responses import Response

from mercator import __version__
from mercator.errors import MercatorError
from mercator.govern import access_tokens, allows, mask_personal, personal_keys
from mercator.interfaces._served import announced
from mercator.interfaces.api import _problems
from mercator.interfaces.api._access_log import AccessLog, actor
from mercator.interfaces.api._jobs import Jobs, beside, jobs_folder
from mercator.interfaces.api._server import Server
from mercator.interfaces.api.routes import (
    attribution,
    clv,
    decide,
    diagnose,
    experiment,
    explore,
    forecast,
    jobs,
    mmm,
    monitor,
    recommend,
    report,
    segment,
    target,
    text,
    workspace,
)
from mercator.interfaces.api.routes._common import caller_role, caller_token

ROUTERS = (workspace, explore, diagnose, forecast, segment, target, clv, recommend, decide, attribution, mmm,
           experiment, monitor, text, report, jobs)

#: Seconds a health check's reading of the workspace is reused.
HEALTH_TTL = 2.0

#: Largest request body accepted (bytes); larger ones get 413.
MAX_BODY = 1_000_000


def settings_path(location: str) -> Path:
    """The workspace's settings file (where its access tokens are), as ``Workspace`` finds it."""
    from mercator._engines import spark_home

    if location.startswith("spark"):
        return spark_home() / "settings.toml"
    return Path(f"{location.removeprefix('duckdb://')}.toml")


INT64 = 2**63 - 1


def _refused_input(scope) -> str | None:
    """Why a request's path or query cannot reach an analysis, or None: a NUL character (it
    would end a string in the SQL the analysis compiles to) or an integer beyond 64 bits (no
    engine column holds it). Checked here once for every route."""
    from urllib.parse import parse_qsl

    if b"%00" in scope["query_string"] or "\x00" in scope["path"]:
        return "a NUL character (%00) is not accepted in a path or query"
    for name, value in parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True):
        digits = value.strip().lstrip("+-")
        if digits.isdigit() and len(digits) > 18 and abs(int(value)) > INT64:
            return f"{name}={value[:30]}: out of range (integers are 64-bit)"
    return None


class Front:
    """The ASGI app `mercator serve` runs, in front of FastAPI (plain ASGI: Starlette's
    BaseHTTPMiddleware would cost every request a task and a copy):

    - 413 for a body whose declared length is over MAX_BODY; 400 for what no analysis can take
      in a path or query (``_refused_input``);
    - the hot routes (``hot``: method and exact path to a Starlette endpoint) answered here,
      without FastAPI's per-request work (its router tries every route of the API in turn; its
      middleware and telemetry check run for each request). Measured with benchmarks/decide.py:
      the decision endpoint behind FastAPI's routing served 1,830 requests/s with p99 33 ms;
    - everything else to FastAPI, whose attributes (``state``, ``openapi``...) it shows as its own.
    """

    def __init__(self, api: FastAPI, hot: dict, rate_limit: float = 0.0) -> None:
        self.api, self.hot = api, hot
        self.rate_limit = rate_limit
        self._buckets: dict[str, tuple[float, float]] = {}  # caller -> (tokens left, when counted)

    def _refuse(self, request: Request):
        """The problem document that refuses a hot request, or None: its caller must be able to
        act (as every other POST route checks through FastAPI's dependencies), and stay within
        ``rate_limit`` requests a second (a token bucket per caller, twice as deep: bursts pass)."""
        tokens = self.api.state.tokens
        if tokens:
            role = caller_role(request)
            if role is None:
                return _problems.problem(401, "Unauthorized", "a token is needed: send Authorization: Bearer <token>",
                                         kind="unauthorized", instance=request.url.path,
                                         headers={"WWW-Authenticate": "Bearer"})
            if not allows(role, "analyst"):
                return _problems.problem(403, "Forbidden", f"this needs the analyst role; the token given is a "
                                                           f"{role}'s", kind="forbidden", instance=request.url.path)
        if self.rate_limit > 0:
            header = request.headers.get("authorization", "")
            who = header or (request.client.host if request.client else "?")
            now = time.monotonic()
            left, then = self._buckets.get(who, (2 * self.rate_limit, now))
            left = min(2 * self.rate_limit, left + (now - then) * self.rate_limit)
            if left < 1:
                self._buckets[who] = (left, now)
                wait = max(1, int(-(-(1 - left) // self.rate_limit)))
                return _problems.problem(429, "Too many requests", f"at most {self.rate_limit:g} decisions a second "
                                         "per caller; slow down", kind="rate-limited", instance=request.url.path,
                                         headers={"Retry-After": str(wait)})
            self._buckets[who] = (left - 1, now)
        return None

    def __getattr__(self, name: str):
        return getattr(self.api, name)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            refused = _refused_input(scope)
            if refused:
                response = _problems.problem(400, "Bad request", refused, kind="bad-request",
                                             instance=scope["path"].replace("\x00", ""))
                await response(scope, receive, send)
                return
            size = dict(scope["headers"]).get(b"content-length")
            if size is not None and (not size.isdigit() or int(size) > MAX_BODY):
                response = _problems.problem(413, "Request body too large", f"the body is {size.decode()} bytes; at "
                                             f"most {MAX_BODY:,} are accepted", kind="too-large",
                                             instance=scope["path"])
                await response(scope, receive, send)
                return
            handler = self.hot.get((scope["method"], scope["path"]))
            if handler is not None:
                scope["app"] = self.api
                request = Request(scope, receive)
                refused = self._refuse(request)
                if refused is not None:
                    await refused(scope, receive, send)
                    return
                try:
                    response = await handler(request)
                except Exception as exc:  # noqa: BLE001  (the 500 problem document of every route, never a trace)
                    _problems.log.exception("unhandled error on %s", scope["path"])
                    response = _problems.problem(500, "Internal error", f"{type(exc).__name__}: "
                                                 f"{_problems.message(exc)[:500]}", kind="internal",
                                                 instance=scope["path"])
                await response(scope, receive, send)
                return
        await self.api(scope, receive, send)


def create_app(workspace: str | None = None, *, max_jobs: int = 1, wait: float = 10.0,
               ingest_root: str | Path | None = None, url: str | None = None, sync_interval: float = 60.0,
               monitor_interval: float = 60.0, refresh_interval: float = 0.0, triggers: str | Path | None = None,
               trigger_interval: float = 300.0, rate_limit: float = 0.0, audit_interval: float = 60.0) -> Front:
    """The API over ``workspace`` (default: ``$MERCATOR_WORKSPACE`` or ``./mercator.duckdb``);
    at most ``max_jobs`` background jobs run at once; a request waits up to ``wait`` seconds for
    a workspace another process holds, then answers 503. Loads through the API read files
    inside ``ingest_root`` only (default: the current folder). ``url``: the address it is
    served at, announced while it runs so that ``mercator ingest`` loads through it. Decisions
    (``POST /v1/decide``) reach the workspace's decisions table every ``sync_interval`` seconds.
    Every ``monitor_interval`` seconds the alert rules that are due are evaluated (0: never);
    every ``refresh_interval`` seconds the dashboard pages the data changed under are recomputed
    (0: never; `mercator serve` sets 60). With ``triggers`` (a YAML file), decide's triggers run
    every ``trigger_interval`` seconds. ``rate_limit``: the most decisions and feedbacks a
    second per caller (0: no limit; `mercator serve` sets 1,000). Every request through the API
    is noted for the audit trail and chained into it every ``audit_interval`` seconds."""
    from mercator.config import default_location
    from mercator.decide import DecisionService, TriggerSchedule
    from mercator.interfaces.api.routes._common import by_method, consenting
    from mercator.interfaces.dashboard import Refresher
    from mercator.monitor import Scheduler

    location = str(workspace or default_location())
    srv = Server(location, wait=wait, ingest_root=Path(ingest_root or Path.cwd()).resolve())
    job_queue = Jobs(jobs_folder(location), location, max_running=max_jobs, writing=srv.writing)
    decisions = DecisionService(beside(location, "decide"), reading=srv.open, writing=srv.writing,
                                consenting=lambda purpose: consenting(srv, purpose), sync_interval=sync_interval)
    monitor_schedule = Scheduler(srv.open, srv.writing, tick=monitor_interval)
    pages = Refresher(srv.open, srv.writing, tick=refresh_interval)
    access = AccessLog(settings_path(location), srv.writing, tick=audit_interval)
    periodic = [monitor_schedule, pages, access]
    if triggers is not None:
        periodic.append(TriggerSchedule(triggers, srv.open, srv.writing, tick=trigger_interval))

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):
        with announced(location, url) if url else contextlib.nullcontext():
            try:
                decisions.load()
            except MercatorError as exc:  # the other routes serve on; /v1/decide says no policy is live
                _problems.log.warning("decision policies not loaded: %s", _problems.message(exc))
            decisions.start()
            for job in periodic:
                job.start()
            # what start-up built (policies, models, imports) stays: the collector skips it from now
            # on, so a full collection under load scans only what requests create (fewer pauses)
            gc.freeze()
            yield
            for job in reversed(periodic):
                job.close()
            decisions.close()
            job_queue.shutdown()

    app = FastAPI(title="Mercator", version=__version__, lifespan=lifespan,
                  description="Marketing data to decisions. Every analysis route returns the document the command "
                              "line's `--json` prints for the same parameters; errors are RFC 9457 problem "
                              "documents.")
    app.state.server = srv
    app.state.jobs = job_queue
    app.state.decide = decisions
    app.state.monitor = monitor_schedule
    app.state.pages = pages
    app.state.triggers = periodic[-1] if triggers is not None else None
    app.state.access = access
    _problems.install(app)

    checked: dict = {}

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict:
        """Version, engine and whether the workspace can be reached (checked at most once every
        HEALTH_TTL seconds, so that probes do not hold the workspace)."""
        srv = app.state.server
        if time.monotonic() - checked.get("at", -HEALTH_TTL) >= HEALTH_TTL:
            try:
                with srv.open() as ws:
                    checked.update(reachable=True, engine=ws.engine.name, detail=None)
            except MercatorError as exc:  # a health check reports, it does not fail
                checked.update(reachable=False, engine="duckdb" if srv.is_duckdb else "spark",
                               detail=_problems.message(exc))
            checked["at"] = time.monotonic()
        body = {"status": "ok" if checked["reachable"] else "degraded", "version": __version__,
                "engine": checked["engine"], "workspace": srv.workspace, "workspace_reachable": checked["reachable"],
                "pid": os.getpid()}
        if checked["detail"]:
            body["detail"] = checked["detail"]
        return body

    app.state.tokens = access_tokens(settings_path(location))
    personal = personal_keys()

    @app.middleware("http")
    async def governed(request: Request, call_next):
        """Every request noted for the audit trail (``AccessLog``); a caller whose role lacks the
        personal-data right (viewer, auditor) gets every JSON document with its personal-data
        columns masked (``mercator.govern.mask_personal``)."""
        response = await call_next(request)
        tokens = app.state.tokens
        role = caller_role(request)
        access.note(request, response.status_code, actor(role, caller_token(request), not tokens))
        if not tokens or not response.headers.get("content-type", "").startswith("application/json"):
            return response
        if role is None or allows(role, "personal_data"):
            return response
        body = b"".join([chunk async for chunk in response.body_iterator])
        masked = json.dumps(mask_personal(json.loads(body), personal), ensure_ascii=False).encode("utf-8")
        headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
        return Response(masked, status_code=response.status_code, headers=headers, media_type="application/json")

    for module in ROUTERS:
        app.include_router(module.router, dependencies=[Depends(by_method)])
    from mercator.interfaces import dashboard

    app.include_router(dashboard.router)  # its pages check the role themselves (a login page, not a 401)
    return Front(app, decide.HOT, rate_limit)
