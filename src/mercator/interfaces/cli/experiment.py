"""Experiments: design, register, analyze, impact."""

from __future__ import annotations

from typing import Annotated

import typer

from mercator.errors import MercatorError
from mercator.interfaces._params import csv_list
from mercator.interfaces.cli._common import (
    JsonOpt,
    WorkspaceOpt,
    _analysis,
    _fail,
    _file_or_workspace,
    _result,
    app,
)

experiment_app = typer.Typer(help="A/B and multivariate tests, pre-registration and incrementality.",
                             no_args_is_help=True)
app.add_typer(experiment_app, name="experiment")


@experiment_app.command("design")
def experiment_design(baseline: Annotated[float, typer.Option(help="The metric's mean before the test (a rate, "
                                                                   "e.g. 0.05, unless --sd is given).")],
                      mde: Annotated[float | None, typer.Option(help="Relative effect to detect (0.1 = +10%).")]
                      = None,
                      sd: Annotated[float | None, typer.Option(help="Standard deviation per unit of a mean "
                                                                   "metric (omit for a rate).")] = None,
                      n_control: Annotated[float | None, typer.Option(help="Units available per arm: report "
                                                                         "the detectable effect instead.")] = None,
                      alpha: Annotated[float, typer.Option(help="Significance level.")] = 0.05,
                      power: Annotated[float, typer.Option(help="Chance of detecting the effect.")] = 0.8,
                      ratio: Annotated[float, typer.Option(help="Treatment units per control unit.")] = 1.0,
                      one_sided: Annotated[bool, typer.Option(help="Test only for an increase.")] = False,
                      units_per_day: Annotated[float | None, typer.Option(help="Traffic: units per day.")] = None,
                      share: Annotated[float, typer.Option(help="Share of the traffic in the test.")] = 1.0,
                      as_json: JsonOpt = False) -> None:
    """Sample size (or minimum detectable effect), duration and power curve of a test."""
    from mercator.experiment import design

    _result(lambda: design(baseline=baseline, mde_relative=mde, sd=sd, n_control=n_control, alpha=alpha, power=power,
                           ratio=ratio, alternative="greater" if one_sided else "two-sided",
                           units_per_day=units_per_day, share_in_test=share), as_json)


SplitOpt = Annotated[str | None, typer.Option(help='The planned share of each arm, e.g. "psa:0.04,ad:0.96" '
                                              "(default: equal), so that a designed unequal split is not called "
                                              "a sample ratio mismatch.")]


@experiment_app.command("register")
def experiment_register(experiment: Annotated[str, typer.Argument(help="Experiment id.")],
                        hypothesis: Annotated[str, typer.Option(help="What you expect and why.")],
                        metric: Annotated[str, typer.Option(help="The primary metric (a column of the unit data, "
                                                                 "or num/den).")],
                        min_lift: Annotated[float, typer.Option(help="Smallest relative lift worth shipping.")]
                        = 0.0,
                        alpha: Annotated[float, typer.Option(help="Significance level.")] = 0.05,
                        guardrail: Annotated[list[str] | None, typer.Option(help="metric>-0.02 (may fall 2%) or "
                                                                                 "metric<0.1 (may rise 10%); "
                                                                                 "repeatable.")] = None,
                        name: Annotated[str | None, typer.Option(help="Short name.")] = None,
                        expected_split: SplitOpt = None,
                        workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Lock an experiment's hypothesis, primary metric, guardrails and decision rule (timestamp
    and SHA-256) before reading any result."""
    from mercator.experiment import Guardrail, parse_split, register

    def run(ws):
        guards = [Guardrail.parse(g).spec for g in guardrail or []]
        rule = {"metric": metric, "min_relative_lift": min_lift, "alpha": alpha}
        if expected_split:
            rule["expected_split"] = parse_split(expected_split)
        return register(ws, experiment, hypothesis=hypothesis, primary_metric=metric, guardrails=guards, name=name,
                        success_criteria=rule)

    _analysis(workspace, run, as_json, read_only=False)


@experiment_app.command("analyze")
def experiment_analyze(data: Annotated[str | None, typer.Option(help="Unit rows: CSV, Parquet (a glob reads many "
                                                                     "files) or a workspace table.")] = None,
                       experiment: Annotated[str | None, typer.Option(help="A workspace experiment id (units: "
                                                                           "assignments joined with orders).")]
                       = None,
                       variant_col: Annotated[str, typer.Option(help="Column naming each unit's variant.")]
                       = "variant",
                       metrics: Annotated[str, typer.Option(help="Columns (means; 0/1 = rates) or num/den ratios, "
                                                                 "comma-separated.")] = "converted",
                       covariate: Annotated[str | None, typer.Option(help="Pre-period column for CUPED; pre_* "
                                                                          "means pre_<metric>.")] = None,
                       control: Annotated[str | None, typer.Option(help="The control variant (default: control, "
                                                                        "holdout, A...).")] = None,
                       by: Annotated[str | None, typer.Option(help="Segment columns, comma-separated.")] = None,
                       factors: Annotated[str | None, typer.Option(help="Two-level factor columns of a 2^k "
                                                                        "factorial test, comma-separated.")]
                       = None,
                       guardrail: Annotated[list[str] | None, typer.Option(help="metric>-0.02 or metric<0.1; "
                                                                                "repeatable.")] = None,
                       correction: Annotated[str, typer.Option(help="holm or fdr_bh.")] = "holm",
                       alpha: Annotated[float, typer.Option(help="Significance level.")] = 0.05,
                       sequential: Annotated[bool, typer.Option(help="Add always-valid confidence sequences "
                                                                     "(peeking allowed).")] = False,
                       n_target: Annotated[float | None, typer.Option(help="Planned units (tunes the "
                                                                          "sequences).")] = None,
                       unit_col: Annotated[str | None, typer.Option(help="Unit id column: check for units in "
                                                                        "several variants or rows.")] = None,
                       exposure_col: Annotated[str | None, typer.Option(help="What the unit saw (e.g. "
                                                                            "landing_page): check it matches "
                                                                            "the variant.")] = None,
                       clean: Annotated[bool, typer.Option(help="Drop the rows the checks flag.")] = False,
                       min_lift: Annotated[float | None, typer.Option(help="Decision rule given now (not "
                                                                          "pre-registered): minimum lift of the "
                                                                          "first metric.")] = None,
                       expected_split: SplitOpt = None,
                       cap: Annotated[float | None, typer.Option(help="Cap every non-0/1 metric at this quantile "
                                                                      "(e.g. 0.999) and show effects with and "
                                                                      "without.")] = None,
                       workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Effects of every arm on every metric with intervals (Welch t, CUPED, delta method),
    Bayesian chance to win, SRM and guardrail checks, segments, factorial terms, and the
    verdict against the experiment's locked criteria."""
    from mercator.experiment import analyze, parse_split

    mets = csv_list(metrics)
    split = parse_split(expected_split) if expected_split else None
    criteria = {"metric": mets[0], "min_relative_lift": min_lift, "alpha": alpha} if min_lift is not None else None

    def run(ws):
        return analyze(data, ws=ws, experiment=experiment, variant_col=variant_col, metrics=mets,
                       covariate=covariate, control=control, by=csv_list(by), factors=csv_list(factors),
                       guardrails=guardrail or [], alpha=alpha, correction=correction, sequential=sequential,
                       n_target=n_target, unit_col=unit_col, exposure_col=exposure_col, clean=clean,
                       criteria=criteria, expected_split=split, cap=cap)

    if (data is None) == (experiment is None):
        _fail(MercatorError("give --data FILE or --experiment ID"))
    _file_or_workspace(workspace, data, run, as_json)


