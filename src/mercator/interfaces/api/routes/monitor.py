"""Monitor: objectives (set, sign off; 409 when a locked one is edited), alert rules, alerts,
acknowledgements, silences, an evaluation on demand, the optimization log, reviews, the
playbook and the audit trail. Reading needs a viewer, acting an analyst; objectives, rules and
approvals need an admin (docs/monitor.md, "Access")."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import Field

from mercator.interfaces._params import iso_date, iso_time
from mercator.interfaces.api.routes._common import Body, answer, jobs, read, require, server, write

router = APIRouter(prefix="/v1", tags=["monitor"])


class ObjectiveBody(Body):
    objective_id: str = Field(min_length=1)
    kpi: str = Field(min_length=1, description="Primary KPI (cpa, roas, conversions, ctr...).")
    target: float
    start: str = Field(description="First day (YYYY-MM-DD).")
    end: str = Field(description="Last day (YYYY-MM-DD).")
    campaign: str | None = None
    threshold: float | None = Field(None, description="Acceptable value: worse is off track.")
    owner: str | None = None
    guardrails: dict[str, float] = Field(default_factory=dict, description="Guardrail KPI: limit.")
    budget: float | None = Field(None, ge=0)
    roles: list[str] = Field(default_factory=lambda: ["marketing", "finance"])
    propose: bool = Field(False, description="A new version of a locked objective, kept beside it.")
    author: str | None = None
    reason: str | None = None


class SignBody(Body):
    role: str = Field(min_length=1)
    person: str | None = None
    version: int | None = None
    comment: str | None = None


@router.get("/objectives")
async def objectives(request: Request, objective_id: str | None = None) -> Response:
    """The latest and the locked version of every objective, or every version of one (`mercator objective list`)."""
    from mercator.monitor import list_objectives

    return await read(request, lambda ws: list_objectives(ws, objective_id), {"objective_id": objective_id})


@router.get("/objectives/status")
async def status(request: Request, objective_id: str | None = None, today: str | None = None, recent: int = 7
                 ) -> Response:
    """Early warnings for the live objectives (`mercator objective status`)."""
    from mercator.monitor import early_warnings

    return await read(request, lambda ws: early_warnings(ws, objective_id, today=iso_date(today, "today"),
                                                         recent_days=recent),
                      {"objective_id": objective_id, "today": today, "recent": recent})


@router.post("/objectives", dependencies=[require("admin")])
async def set_objective(request: Request, body: ObjectiveBody) -> Response:
    """Register a campaign's goal (`mercator objective set`); 409 when the objective is locked and
    this is not a proposal."""
    from mercator.monitor import set_objective as run

    return await write(request, lambda ws: run(
        ws, body.objective_id, kpi_name=body.kpi, target=body.target, start=body.start, end=body.end,
        campaign=body.campaign, threshold=body.threshold, owner=body.owner, guardrails=body.guardrails,
        budget=body.budget, roles=body.roles, propose=body.propose, author=body.author, reason=body.reason))


@router.post("/objectives/{objective_id}/signoff", dependencies=[require("admin")])
async def sign(request: Request, objective_id: str, body: SignBody) -> Response:
    """A role signs the objective's terms; the last one locks it (`mercator objective sign`)."""
    from mercator.monitor import sign_objective

    return await write(request, lambda ws: sign_objective(ws, objective_id, body.role, person=body.person,
                                                          version=body.version, comment=body.comment))


class RulesBody(Body):
    rules: list[dict[str, Any]] = Field(default_factory=list, description="Alert rules, as in the YAML file.")
    contacts: dict[str, dict[str, Any]] = Field(default_factory=dict, description="Contact points by name.")
    replace: bool = Field(False, description="Delete the rules and contacts not given.")
    author: str | None = None
    reason: str | None = None


@router.get("/alert-rules")
async def rules(request: Request) -> Response:
    """The alert rules and contact points (`mercator monitor rules list`)."""
    from mercator.monitor import list_rules

    return await read(request, list_rules, {})


@router.post("/alert-rules", dependencies=[require("admin")])
async def save_rules(request: Request, body: RulesBody) -> Response:
    """Check and store rules and contact points, each change a new version (`mercator monitor rules set`)."""
    from mercator.monitor import save_rules as run

    return await write(request, lambda ws: run(ws, {"rules": body.rules, "contacts": body.contacts},
                                               replace=body.replace, author=body.author, reason=body.reason))


@router.get("/alerts")
async def alerts(request: Request, state: str | None = None, rule: str | None = None) -> Response:
    """The alerts' state, firing first, and the latest events (`mercator monitor alerts`)."""
    from mercator.monitor import list_alerts

    return await read(request, lambda ws: list_alerts(ws, state=state, rule=rule), {"state": state, "rule": rule})


class AckBody(Body):
    by: str = Field(min_length=1, description="Who acknowledges.")
    comment: str | None = None


@router.post("/alerts/{alert_id}/ack")
async def ack(request: Request, alert_id: str, body: AckBody) -> Response:
    """Acknowledge a firing alert so it does not escalate (`mercator monitor ack`); 409 if it is not firing."""
    from mercator.monitor import acknowledge

    return await write(request, lambda ws: acknowledge(ws, alert_id, by=body.by, comment=body.comment))


class SilenceBody(Body):
    matchers: dict[str, str] = Field(min_length=1, description="Labels to match, e.g. {\"rule\": \"spend_spike\"}.")
    duration: str = Field("1h", description="How long (30m, 2h, 1d).")
    starts: str | None = Field(None, description="From (UTC, ISO; default: now).")
    author: str | None = None
    comment: str | None = None


