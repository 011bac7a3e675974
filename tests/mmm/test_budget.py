"""The budget optimizer against brute force on small cases (logistic and S-shaped Hill curves,
bounds, locks, risk aversion), and the target-ROAS search against its definition."""

from __future__ import annotations

import numpy as np
import pytest

from mercator.mmm._budget import Response, brute_force, budget_for_target, optimize


def _response(kind: str, k: int, draws: int = 200, seed: int = 0) -> Response:
    rng = np.random.default_rng(seed)
    beta = rng.uniform(500, 3000, k) * rng.lognormal(0, 0.1, (draws, k))
    if kind == "logistic":
        params = {"lam": rng.uniform(1, 5, k) * rng.lognormal(0, 0.1, (draws, k))}
    else:  # slopes above 1: S-shaped, not concave
        params = {"half_saturation": rng.uniform(0.2, 0.8, k) * rng.lognormal(0, 0.1, (draws, k)),
                  "slope": rng.uniform(1.2, 3, k) * np.ones((draws, k))}
    return Response(tuple("abc"[:k]), kind, beta, params, np.full(k, 100.0))


@pytest.mark.parametrize("kind", ["logistic", "hill"])
@pytest.mark.parametrize("k", [2, 3])
def test_optimizer_matches_brute_force(kind, k):
    for seed in range(3):
        r = _response(kind, k, seed=seed)
        budget = 120.0
        lower, upper = np.zeros(k), np.full(k, budget)
        x = optimize(r, budget, lower, upper)
        grid = brute_force(r, budget, lower, upper, steps=300 if k == 2 else 120)
        assert x.sum() == pytest.approx(budget)
        # never worse than the grid's best, and within the grid's resolution of it
        assert r.utility(x)[0] >= r.utility(grid)[0] - 1e-9 * abs(r.utility(grid)[0])
        assert np.abs(x - grid).max() <= 2 * budget / (300 if k == 2 else 120) + 1e-6


def test_bounds_locks_and_risk_aversion():
    r = _response("logistic", 3, seed=4)
    budget = 150.0
    lower, upper = np.array([10.0, 0.0, 40.0]), np.array([30.0, 150.0, 40.0])  # c is locked at 40
    x = optimize(r, budget, lower, upper)
    assert x[2] == 40.0 and 10 - 1e-9 <= x[0] <= 30 + 1e-9 and x.sum() == pytest.approx(budget)
    grid = brute_force(r, budget, lower, upper, steps=150)
    assert r.utility(x)[0] >= r.utility(grid)[0] - 1e-9 * abs(r.utility(grid)[0])
    for risk in (0.5, 2.0):
        xr = optimize(r, budget, np.zeros(3), np.full(3, budget), risk_aversion=risk)
        gr = brute_force(r, budget, np.zeros(3), np.full(3, budget), steps=120, risk_aversion=risk)
        assert r.utility(xr, risk)[0] >= r.utility(gr, risk)[0] - 1e-6 * abs(r.utility(gr, risk)[0])
    with pytest.raises(ValueError, match="bounds allow"):
        optimize(r, 500.0, lower, upper)


def test_risk_gradient_is_the_derivative():
    r = _response("hill", 3, seed=2)
    x, h = np.array([30.0, 50.0, 20.0]), 1e-5
    _, g = r.utility(x, 1.5)
    numeric = [(r.utility(x + h * e, 1.5)[0] - r.utility(x - h * e, 1.5)[0]) / (2 * h) for e in np.eye(3)]
    np.testing.assert_allclose(g, numeric, rtol=1e-5)


def test_target_roas_finds_the_largest_budget_that_meets_it():
    r = _response("logistic", 2, seed=1)
    lower, upper = np.zeros(2), np.full(2, 500.0)
    target = 15.0
    b, x = budget_for_target(r, target, lower, upper)
    assert x.sum() == pytest.approx(b)
    assert r.utility(x)[0] / b >= target
    bigger = optimize(r, b * 1.01, lower, upper)
    assert r.utility(bigger)[0] / (b * 1.01) < target
    with pytest.raises(ValueError, match="no budget"):
        budget_for_target(r, 1e9, lower, upper)
