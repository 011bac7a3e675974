"""The public analyses of ``mercator.decide``: how fast each bandit learns (simulation), and
whether a candidate policy would beat the current one on the logged decisions (off-policy
evaluation)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from mercator.decide._bandits import POLICIES, Bandit
from mercator.decide._features import DIM, hashed
from mercator.decide._log import outcomes
from mercator.decide._ope import estimate, reward_model
from mercator.decide._policy import Decider, parse_policy
from mercator.decide._simulate import planted_world, run
from mercator.errors import BadParameter, MercatorError
from mercator.results import Finding, Recommendation, Result


@dataclass(frozen=True)
class SimulationResult(Result):
    """Each policy's cumulative regret against the best arm of every context, in a world with a
    planted best arm per context."""

    kind = "decide_simulation"
    title = "Bandits in a simulated world: regret"
    headline = ("policies",)
    display: ClassVar[dict[str, tuple[str, ...]]] = {
        "policies": ("policy", "regret", "reward", "best_share")}

    def figures(self) -> list:
        curve = self.to_frame("curve")
        fig = go.Figure()
        for name, part in curve.groupby("policy", sort=False):
            fig.add_scatter(x=part["decisions"], y=part["regret"], mode="lines", name=name)
        fig.update_layout(title="Cumulative regret: reward given up against the best arm of each context",
                          xaxis_title="decisions", yaxis_title="expected regret", height=420)
        return [fig]


def simulate(*, decisions: int = 100_000, arms: int = 10, policies=("uniform", "epsilon_greedy", "ucb1", "thompson",
                                                                   "linucb", "lin_thompson"),
             floor: float = 0.0, batch: int = 500, epsilon: float = 0.1, alpha: float = 1.0,
             seed: int = 0) -> SimulationResult:
    """Run each policy over the same ``decisions`` in a planted world (``_simulate``): contexts of
    device, country and segment; ``arms`` arms whose reward rates depend on the context."""
    unknown = [p for p in policies if p not in POLICIES]
    if unknown:
        raise BadParameter(f"unknown policies {', '.join(unknown)}; policies: {', '.join(POLICIES)}")
    if decisions < batch or arms < 2:
        raise BadParameter("simulate at least one batch of decisions and two arms")
    world = planted_world(arms=arms, seed=seed)
    bandits = {p: Bandit(p, world.arms, dim=DIM if p.startswith("lin") else 0, epsilon=epsilon,
                         alpha=alpha if p == "linucb" else alpha / 2) for p in policies}
    curve = run(world, bandits, decisions=decisions, batch=batch, floor=floor, seed=seed)
    final = curve.groupby("policy", sort=False).last().reset_index().sort_values("regret", ignore_index=True)
    best = final.iloc[0]
    findings = [Finding(f"Over {decisions:,} decisions ({len(world.contexts)} contexts, {arms} arms, "
                        f"{len(set(world.best))} different best arms), {best.policy} gave up the least: expected "
                        f"regret {best.regret:,.0f} rewards, choosing the best arm {best.best_share:.0%} of the time.",
                        metric="regret", value=float(best.regret), impact=1.0)]
    for row in final.iloc[1:].itertuples():
        findings.append(Finding(f"{row.policy}: regret {row.regret:,.0f} ({row.regret / best.regret:.1f}x), best arm "
                                f"{row.best_share:.0%} of the time.", metric="regret", value=float(row.regret),
                                impact=0.5))
    step = max(1, len(curve) // (len(policies) * 200))
    return SimulationResult(tables={"policies": final, "curve": curve.iloc[::step].reset_index(drop=True)},
                            findings=tuple(findings),
                            params={"decisions": decisions, "arms": arms, "floor": floor, "batch": batch,
                                    "seed": seed, "policies": list(policies)})


@dataclass(frozen=True)
class PolicyEvaluation(Result):
    """A candidate policy judged on the current policy's logged decisions: its value by IPS,
    SNIPS, the direct method and doubly robust, with intervals, against the current value."""

    kind = "decide_evaluation"
    title = "Off-policy evaluation of a candidate policy"
    headline = ("estimates",)
    display: ClassVar[dict[str, tuple[str, ...]]] = {"estimates": ("estimator", "value", "low", "high")}

    def figures(self) -> list:
        e = self.to_frame("estimates")
        fig = go.Figure()
        fig.add_scatter(x=e["estimator"], y=e["value"], mode="markers", name="candidate",
                        error_y={"type": "data", "symmetric": False, "array": e["high"] - e["value"],
                                 "arrayminus": e["value"] - e["low"]})
        fig.add_hline(y=self.params["current_value"], line_dash="dot",
                      annotation_text=f"current {self.params['current_policy']}")
        fig.update_layout(title="Candidate's value per decision, with 95% intervals, against the current policy's",
                          yaxis_title="reward per decision", height=380)
        return [fig]


def logged_decisions(ws, policy: str, *, window_s: float = 7 * 86400, now: float | None = None) -> pd.DataFrame:
    """The policy's logged choices with their rewards (:func:`_log.outcomes`), in time order: the
    rows off-policy evaluation weighs one by one."""
    rows = outcomes(ws, policy, window_s=window_s, now=now)
    return rows.select("decision_id", "ts", "context", "eligible", "arm", "propensity", "reward") \
        .order_by(["ts", "decision_id"]).to_pandas()


def evaluate_policy(ws, candidate, *, current: str | None = None, train_share: float = 0.5, resamples: int = 1000,
                    seed: int = 0, now: float | None = None) -> PolicyEvaluation:
    """Would ``candidate`` (a policy: YAML, a file or a dict) beat the current policy (default:
    the live one of the same name) on its logged decisions? The candidate learns from the
    earlier ``train_share`` of the log (as it would have, had it been live), then its choice
    probabilities on each later decision are weighed against the logged propensities. The
    candidate is worth promoting only when the doubly robust estimate's lower bound is above the
    current policy's value on the same decisions (its mean reward)."""
    cand = parse_policy(candidate)
    if cand.bandit == "scores":
        raise MercatorError(f"policy {cand.name}: a scores policy ranks each person by scores the log does not hold; "
                            "off-policy evaluation covers the bandits and rules")
    current = current or cand.name
    window = cand.attribution_window_s
    log = logged_decisions(ws, current, now=now, window_s=window)
    if len(log) < 200:
        raise MercatorError(f"policy {current!r} has {len(log):,} logged decisions with a known outcome; off-policy "
                            "evaluation needs at least 200")
    if (log.propensity <= 0).any() or log.propensity.isna().any():
        raise MercatorError(f"policy {current!r}: some logged propensities are missing or zero; they cannot be "
                            "weighed")
    missing = sorted(set(log.arm) - set(cand.arm_ids))
    if missing:
        raise MercatorError(f"the candidate lacks arms the current policy chose ({', '.join(missing)}): its "
                            "probability of them is zero, so the estimate would be biased; give it those arms")
    cut = int(len(log) * train_share)
    train, test = log.iloc[:cut], log.iloc[cut:].reset_index(drop=True)
    decider = Decider(cand, seed=seed)
    if len(train):
        agg = train.groupby(["arm", "context"], as_index=False).agg(n=("reward", "size"), reward=("reward", "sum"))
        x = np.stack([hashed(json.loads(c)) for c in agg.context]) if decider.bandit.contextual else None
        decider.bandit.absorb(agg.arm.map({a: i for i, a in enumerate(cand.arm_ids)}).to_numpy(), agg.n.to_numpy(float),
                              agg.reward.to_numpy(float), x)
    arms = cand.arm_ids
    index = {a: i for i, a in enumerate(arms)}
    # the candidate's probabilities per distinct (context, eligible set): a log repeats them
    keys = test.context + "|" + test.eligible.fillna("")
    dist = np.zeros((len(test), len(arms)))
    for key, rows in test.groupby(keys, sort=False).groups.items():
        ctx, elig = key.split("|", 1)
        context = json.loads(ctx)
        eligible = np.array([a in set(elig.split(",")) for a in arms]) if elig else np.ones(len(arms), bool)
        eligible &= np.fromiter((a.eligible(context) for a in cand.arms), bool, len(arms))
        if not eligible.any():
            eligible = np.zeros(len(arms), bool)
            eligible[index[cand.default] if cand.default else 0] = True
        x = hashed(context) if decider.bandit.contextual else None
        dist[test.index.get_indexer(rows)] = decider.bandit.probabilities(x, eligible, cand.floor)
    action = test.arm.map(index).to_numpy()
    reward = test.reward.to_numpy(float)
    contexts = np.stack([hashed(json.loads(c)) for c in test.context])
    q = reward_model(contexts, action, reward, len(arms), seed=seed)
    est = estimate(reward, action, test.propensity.to_numpy(float), dist, q, resamples=resamples, seed=seed)
    rng = np.random.default_rng(seed)
    boots = reward[rng.integers(0, len(reward), (resamples, len(reward)))].mean(axis=1)
    cur_value, (cur_lo, cur_hi) = float(reward.mean()), np.percentile(boots, [2.5, 97.5])
    dr = est.set_index("estimator").loc["dr"]
    promote = bool(dr.low > cur_value)
    findings = [Finding(
        f"Candidate {cand.name} v{cand.version} ({cand.bandit}) on {len(test):,} later decisions of {current}: "
        f"doubly robust value {dr.value:.4f} per decision (95% interval {dr.low:.4f} to {dr.high:.4f}) against "
        f"the current {cur_value:.4f} ({cur_lo:.4f} to {cur_hi:.4f}).", metric="dr", value=float(dr.value),
        interval=(float(dr.low), float(dr.high)), impact=1.0),
        Finding(("Promote: the doubly robust lower bound is above the current value." if promote else
                 "Do not promote: the doubly robust lower bound is not above the current value."),
                impact=0.9)]
    advice = [Recommendation(f"Promote {cand.name} ({cand.bandit}) to live", expected_impact=float(dr.value - cur_value),
                             interval=(float(dr.low - cur_value), float(dr.high - cur_value)),
                             unit="reward per decision",
                             evidence=f"off-policy evaluation on {len(test):,} logged decisions (doubly robust)")] \
        if promote else []
    w = dist[np.arange(len(test)), action] / test.propensity.to_numpy(float)
    return PolicyEvaluation(
        tables={"estimates": est, "current": pd.DataFrame([{"policy": current, "value": cur_value, "low": cur_lo,
                                                            "high": cur_hi}])},
        findings=tuple(findings), recommendations=tuple(advice),
        params={"candidate": cand.name, "candidate_bandit": cand.bandit, "current_policy": current,
                "current_value": cur_value, "promote": promote, "train_decisions": int(cut),
                "test_decisions": len(test), "max_weight": float(w.max()),
                "effective_sample_size": float(w.sum() ** 2 / (w ** 2).sum())})