@router.get("/silences")
async def silences(request: Request) -> Response:
    """Every silence, with its matchers and times."""
    from mercator.monitor import Silences

    def run(ws):
        return Silences(tables={"silences": ws.table("silences").order_by("starts_at").to_pandas()
                                .drop(columns=["_load_id"], errors="ignore")})

    return await read(request, run, {})


@router.post("/silences")
async def silence(request: Request, body: SilenceBody) -> Response:
    """Silence matching alerts for a while (`mercator monitor silence`)."""
    from mercator.monitor import add_silence

    return await write(request, lambda ws: add_silence(ws, body.matchers, duration=body.duration,
                                                       starts=iso_time(body.starts, "starts"), author=body.author,
                                                       comment=body.comment))


class RunBody(Body):
    now: str | None = Field(None, description="Evaluate as of this time (UTC, ISO; default: now).")
    dry_run: bool = Field(False, description="Record what would be sent; send nothing.")


@router.post("/monitor/run")
async def run_rules(request: Request, body: RunBody) -> Response:
    """Evaluate every alert rule once, now (`mercator monitor run`); the server also does this on
    its own schedule."""
    from mercator.monitor import run_monitor

    result, _ = await run_in_threadpool(server(request).run, None, lambda ws: run_monitor(
        ws, now=iso_time(body.now, "now"), notify=not body.dry_run), read_only=False)
    return answer(result)


class ChangeBody(Body):
    campaign: str = Field(min_length=1)
    kind: str = Field(description="budget, bid, creative, audience or other.")
    actor: str = Field(min_length=1, description="Who: a person, or the automated rule.")
    reason: str = Field(min_length=1)
    before: str | float | None = None
    after: str | float | None = None
    target: str | None = None
    evidence: str | None = Field(None, description="An alert id, a finding, a decision id.")
    objective_id: str | None = None
    automated: bool = False


class DecisionBody(Body):
    by: str = Field(min_length=1)
    approve: bool = True
    reason: str | None = None


@router.get("/changes")
async def changes(request: Request, campaign: str | None = None, objective_id: str | None = None,
                  status: str | None = None) -> Response:
    """The optimization log (`mercator monitor changes`)."""
    from mercator.monitor import list_changes

    return await read(request, lambda ws: list_changes(ws, campaign=campaign, objective_id=objective_id,
                                                       status=status),
                      {"campaign": campaign, "objective_id": objective_id, "status": status})


@router.post("/changes")
async def log(request: Request, body: ChangeBody) -> Response:
    """Record a change to a live campaign (`mercator monitor change`); an automated one above its
    limit waits for approval."""
    from mercator.monitor import log_change

    return await write(request, lambda ws: log_change(
        ws, body.campaign, body.kind, actor=body.actor, reason=body.reason, before=body.before, after=body.after,
        target=body.target, evidence=body.evidence, objective_id=body.objective_id, automated=body.automated))


@router.post("/changes/{change_id}/approve", dependencies=[require("admin")])
async def approve(request: Request, change_id: str, body: DecisionBody) -> Response:
    """Approve or reject a change waiting for approval (`mercator monitor approve`); 409 otherwise."""
    from mercator.monitor import decide_change

    return await write(request, lambda ws: decide_change(ws, change_id, by=body.by, approve=body.approve,
                                                         reason=body.reason))


@router.get("/monitor/health")
async def health(request: Request) -> Response:
    """Freshness of every source, quarantine growth and the server's failed jobs (`mercator monitor health`)."""
    from mercator.monitor import system_health

    records = jobs(request).list()
    result, _ = await run_in_threadpool(server(request).run, None, lambda ws: system_health(ws, jobs=records))
    return answer(result)


@router.post("/reviews/{campaign}")
async def review_campaign(request: Request, campaign: str, history_days: int = 56,
                          experiment: str | None = None) -> Response:
    """The post-campaign review (`mercator review`), archived beside the workspace; ``experiment``:
    the held-out control group to measure the impact against."""
    from mercator.interfaces.api._jobs import beside
    from mercator.monitor import review

    folder = beside(server(request).workspace, "reviews")
    return await write(request, lambda ws: review(ws, campaign, experiment=experiment, archive=folder,
                                                        history_days=history_days))


class LessonBody(Body):
    campaign: str = Field(min_length=1)
    what: str = Field(min_length=1)
    where: str | None = None
    effect: str | None = None
    evidence: str | None = None
    objective_id: str | None = None
    author: str | None = None


@router.get("/playbook")
async def playbook(request: Request, text: str | None = None, where: str | None = None) -> Response:
    """Lessons from reviews (`mercator playbook search`)."""
    from mercator.monitor import search_playbook

    return await read(request, lambda ws: search_playbook(ws, text, where=where), {"text": text, "where": where})


@router.post("/playbook")
async def add_lesson(request: Request, body: LessonBody) -> Response:
    """Record a lesson (`mercator playbook add`)."""
    from mercator.monitor import add_lesson as run

    return await write(request, lambda ws: run(ws, body.campaign, body.what, where=body.where, effect=body.effect,
                                               evidence=body.evidence, objective_id=body.objective_id,
                                               author=body.author))


@router.get("/audit", dependencies=[require("auditor")])
async def audit(request: Request, subject: str | None = None, action: str | None = None, limit: int = 100
                ) -> Response:
    """The audit trail, its hash chain checked end to end (`mercator audit`)."""
    from mercator.govern import audit_trail

    return await read(request, lambda ws: audit_trail(ws, subject=subject, action=action, limit=limit),
                      {"subject": subject, "action": action, "limit": limit})
