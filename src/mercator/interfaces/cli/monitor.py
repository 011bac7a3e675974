"""Monitor: objective set|sign|list|status, review, playbook add|search, monitor run|rules|alerts|ack|silence|change|changes|approve, audit."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mercator.interfaces._params import csv_list, iso_date, iso_time, pairs
from mercator.interfaces.cli._common import JsonOpt, WorkspaceOpt, _analysis, app

objective_app = typer.Typer(help="Campaign objectives: set before launch, signed off, locked.", no_args_is_help=True)
app.add_typer(objective_app, name="objective")
monitor_app = typer.Typer(help="Alert rules, their evaluation, alerts, silences.", no_args_is_help=True)
app.add_typer(monitor_app, name="monitor")
rules_app = typer.Typer(help="The alert rules and contact points in the workspace, every version kept.",
                        no_args_is_help=True)
monitor_app.add_typer(rules_app, name="rules")

Author = Annotated[str | None, typer.Option(help="Who makes the change (for the audit trail).")]
Reason = Annotated[str | None, typer.Option(help="Why.")]


@objective_app.command("set")
def objective_set(objective_id: Annotated[str, typer.Argument(help="The objective's id.")],
                  kpi: Annotated[str, typer.Option(help="Primary KPI (cpa, roas, conversions, ctr, ...).")],
                  target: Annotated[float, typer.Option(help="Target value over the date range.")],
                  start: Annotated[str, typer.Option(help="First day (YYYY-MM-DD).")],
                  end: Annotated[str, typer.Option(help="Last day (YYYY-MM-DD).")],
                  campaign: Annotated[str | None, typer.Option(help="The campaign (name or id).")] = None,
                  threshold: Annotated[float | None, typer.Option(help="Acceptable value: worse is off "
                                                                       "track.")] = None,
                  owner: Annotated[str | None, typer.Option(help="Who answers for the goal.")] = None,
                  guardrail: Annotated[list[str] | None, typer.Option(help="Guardrail KPI=limit (repeatable), "
                                                                            "e.g. cpa=20.")] = None,
                  budget: Annotated[float | None, typer.Option(help="Budget over the date range.")] = None,
                  roles: Annotated[str, typer.Option(help="Roles that must sign off, comma-separated.")] =
                  "marketing,finance",
                  propose: Annotated[bool, typer.Option(help="Propose a new version of a locked objective (the "
                                                             "locked one still decides the review).")] = False,
                  author: Author = None, reason: Reason = None,
                  workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Register a campaign's goal as the objective's next version, with its baseline from history.
    A locked objective is not edited: this is refused unless --propose."""
    from mercator.errors import BadParameter
    from mercator.monitor import set_objective

    def run(ws):
        limits = pairs(guardrail, "--guardrail")
        try:
            rails = {k: float(v) for k, v in limits.items()}
        except ValueError:
            raise BadParameter("--guardrail: each limit must be a number, as in cpa=20") from None
        return set_objective(ws, objective_id, kpi_name=kpi, target=target, start=start, end=end, campaign=campaign,
                             threshold=threshold, owner=owner, guardrails=rails, budget=budget,
                             roles=csv_list(roles), propose=propose, author=author, reason=reason)

    _analysis(workspace, run, as_json, read_only=False)