@dataclass(frozen=True)
class DecisionSummary(Result):
    """What a policy decided and what it earned: per arm, per fallback reason, and per day."""

    kind = "decide_summary"
    title = "What we decided and what it earned"
    headline = ("arms",)
    display: ClassVar[dict[str, tuple[str, ...]]] = {
        "arms": ("arm", "decisions", "share", "reward_rate", "low", "high"),
        "fallbacks": ("fallback_reason", "decisions"),
        "days": ("day", "decisions", "reward_rate", "best_arm_share")}

    def figures(self) -> list:
        arms, days = self.to_frame("arms"), self.to_frame("days")
        if arms.empty:
            return []
        rate = go.Figure(go.Bar(x=arms["arm"], y=arms["reward_rate"], error_y={
            "type": "data", "symmetric": False, "array": arms["high"] - arms["reward_rate"],
            "arrayminus": arms["reward_rate"] - arms["low"]}, text=[f"{n:,}" for n in arms["decisions"]],
            textposition="outside"))
        rate.update_layout(title=f"Reward rate by arm (95% Wilson intervals; bars labelled with decisions): "
                                 f"{self.params['policy']}", yaxis_tickformat=".1%", height=380)
        learn = go.Figure(go.Scatter(x=days["day"], y=days["best_arm_share"], mode="lines+markers",
                                     name=f"share of {self.params['best_arm']}"))
        learn.update_layout(title=f"Learning: the share of decisions going to the best arm ({self.params['best_arm']})",
                            yaxis_tickformat=".0%", yaxis_range=[0, 1], height=340)
        return [rate, learn]


