"""Decide: decide summary, simulate, evaluate, policy set|list."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mercator.interfaces._params import csv_list
from mercator.interfaces.cli._common import JsonOpt, WorkspaceOpt, _analysis, _result, app

decide_app = typer.Typer(help="Decisions in real time: policies, bandits, off-policy evaluation.",
                         no_args_is_help=True)
app.add_typer(decide_app, name="decide")
policy_app = typer.Typer(help="The policy registry: every version, its status, who changed it and why.",
                         no_args_is_help=True)
decide_app.add_typer(policy_app, name="policy")


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
