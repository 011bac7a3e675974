"""Decide: decide summary, simulate, evaluate, budget, policy set|list, creative set|list."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mercator.interfaces._params import csv_list, iso_time
from mercator.interfaces.cli._common import (
    JsonOpt,
    WorkspaceOpt,
    _analysis,
    _result,
    _workspace_exists,
    app,
)

decide_app = typer.Typer(help="Decisions in real time: policies, bandits, off-policy evaluation.",
                         no_args_is_help=True)
app.add_typer(decide_app, name="decide")
policy_app = typer.Typer(help="The policy registry: every version, its status, who changed it and why.",
                         no_args_is_help=True)
decide_app.add_typer(policy_app, name="policy")
creative_app = typer.Typer(help="The creative registry: creatives and offers, every version, who changed it and why.",
                           no_args_is_help=True)
decide_app.add_typer(creative_app, name="creative")


@decide_app.command("summary")
def decide_summary(policy: Annotated[str | None, typer.Option(help="The policy (default: the one with the most "
                                                                  "decisions).")] = None,
                   workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """What a policy decided and what it earned: per arm with intervals, defaults served, learning."""
    from mercator.decide import summarize_decisions

    _analysis(workspace, lambda ws: summarize_decisions(ws, policy), as_json)


@decide_app.command("simulate")
def decide_simulate(decisions: Annotated[int, typer.Option(help="Decisions per policy.", min=1000)] = 100_000,
                    arms: Annotated[int, typer.Option(help="Arms to choose from.", min=2)] = 10,
                    policies: Annotated[str, typer.Option(help="Policies to compare.")] =
                    "uniform,epsilon_greedy,ucb1,thompson,linucb,lin_thompson",
                    floor: Annotated[float, typer.Option(help="Exploration floor per arm.")] = 0.0,
                    seed: int = 0, as_json: JsonOpt = False) -> None:
    """Each bandit's regret in a simulated world with a planted best arm per context."""
    from mercator.decide import simulate

    _result(lambda: simulate(decisions=decisions, arms=arms, policies=tuple(csv_list(policies)), floor=floor,
                             seed=seed), as_json)


