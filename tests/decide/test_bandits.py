"""Bandit policies: the propensities they log are the probabilities they choose with, the
exploration floor holds, and the contextual policies learn a planted best arm per context."""

from __future__ import annotations

import numpy as np
import pytest

from mercator.decide._bandits import Bandit, max_probabilities, with_floor
from mercator.decide._simulate import planted_world, run

ARMS = [f"a{i}" for i in range(5)]


@pytest.mark.parametrize("dist", ["beta", "normal"])
def test_the_probability_of_being_the_largest_equals_monte_carlo(dist):
    """Reference: 400,000 draws of the variables themselves, for narrow, wide and mixed spreads;
    the quadrature is within 0.005 of it (Monte Carlo's own error here is about 0.0008)."""
    rng = np.random.default_rng(3)
    for _ in range(6):
        k = int(rng.integers(2, 11))
        if dist == "beta":
            scale = rng.choice([3, 3000], k)
            a, b = rng.uniform(1, scale), rng.uniform(1, scale)
            draws = rng.beta(a, b, size=(400_000, k))
        else:
            a, b = rng.normal(0, 1, k), rng.uniform(0.01, 2, k)
            draws = rng.normal(a, b, size=(400_000, k))
        mc = np.bincount(draws.argmax(axis=1), minlength=k) / len(draws)
        assert np.abs(max_probabilities(dist, a, b) - mc).max() <= 0.005


def _trained(policy: str) -> Bandit:
    rng = np.random.default_rng(1)
    bandit = Bandit(policy, ARMS, dim=8 if policy.startswith("lin") else 0, epsilon=0.2, alpha=0.8)
    arms = rng.integers(0, 5, 300)
    x = rng.normal(0, 1, (300, 8))
    rewards = (rng.random(300) < 0.1 + 0.05 * arms).astype(float)
    bandit.update(arms, rewards, x if bandit.contextual else None)
    return bandit


@pytest.mark.parametrize("policy", ["thompson", "epsilon_greedy", "ucb1", "linucb", "lin_thompson", "uniform"])
def test_decisions_are_drawn_with_the_logged_propensities(policy):
    """The batch path (Thompson: a posterior draw per decision and arm, then the largest) and the
    propensities the single-decision path logs describe the same choice: over 200,000 decisions
    in one context every arm's share is within 0.005 of its propensity, with a floor of 0.02."""
    bandit = _trained(policy)
    x = np.linspace(-1, 1, 8) if bandit.contextual else None
    p = bandit.probabilities(x, floor=0.02)
    arms = bandit.choose_batch(np.random.default_rng(2), None if x is None else np.tile(x, (200_000, 1)), 200_000,
                               floor=0.02)
    share = np.bincount(arms, minlength=len(ARMS)) / len(arms)
    assert p.sum() == pytest.approx(1) and (p >= 0.02 - 1e-12).all()
    assert np.abs(share - p).max() <= 0.005
    arm, propensity, _ = bandit.choose(np.random.default_rng(4), x, floor=0.02)
    assert propensity == p[arm]


def test_epsilon_greedy_and_the_floor_in_closed_form():
    """By hand: two arms tie for the best mean, so each gets (1 - 0.2) / 2 + 0.2 / 4 = 0.45 and
    the others 0.05; an ineligible arm gets nothing and the rest is shared among the eligible."""
    b = Bandit("epsilon_greedy", ARMS[:4], epsilon=0.2)
    b.update(np.array([0, 1, 2, 3]), np.array([1.0, 1.0, 0.0, 0.0]))
    assert b.probabilities() == pytest.approx([0.45, 0.45, 0.05, 0.05])
    assert b.probabilities(eligible=[True, False, True, True]) == pytest.approx([0.8 + 0.2 / 3, 0, 0.2 / 3, 0.2 / 3])
    assert with_floor(np.array([1.0, 0, 0, 0]), 0.1) == pytest.approx([0.7, 0.1, 0.1, 0.1])
    with pytest.raises(ValueError, match="impossible"):
        with_floor(np.ones(4) / 4, 0.3)


def test_contextual_policies_learn_the_planted_best_arm():
    """100,000 decisions in the planted world (48 contexts, 10 arms, 6 different best arms):
    LinUCB and linear Thompson sampling give up less reward than epsilon-greedy, Thompson
    sampling without context and uniform; the exploration floor of 0.005 holds for every arm."""
    world = planted_world(seed=0)
    arms = world.arms
    policies = {"uniform": Bandit("uniform", arms), "epsilon_greedy": Bandit("epsilon_greedy", arms, epsilon=0.1),
                "thompson": Bandit("thompson", arms), "linucb": Bandit("linucb", arms, dim=64, alpha=1.0),
                "lin_thompson": Bandit("lin_thompson", arms, dim=64, alpha=0.5)}
    res = run(world, policies, decisions=100_000, batch=500, floor=0.005).groupby("policy").last()
    regret = res.regret
    for learner in ("linucb", "lin_thompson"):
        assert regret[learner] < min(regret["epsilon_greedy"], regret["thompson"], regret["uniform"]), regret
    assert res.loc["linucb", "best_share"] > res.loc["epsilon_greedy", "best_share"] + 0.1
    floor = policies["linucb"].pulls / policies["linucb"].pulls.sum()
    assert floor.min() >= 0.005 * 0.8  # each arm's share, at least the floor (less sampling noise)