@experiment_app.command("review")
def experiment_review(metrics: Annotated[str, typer.Option(help="Metrics, comma-separated (means; 0/1 = rates; "
                                                                "num/den ratios).")]
                      = "converted,revenue,revenue/orders",
                      covariate: Annotated[str, typer.Option(help="CUPED covariate; pre_* means each metric's "
                                                                  "pre-period value.")] = "pre_*",
                      workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Every experiment of the workspace read against its locked criteria: effects, checks and
    verdicts stacked with an experiment_id column."""
    from mercator.experiment import review

    _analysis(workspace, lambda ws: review(ws, metrics=csv_list(metrics), covariate=covariate), as_json)


@experiment_app.command("impact")
def experiment_impact(data: Annotated[str, typer.Option(help="KPI rows: CSV/Parquet or a workspace table.")],
                      kpi: Annotated[str, typer.Option(help="The KPI column.")],
                      post_start: Annotated[str, typer.Option(help="First day of the campaign (YYYY-MM-DD).")],
                      date_col: Annotated[str, typer.Option(help="The date column.")] = "date",
                      controls: Annotated[str | None, typer.Option(help="Control series columns (not moved by "
                                                                         "the campaign), comma-separated.")]
                      = None,
                      method: Annotated[str, typer.Option(help="causal_impact or did (control geos).")]
                      = "causal_impact",
                      unit_col: Annotated[str | None, typer.Option(help="did: the geo (unit) column.")] = None,
                      treated: Annotated[str | None, typer.Option(help="did: treated units, comma-separated.")]
                      = None,
                      min_lift: Annotated[float | None, typer.Option(help="Verdict: the minimum relative lift.")]
                      = None,
                      experiment: Annotated[str | None, typer.Option(help="Verdict: the locked criteria of this "
                                                                          "workspace experiment.")] = None,
                      alpha: Annotated[float, typer.Option(help="1 - interval level.")] = 0.05,
                      workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """A campaign's incremental effect against a counterfactual: a state-space model of the
    pre-period with control series (CausalImpact-style) or difference in differences."""
    from mercator.experiment import impact

    def run(ws):
        return impact(data, ws=ws, date_col=date_col, kpi=kpi, post_start=post_start, controls=csv_list(controls),
                      method=method, unit_col=unit_col, treated=csv_list(treated), alpha=alpha,
                      criteria={"min_relative_lift": min_lift} if min_lift is not None else None,
                      experiment=experiment)

    if experiment is not None:
        _analysis(workspace, run, as_json)
    else:
        _file_or_workspace(workspace, data, run, as_json)

