"""Off-policy evaluation from the workspace's log: a candidate that learns the planted best arms
is estimated close to its true value and promoted; one no better than the current policy is
not; the CLI promotes through the registry."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from mercator import Workspace
from mercator.decide import evaluate_policy, list_policies, save_policy
from mercator.decide._simulate import planted_world
from mercator.errors import MercatorError
from mercator.interfaces.cli import app

N = 80_000


def _spec(bandit: str, arms: list[str]) -> dict:
    return {"policy": "hero", "bandit": bandit, "alpha": 1.0, "context": ["device", "country", "segment"],
            "purpose": None, "arms": [{"id": a} for a in arms]}


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    """80,000 decisions of a uniform policy (propensity 0.1) over 10 arms in the planted world,
    with their rewards, as `mercator serve` would have logged them."""
    world = planted_world(seed=0)
    rng = np.random.default_rng(7)
    ctx = rng.integers(0, len(world.contexts), N)
    arm = rng.integers(0, len(world.arms), N)
    won = rng.random(N) < world.rates[ctx, arm]
    contexts = [json.dumps(dict(zip(world.contexts.columns, row, strict=True)), sort_keys=True)
                for row in world.contexts.itertuples(index=False)]
    ts = pd.Timestamp("2026-01-01") + pd.to_timedelta(np.arange(N), "s")
    ids = np.char.add("d", np.arange(N).astype(str))
    decisions = pd.DataFrame({"decision_id": ids, "ts": ts, "policy": "hero", "policy_version": 1,
                              "context": np.array(contexts)[ctx], "eligible": ",".join(world.arms),
                              "arm": np.array(world.arms)[arm], "propensity": 0.1, "fallback_reason": None})
    rewards = pd.DataFrame({"decision_id": ids[won], "ts": ts[won] + pd.Timedelta(minutes=5), "reward": 1.0})
    path = str(tmp_path_factory.mktemp("ope") / "w.duckdb")
    ws = Workspace(path)
    ws.replace("decisions", decisions, on=["decision_id"])
    ws.replace("rewards", rewards, on=["decision_id", "ts"])
    save_policy(ws, _spec("uniform", world.arms), author="ana", reason="launch")
    yield ws, path, world, ctx
    ws.close()


def test_a_candidate_that_learns_is_estimated_near_its_true_value_and_promoted(logged):
    """Reference: the candidate's true value, its probabilities on the later half's contexts
    times the planted rates. The doubly robust estimate is within 10% of it (its standard error
    here is about 4%: a tenth of the weights are 10), its interval holds it, and it is above the
    uniform policy's value, so the candidate is promoted."""
    ws, _path, world, ctx = logged
    res = evaluate_policy(ws, _spec("linucb", world.arms), now=2e9, resamples=300)
    est = res.to_frame("estimates").set_index("estimator")
    test_ctx = ctx[N // 2:]
    from mercator.decide._features import hashed
    from mercator.decide._policy import Decider, parse_policy

    # the same candidate, trained the same way, gives the probabilities the truth is computed from
    decider = Decider(parse_policy(_spec("linucb", world.arms)), seed=0)
    log = ws.table("decisions").order_by(["ts", "decision_id"]).to_pandas().iloc[: N // 2]
    won = set(ws.table("rewards").decision_id.execute())
    decider.learn(log.arm.map({a: i for i, a in enumerate(world.arms)}).to_numpy(),
                  log.decision_id.isin(won).to_numpy(float), [json.loads(c) for c in log.context])
    probs = np.stack([decider.bandit.probabilities(hashed(dict(zip(world.contexts.columns, row, strict=True))))
                      for row in world.contexts.itertuples(index=False)])
    truth = float((probs[test_ctx] * world.rates[test_ctx]).sum(axis=1).mean())
    assert abs(est.loc["dr", "value"] - truth) / truth <= 0.10
    assert est.loc["dr", "low"] <= truth <= est.loc["dr", "high"]
    assert res.params["promote"] and est.loc["dr", "low"] > res.params["current_value"]
    assert res.params["current_value"] == pytest.approx(world.rates[test_ctx].mean(), rel=0.1)


def test_no_better_candidate_is_not_promoted_and_the_cli_promotes_a_winner(logged, tmp_path):
    ws, path, world, _ctx = logged
    assert not evaluate_policy(ws, _spec("uniform", world.arms), now=2e9, resamples=200).params["promote"]
    with pytest.raises(MercatorError, match="lacks arms"):
        evaluate_policy(ws, _spec("linucb", world.arms[:5]), now=2e9)
    with pytest.raises(MercatorError, match="needs at least 200"):
        evaluate_policy(ws, {**_spec("uniform", world.arms), "policy": "other"}, current="other", now=2e9)
    ws.close()
    try:
        file = tmp_path / "candidate.yaml"
        file.write_text(yaml.safe_dump(_spec("linucb", world.arms)))
        out = CliRunner().invoke(app, ["decide", "evaluate", "--policy", str(file), "--promote", "--author", "bo",
                                       "--workspace", path, "--json"])
        assert out.exit_code == 0, out.output
        assert json.loads(out.stdout)["params"]["promote"] is True
    finally:
        ws.__init__(path)
    versions = list_policies(ws, "hero").to_frame("policies")
    assert list(versions.version) == [2, 1] and versions.author.iloc[0] == "bo"
    assert versions.reason.iloc[0].startswith("promoted by off-policy evaluation")