@decide_app.command("evaluate")
def decide_evaluate(policy: Annotated[Path, typer.Option("--policy", help="The candidate policy (YAML).",
                                                         exists=True, dir_okay=False)],
                    current: Annotated[str | None, typer.Option(help="The live policy whose log is used "
                                                                     "(default: the candidate's name).")] = None,
                    promote: Annotated[bool, typer.Option(help="Save the candidate as the new live version if "
                                                               "it wins.")] = False,
                    author: Annotated[str | None, typer.Option(help="Who promotes (for the change log).")] = None,
                    seed: int = 0, workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Would the candidate beat the live policy on its logged decisions? IPS, SNIPS, direct
    method and doubly robust with intervals; promoted only if the doubly robust lower bound is
    above the current value."""
    from mercator.decide import evaluate_policy, save_policy

    def run(ws):
        res = evaluate_policy(ws, policy, current=current, seed=seed)
        if promote and res.params["promote"]:
            save_policy(ws, policy, status="live", author=author,
                        reason=f"promoted by off-policy evaluation: {res.findings[0].text}")
        return res

    _analysis(workspace, run, as_json, read_only=not promote)


@decide_app.command("budget")
def decide_budget(days: Annotated[int, typer.Option(help="Days to simulate.", min=7)] = 90,
                  budget: Annotated[float | None, typer.Option(help="Budget per day (default: the model's recent "
                                                                   "spend, per day).")] = None,
                  drift: Annotated[float, typer.Option(help="How far each channel's effect drifts over the "
                                                           "days (0.5: up to 50%).", min=0)] = 0.5,
                  max_change: Annotated[float, typer.Option(help="Largest move of a channel's spend or a bid "
                                                                 "in a day (share).")] = 0.2,
                  min_share: Annotated[float, typer.Option(help="Least share of the budget each channel "
                                                                "keeps.")] = 0.05,
                  cap: Annotated[str | None, typer.Option(help="CHANNEL:MAX spend per day, comma-separated.")]
                  = None,
                  approval_above: Annotated[float | None, typer.Option(help="A channel's move larger than this "
                                                                           "a day waits for approval.")] = None,
                  approve: Annotated[bool, typer.Option(help="Approve the moves above --approval-above.")]
                  = False,
                  kill: Annotated[bool, typer.Option(help="The kill switch: hold the approved plan.")] = False,
                  campaign: Annotated[str, typer.Option(help="Campaign name in the bulk-upload file.")]
                  = "All campaigns",
                  bids_csv: Annotated[Path | None, typer.Option(help="Write the bid adjustments in the "
                                                                     "platforms' bulk-upload shape.")] = None,
                  plan_csv: Annotated[Path | None, typer.Option(help="Write the daily budget plan.")] = None,
                  model: Annotated[Path | None, typer.Option("--model", help="A model saved by `mercator mmm "
                                                                             "fit` (default: the newest one of "
                                                                             "the workspace).")] = None,
                  seed: int = 0, workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Budgets and bids that learn, run day by day on the media-mix model's curves against the
    static media-mix optimum and an oracle, under guardrails: the daily budget plan, bid
    adjustments by segment, device and hour, and every change with its evidence."""
    from mercator.decide import Guardrails, simulate_budget
    from mercator.exports import write_csv
    from mercator.interfaces.cli.mmm import _mmm_model

    def run(ws):
        from mercator.decide import parse_caps

        rails = Guardrails(max_change=max_change, min_share=min_share, caps=parse_caps(cap or ""), approval_above=approval_above,
                           auto_approve=approve, kill=kill)
        res = simulate_budget(_mmm_model(model, workspace), ws=ws, days=days, budget=budget, drift=drift,
                              guardrails=rails, campaign=campaign, seed=seed)
        if bids_csv is not None:
            write_csv(res.to_frame("bulk_upload"), bids_csv)
        if plan_csv is not None:
            write_csv(res.to_frame("plan"), plan_csv)
        return res

    from mercator.config import default_location

    if model is not None and not _workspace_exists(str(workspace or default_location())):
        _result(lambda: run(None), as_json)  # a saved model is enough; the auctions use planted figures
    else:
        _analysis(workspace, run, as_json)


@decide_app.command("triggers")
def decide_triggers(rules: Annotated[Path, typer.Argument(help="The triggers (YAML).", exists=True, dir_okay=False)],
                    dry_run: Annotated[bool, typer.Option(help="Count and list who would get each action; act on "
                                                               "nothing, log nothing.")] = False,
                    now: Annotated[str | None, typer.Option(help="Evaluate as of this time (UTC, ISO; default: "
                                                                 "now).")] = None,
                    workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Evaluate every trigger once (for cron) and fire its action (webhook, audience file or a
    decision of a live policy) for the people who match, consent, have not had it within its
    window and are under the cap; every firing is logged as a decision."""
    from mercator.decide import run_triggers

    _analysis(workspace, lambda ws: run_triggers(ws, rules, now=iso_time(now, "--now"), dry_run=dry_run), as_json,
              read_only=dry_run)


@policy_app.command("set")
def policy_set(file: Annotated[Path, typer.Argument(help="The policy (YAML).", exists=True, dir_okay=False)],
               status: Annotated[str, typer.Option(help="draft, live, paused or retired.")] = "live",
               author: Annotated[str | None, typer.Option(help="Who makes the change.")] = None,
               reason: Annotated[str | None, typer.Option(help="Why.")] = None,
               workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Save a policy as its next version (a running server serves a live one after
    `POST /v1/policies`, or at its next start)."""
    from mercator.decide import save_policy

    _analysis(workspace, lambda ws: save_policy(ws, file, status=status, author=author, reason=reason), as_json,
              read_only=False)


@policy_app.command("list")
def policy_list(policy: Annotated[str | None, typer.Argument(help="One policy's versions.")] = None,
                workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Every version of every policy (or of one), newest first, with who changed it and why."""
    from mercator.decide import list_policies

    _analysis(workspace, lambda ws: list_policies(ws, policy), as_json)


@creative_app.command("set")
def creative_set(creative_id: Annotated[str, typer.Argument(help="The creative's id (an arm of a policy, or an "
                                                                  "offer id).")],
                 kind: Annotated[str | None, typer.Option(help="creative or offer.")] = None,
                 name: Annotated[str | None, typer.Option(help="Name.")] = None,
                 content: Annotated[str | None, typer.Option(help="What is shown: text, a URL or JSON.")] = None,
                 channel: Annotated[str | None, typer.Option(help="Channel it runs on.")] = None,
                 market: Annotated[str | None, typer.Option(help="Market (country or region).")] = None,
                 segment: Annotated[str | None, typer.Option(help="Segment it is made for.")] = None,
                 status: Annotated[str | None, typer.Option(help="draft, live, paused or retired.")] = None,
                 test_cycle: Annotated[str | None, typer.Option(help="The test it belongs to.")] = None,
                 start: Annotated[str | None, typer.Option(help="First day it may run (YYYY-MM-DD).")] = None,
                 end: Annotated[str | None, typer.Option(help="Last day it may run (YYYY-MM-DD).")] = None,
                 author: Annotated[str | None, typer.Option(help="Who makes the change.")] = None,
                 reason: Annotated[str | None, typer.Option(help="Why.")] = None,
                 workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Save a creative's next version: the options given change the last version's (`--status
    paused --reason ...` pauses it). A running server serves it after `POST /v1/creatives`, or
    at its next start."""
    from mercator.decide import save_creative

    fields = {"kind": kind, "name": name, "content": content, "channel": channel, "market": market,
              "segment": segment, "status": status, "test_cycle": test_cycle, "start": start, "end": end}
    _analysis(workspace, lambda ws: save_creative(ws, creative_id, author=author, reason=reason, **fields), as_json,
              read_only=False)


@creative_app.command("list")
def creative_list(creative_id: Annotated[str | None, typer.Argument(help="One creative's versions.")] = None,
                  status: Annotated[str | None, typer.Option(help="Only this status.")] = None,
                  channel: Annotated[str | None, typer.Option(help="Only this channel.")] = None,
                  workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """The latest version of every creative and offer, or every version of one, with who changed
    it and why."""
    from mercator.decide import list_creatives

    _analysis(workspace, lambda ws: list_creatives(ws, creative_id, status=status, channel=channel), as_json)
