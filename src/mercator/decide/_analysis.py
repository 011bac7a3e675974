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
