"""Decide: real-time decisions and feedback (the hot routes), and the policy registry.

``POST /v1/decide`` and ``POST /v1/feedback`` are plain Starlette endpoints with orjson: no
request model, no dependency injection, no thread hop (the decision is a few dictionary
lookups, a cached probability vector and one write to the log), because FastAPI's validation
and response serialization cost about as much as the decision itself (measured anchors in
issue 21: 1,700 requests/s for FastAPI returning dicts against 3,400-4,000 for plain
Starlette with orjson). Their bodies are checked by hand, and a bad one gets the same problem
document as everywhere else (422 naming the field), before anything is logged.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import Field

from mercator.errors import MercatorError
from mercator.interfaces.api import _problems
from mercator.interfaces.api.routes._common import Body, answer, read, server, write

router = APIRouter(prefix="/v1", tags=["decide"])

_JSON = "application/json"


def _service(request: Request):
    return request.app.state.decide


def _invalid(request: Request, where: str, reason: str) -> Response:
    return _problems.problem(422, "Invalid request", f"{where}: {reason}", kind="validation",
                             instance=request.url.path, errors=[{"where": where, "reason": reason}])


def _error(request: Request, exc: MercatorError) -> Response:
    from mercator.decide import ContextError

    if isinstance(exc, ContextError):
        return _invalid(request, f"body.context.{exc.field}".rstrip("."), str(exc).split(": ", 1)[-1])
    status, kind = _problems.status_of(exc)
    return _problems.problem(status, {404: "Not found", 503: "Workspace busy"}.get(status, "Bad request"),
                             _problems.message(exc), kind=kind, instance=request.url.path)


async def _body(request: Request, fields: dict[str, tuple[type, ...]]) -> dict[str, Any] | Response:
    """The JSON object of the body with ``fields`` (name: accepted types; a field whose types
    include ``type(None)`` may be left out); a problem document naming what is wrong otherwise."""
    try:
        data = orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        return _invalid(request, "body", f"not valid JSON ({exc})")
    if not isinstance(data, dict):
        return _invalid(request, "body", "must be a JSON object")
    unknown = sorted(set(data) - set(fields))
    if unknown:
        return _invalid(request, f"body.{unknown[0]}", "not a field of this request")
    for name, types in fields.items():
        value = data.get(name)
        if value is None and type(None) not in types:
            return _invalid(request, f"body.{name}", "field required")
        if value is not None and (not isinstance(value, types) or isinstance(value, bool) and bool not in types):
            return _invalid(request, f"body.{name}", f"must be {' or '.join(_NAMES[t] for t in types if t in _NAMES)}")
    return data


_NAMES = {str: "text", dict: "an object", int: "a number", float: "a number", bool: "true or false"}


async def decide(request: Request) -> Response:
    """Context in; the arm, its propensity, the decision id and the reasons out. Logged before
    the answer leaves."""
    data = await _body(request, {"policy": (str,), "person_id": (str, type(None)), "context": (dict, type(None))})
    if isinstance(data, Response):
        return data
    service = _service(request)
    try:
        record = service.decide(data["policy"], data.get("person_id"), data.get("context") or {})
    except MercatorError as exc:
        return _error(request, exc)
    out = {"decision_id": record["decision_id"], "policy": record["policy"], "version": record["policy_version"],
           "arm": record["arm"], "content": service.content(record["policy"], record["arm"]),
           "propensity": record["propensity"],
           "reason": record["fallback_reason"] or "chosen by the policy among the eligible arms",
           "eligible": record["eligible"].split(",") if record["eligible"] else []}
    return Response(orjson.dumps(out), media_type=_JSON)


async def feedback(request: Request) -> Response:
    """A decision's reward: recorded, and learned from within the attribution window."""
    data = await _body(request, {"decision_id": (str,), "reward": (int, float)})
    if isinstance(data, Response):
        return data
    try:
        status = _service(request).feedback(data["decision_id"], data["reward"])
    except MercatorError as exc:
        return _error(request, exc)
    return Response(orjson.dumps({"decision_id": data["decision_id"], "status": status}), media_type=_JSON)


#: The hot routes, answered by ``_app.Front`` ahead of FastAPI's routing and middleware.
HOT = {("POST", "/v1/decide"): decide, ("POST", "/v1/feedback"): feedback}


class PolicyBody(Body):
    spec: str | dict = Field(description="The policy: YAML text, or the same as a JSON object.")
    status: str = Field("live", description="draft, live, paused or retired.")
    author: str | None = None
    reason: str | None = None


@router.get("/policies")
async def policies(request: Request, policy: str | None = None) -> Response:
    """Every version of every decision policy (or of ``policy``), newest first
    (`mercator decide policy list`)."""
    from mercator.decide import list_policies

    result, _ = await run_in_threadpool(server(request).run, None, lambda ws: list_policies(ws, policy))
    return answer(result)


@router.post("/policies")
async def save(request: Request, body: PolicyBody) -> Response:
    """Save a new version of a policy (`mercator decide policy set`); a live one is served at
    once by `POST /v1/decide`."""
    from mercator.decide import save_policy

    response = await write(request, lambda ws: save_policy(ws, body.spec, status=body.status, author=body.author,
                                                           reason=body.reason))
    await run_in_threadpool(_service(request).load)
    return response


class CreativeBody(Body):
    creative_id: str = Field(description="The creative's id (an arm of a policy, or an offer id).")
    kind: str | None = Field(None, description="creative or offer (first version: creative).")
    name: str | None = None
    content: str | None = Field(None, description="What is shown: text, a URL or JSON.")
    channel: str | None = None
    market: str | None = None
    segment: str | None = None
    status: str | None = Field(None, description="draft, live, paused or retired (first version: draft).")
    test_cycle: str | None = None
    start: str | None = Field(None, description="First day it may run (YYYY-MM-DD).")
    end: str | None = Field(None, description="Last day it may run (YYYY-MM-DD).")
    author: str | None = None
    reason: str | None = None


@router.get("/creatives")
async def creatives(request: Request, creative_id: str | None = None, status: str | None = None,
                    channel: str | None = None) -> Response:
    """The latest version of every creative and offer (filtered by status and channel), or every
    version of ``creative_id`` (`mercator decide creative list`)."""
    from mercator.decide import list_creatives

    result, _ = await run_in_threadpool(server(request).run, None,
                                        lambda ws: list_creatives(ws, creative_id, status=status, channel=channel))
    return answer(result)


@router.post("/creatives")
async def save_creative(request: Request, body: CreativeBody) -> Response:
    """Save a creative's next version (`mercator decide creative set`): the fields given change
    the last version's. Live policies serve the change at once."""
    from mercator.decide import save_creative as save

    fields = body.model_dump(exclude={"creative_id", "author", "reason"})
    response = await write(request, lambda ws: save(ws, body.creative_id, author=body.author, reason=body.reason,
                                                    **fields))
    await run_in_threadpool(_service(request).load)
    return response


@router.get("/decide/summary")
async def summary(request: Request, policy: str | None = None) -> Response:
    """What a policy decided and what it earned (`mercator decide summary`); cached. Decisions
    reach the workspace at each sync of the log."""
    from mercator.decide import summarize_decisions

    return await read(request, lambda ws: summarize_decisions(ws, policy), {"policy": policy})