@objective_app.command("sign")
def objective_sign(objective_id: Annotated[str, typer.Argument(help="The objective's id.")],
                   role: Annotated[str, typer.Option(help="The role signing (marketing, sales, finance...).")],
                   person: Annotated[str | None, typer.Option(help="Who signs.")] = None,
                   version: Annotated[int | None, typer.Option(help="The version (default: the newest).")] = None,
                   comment: Annotated[str | None, typer.Option(help="A comment.")] = None,
                   workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Sign off an objective's terms for a role; the last role to sign locks it."""
    from mercator.monitor import sign_objective

    _analysis(workspace, lambda ws: sign_objective(ws, objective_id, role, person=person, version=version,
                                                   comment=comment), as_json, read_only=False)


@objective_app.command("list")
def objective_list(objective_id: Annotated[str | None, typer.Argument(help="One objective's versions.")] = None,
                   workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Objectives: the latest and the locked version of each (or every version of one), with sign-offs."""
    from mercator.monitor import list_objectives

    _analysis(workspace, lambda ws: list_objectives(ws, objective_id), as_json)


@objective_app.command("status")
def objective_status(objective_id: Annotated[str | None, typer.Argument(help="One locked objective (default: "
                                                                             "every one live today).")] = None,
                     today: Annotated[str | None, typer.Option(help="The day to judge as of (YYYY-MM-DD; default: "
                                                                    "the last day with data).")] = None,
                     recent: Annotated[int, typer.Option(help="Days the leading indicators look back.", min=1)] = 7,
                     workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Early warnings: where each live objective lands (forecast pace with its interval) and its
    leading indicators (spend pace, CTR, CVR, delivery, frequency, guardrails), each on track,
    at risk or off track with the reason."""
    from mercator.monitor import early_warnings

    _analysis(workspace, lambda ws: early_warnings(ws, objective_id, today=iso_date(today, "--today"),
                                                   recent_days=recent), as_json)


@monitor_app.command("run")
def monitor_run(rules: Annotated[Path | None, typer.Option(help="Rules and contact points (YAML) to evaluate "
                                                                 "instead of the workspace's.", exists=True,
                                                           dir_okay=False)] = None,
                now: Annotated[str | None, typer.Option(help="Evaluate as of this time (UTC, ISO; default: "
                                                             "now).")] = None,
                start: Annotated[str | None, typer.Option("--from", help="Replay: evaluate every rule at each of "
                                                                         "its intervals from this time...")] = None,
                end: Annotated[str | None, typer.Option("--to", help="...to this time (UTC, ISO).")] = None,
                dry_run: Annotated[bool, typer.Option(help="Record what would be sent; send nothing.")] = False,
                workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Evaluate every alert rule once (for cron), notify the contact points of what started or
    stopped firing, and keep the alerts' state in the workspace."""
    from mercator.monitor import parse_rules, run_monitor

    _analysis(workspace, lambda ws: run_monitor(
        ws, parse_rules(rules) if rules else None, now=iso_time(now, "--now"), start=iso_time(start, "--from"),
        end=iso_time(end, "--to"), notify=not dry_run), as_json, read_only=False)


@rules_app.command("set")
def rules_set(file: Annotated[Path, typer.Argument(help="Rules and contact points (YAML).", exists=True,
                                                   dir_okay=False)],
              replace: Annotated[bool, typer.Option(help="Delete the rules and contacts the file does not "
                                                         "name.")] = False,
              author: Author = None, reason: Reason = None,
              workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Check the file whole, then store each changed rule and contact point as its next version."""
    from mercator.monitor import save_rules

    _analysis(workspace, lambda ws: save_rules(ws, file, replace=replace, author=author, reason=reason), as_json,
              read_only=False)


@rules_app.command("list")
def rules_list(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """The alert rules and contact points, their versions and status."""
    from mercator.monitor import list_rules

    _analysis(workspace, list_rules, as_json)


@monitor_app.command("alerts")
def monitor_alerts(state: Annotated[str | None, typer.Option(help="normal, pending or firing.")] = None,
                   rule: Annotated[str | None, typer.Option(help="One rule's alerts.")] = None,
                   workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """The alerts' state (firing first) and the latest events: what fired, resolved, escalated, was sent."""
    from mercator.monitor import list_alerts

    _analysis(workspace, lambda ws: list_alerts(ws, state=state, rule=rule), as_json)


@monitor_app.command("ack")
def monitor_ack(alert_id: Annotated[str, typer.Argument(help="The firing alert (from `monitor alerts`).")],
                by: Annotated[str, typer.Option(help="Who acknowledges.")],
                comment: Annotated[str | None, typer.Option(help="A comment.")] = None,
                workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Acknowledge a firing alert: it stops escalating."""
    from mercator.monitor import acknowledge

    _analysis(workspace, lambda ws: acknowledge(ws, alert_id, by=by, comment=comment), as_json, read_only=False)


@monitor_app.command("silence")
def monitor_silence(match: Annotated[list[str], typer.Option(help="Label=value to match (repeatable), e.g. "
                                                                  "rule=spend_spike or campaign=alpha.")],
                    duration: Annotated[str, typer.Option("--for", help="How long (30m, 2h, 1d).")] = "1h",
                    start: Annotated[str | None, typer.Option("--from", help="From (UTC, ISO; default: "
                                                                             "now).")] = None,
                    by: Author = None, comment: Reason = None,
                    workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Silence the matching alerts: evaluated as usual, notifying nobody until the silence ends."""
    from mercator.monitor import add_silence

    _analysis(workspace, lambda ws: add_silence(ws, pairs(match, "--match"), duration=duration,
                                                starts=iso_time(start, "--from"), author=by, comment=comment),
              as_json, read_only=False)


@monitor_app.command("health")
def monitor_health(max_age: Annotated[str, typer.Option(help="How old a last load may be for a table without a "
                                                              "rhythm of its own (2d, 12h).")] = "2d",
                   workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """System health: freshness of every source against its own rhythm, quarantine growth, and the
    server's failed jobs."""
    import json

    from mercator.config import parse_duration
    from mercator.interfaces.api._jobs import jobs_folder
    from mercator.monitor import system_health

    def run(ws):
        folder = jobs_folder(ws.location)
        records = [json.loads(p.read_text(encoding="utf-8")) for p in folder.glob("*.json")] \
            if folder.is_dir() else None
        return system_health(ws, max_age=parse_duration(max_age, "--max-age"), jobs=records)

    _analysis(workspace, run, as_json)


@monitor_app.command("change")
def monitor_change(campaign: Annotated[str, typer.Argument(help="The campaign changed.")],
                   kind: Annotated[str, typer.Option(help="budget, bid, creative, audience or other.")],
                   by: Annotated[str, typer.Option(help="Who made it (a person, or the automated rule).")],
                   reason: Annotated[str, typer.Option(help="Why.")],
                   before: Annotated[str | None, typer.Option("--from", help="The value before.")] = None,
                   after: Annotated[str | None, typer.Option("--to", help="The value after.")] = None,
                   target: Annotated[str | None, typer.Option(help="What was changed (channel, segment, "
                                                                  "creative).")] = None,
                   evidence: Annotated[str | None, typer.Option(help="An alert id, a finding, a decision "
                                                                    "id.")] = None,
                   objective: Annotated[str | None, typer.Option(help="The objective (default: the campaign's "
                                                                     "locked one live today).")] = None,
                   automated: Annotated[bool, typer.Option(help="Made by an automated rule: above its limit it "
                                                                "waits for approval.")] = False,
                   workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Record a change to a live campaign in the optimization log (append-only)."""
    from mercator.monitor import log_change

    _analysis(workspace, lambda ws: log_change(ws, campaign, kind, actor=by, reason=reason, before=before,
                                               after=after, target=target, evidence=evidence, objective_id=objective,
                                               automated=automated), as_json, read_only=False)


@monitor_app.command("changes")
def monitor_changes(campaign: Annotated[str | None, typer.Option(help="One campaign's changes.")] = None,
                    objective: Annotated[str | None, typer.Option(help="One objective's changes.")] = None,
                    status: Annotated[str | None, typer.Option(help="applied, pending, approved or "
                                                                   "rejected.")] = None,
                    workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """The optimization log, newest first."""
    from mercator.monitor import list_changes

    _analysis(workspace, lambda ws: list_changes(ws, campaign=campaign, objective_id=objective, status=status),
              as_json)


@monitor_app.command("approve")
def monitor_approve(change_id: Annotated[str, typer.Argument(help="A change waiting for approval.")],
                    by: Annotated[str, typer.Option(help="Who decides.")],
                    reject: Annotated[bool, typer.Option(help="Reject it instead.")] = False,
                    reason: Reason = None, workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Approve (or reject) an automated change that is above its limit."""
    from mercator.monitor import decide_change

    _analysis(workspace, lambda ws: decide_change(ws, change_id, by=by, approve=not reject, reason=reason), as_json,
              read_only=False)


playbook_app = typer.Typer(help="Lessons from reviews: what, where, the effect and the evidence.", no_args_is_help=True)
app.add_typer(playbook_app, name="playbook")


@app.command("review")
def review_campaign(campaign: Annotated[str, typer.Argument(help="The campaign (name or id, as its objectives "
                                                                 "name it).")],
                    archive: Annotated[Path | None, typer.Option(help="Folder for the archive (default: "
                                                                      "<workspace>.reviews).")] = None,
                    no_archive: Annotated[bool, typer.Option("--no-archive", help="Write no archive.")] = False,
                    history: Annotated[int, typer.Option(help="Days before launch the counterfactual is "
                                                              "learned from.", min=14)] = 56,
                    experiment: Annotated[str | None, typer.Option(help="A workspace experiment whose control arm "
                                                                        "was held out of the campaign: the "
                                                                        "incremental impact is measured against "
                                                                        "it.")] = None,
                    workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """The post-campaign review: the locked objectives against actuals, the incremental impact
    against the held-out control group (--experiment) or the forecast made before launch, why, the platforms' conversions reconciled with
    first-party data, the changes and alerts of the period, and the lessons; archived."""
    from mercator.interfaces.api._jobs import beside
    from mercator.monitor import review

    def run(ws):
        folder = None if no_archive else (archive or beside(ws.location, "reviews"))
        return review(ws, campaign, experiment=experiment, archive=folder, history_days=history)

    _analysis(workspace, run, as_json, read_only=no_archive)


@playbook_app.command("add")
def playbook_add(campaign: Annotated[str, typer.Argument(help="The campaign reviewed.")],
                 what: Annotated[str, typer.Option(help="What was learned.")],
                 where: Annotated[str | None, typer.Option(help="Where it holds (channel, segment, market).")] = None,
                 effect: Annotated[str | None, typer.Option(help="The effect, with its interval.")] = None,
                 evidence: Annotated[str | None, typer.Option(help="The review's archive, an experiment, a "
                                                                  "finding.")] = None,
                 objective: Annotated[str | None, typer.Option(help="The objective it was judged against.")] = None,
                 by: Author = None, workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Record a lesson as a structured playbook entry."""
    from mercator.monitor import add_lesson

    _analysis(workspace, lambda ws: add_lesson(ws, campaign, what, where=where, effect=effect, evidence=evidence,
                                               objective_id=objective, author=by), as_json, read_only=False)


@playbook_app.command("search")
def playbook_search(text: Annotated[str | None, typer.Argument(help="Words to find in what, where, effect or "
                                                                   "campaign.")] = None,
                    where: Annotated[str | None, typer.Option(help="Only lessons that hold there.")] = None,
                    workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Lessons from earlier reviews, newest first."""
    from mercator.monitor import search_playbook

    _analysis(workspace, lambda ws: search_playbook(ws, text, where=where), as_json)


@app.command("audit")
def audit(subject: Annotated[str | None, typer.Option(help="Entries about one subject (an objective id...).")]
          = None,
          action: Annotated[str | None, typer.Option(help="Entries whose action starts with this (objective, "
                                                          "alert, monitor).")] = None,
          limit: Annotated[int, typer.Option(help="At most this many entries, newest first.")] = 100,
          workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """The audit trail, with its hash chain checked end to end."""
    from mercator.govern import audit_trail

    _analysis(workspace, lambda ws: audit_trail(ws, subject=subject, action=action, limit=limit), as_json)