def summarize_decisions(ws, policy: str | None = None, *, now: float | None = None) -> DecisionSummary:
    """Decisions and rewards of ``policy`` (default: the one with the most decisions), aggregated
    in the engine: per arm (decisions, share, reward rate with its Wilson interval, counting
    rewards within the policy's attribution window), per fallback reason, and per day (the share
    going to the arm with the best rate: the learning curve)."""
    import ibis
    from statsmodels.stats.proportion import proportion_confint

    from mercator.decide._registry import load_policy

    d = ws.table("decisions")
    if policy is None:
        named = d.filter(d.policy.notnull())
        top = named.group_by("policy").aggregate(n=named.count()).order_by(ibis.desc("n")).limit(1).to_pandas()
        if top.empty:
            raise MercatorError("no decisions logged yet: serve a policy (`mercator serve`, POST /v1/decide)")
        policy = str(top.policy.iloc[0])
    try:
        window = load_policy(ws, policy)[0].attribution_window_s
    except MercatorError:
        window = 7 * 86400.0
    rows = outcomes(ws, policy, window_s=window, now=now)
    by_arm = rows.group_by("arm").aggregate(decisions=rows.count(), rewards=(rows.reward > 0).sum()) \
        .order_by("arm").to_pandas()
    if by_arm.empty:
        raise MercatorError(f"policy {policy!r} has no logged decisions with a known outcome yet")
    low, high = proportion_confint(by_arm.rewards, by_arm.decisions, method="wilson")
    by_arm = by_arm.assign(share=by_arm.decisions / by_arm.decisions.sum(),
                           reward_rate=by_arm.rewards / by_arm.decisions, low=low, high=high) \
        .sort_values("reward_rate", ascending=False, ignore_index=True)
    best = str(by_arm.arm.iloc[0])
    all_d = d.filter(d.policy == policy)
    fallbacks = all_d.filter(all_d.fallback_reason.notnull()).group_by("fallback_reason") \
        .aggregate(decisions=lambda t: t.count()).to_pandas()
    day = rows.ts.date()
    days = rows.group_by(day.name("day")).aggregate(
        decisions=rows.count(), reward_rate=(rows.reward > 0).mean(),
        best_arm_share=(rows.arm == best).mean()).order_by("day").to_pandas()
    total = int(by_arm.decisions.sum())
    top = by_arm.iloc[0]
    findings = [Finding(
        f"{policy}: {total:,} decisions with a known outcome over {len(days)} days; {best} earns the most, "
        f"{top.reward_rate:.2%} ({top.low:.2%} to {top.high:.2%}), on {top.share:.0%} of the decisions.",
        metric="reward_rate", value=float(top.reward_rate), interval=(float(top.low), float(top.high)), impact=1.0)]
    if len(days) >= 14:
        first, last = days.best_arm_share.iloc[:7].mean(), days.best_arm_share.iloc[-7:].mean()
        findings.append(Finding(f"Learning: the share of decisions going to {best} moved from {first:.0%} in the "
                                f"first week to {last:.0%} in the last.", metric="best_arm_share", value=float(last),
                                impact=0.7))
    if len(fallbacks):
        findings.append(Finding("Defaults served instead of the policy's choice: " + "; ".join(
            f"{r.decisions:,} ({r.fallback_reason})" for r in fallbacks.itertuples()) + ".",
            metric="fallbacks", value=float(fallbacks.decisions.sum()), impact=0.4))
    return DecisionSummary(tables={"arms": by_arm, "fallbacks": fallbacks, "days": days},
                           findings=tuple(findings),
                           params={"policy": policy, "best_arm": best, "decisions": total,
                                   "attribution_window_s": window})
