"""Bayesian readings against Evan Miller's closed form for P(B > A) with Beta posteriors and
against Monte Carlo; the confidence sequence against the issue's bar: with 20 looks at an A/A
test, at most 5% false positives, where naive peeking at the fixed-horizon p-value gives about
25% (simulated, 2,000 experiments)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import betaln

from mercator.experiment._bayes import (
    beta_binomial,
    confidence_sequence,
    confidence_sequence_width,
    normal,
)


def _miller(a_a: int, b_a: int, a_b: int, b_b: int) -> float:
    """P(p_B > p_A) for Beta(a_a, b_a) and Beta(a_b, b_b), integer parameters (Evan Miller,
    'Formulas for Bayesian A/B testing')."""
    return sum(math.exp(betaln(a_a + i, b_a + b_b) - math.log(b_b + i) - betaln(1 + i, b_b) - betaln(a_a, b_a))
               for i in range(a_b))


def test_beta_binomial_against_the_closed_form_and_monte_carlo():
    r = beta_binomial(20, 200, 30, 200)
    assert r["chance_to_win"] == pytest.approx(_miller(21, 181, 31, 171), abs=1e-9)
    rng = np.random.default_rng(0)
    c, t = rng.beta(21, 181, 2_000_000), rng.beta(31, 171, 2_000_000)
    # Monte Carlo standard error here is about 2e-5
    assert r["expected_loss_ship"] == pytest.approx(np.maximum(c - t, 0).mean(), abs=1e-4)
    assert r["expected_loss_keep"] == pytest.approx(np.maximum(t - c, 0).mean(), abs=1e-4)
    # exactly: E[max(T - C, 0)] - E[max(C - T, 0)] = E[T] - E[C]
    assert r["expected_loss_keep"] - r["expected_loss_ship"] == pytest.approx(31 / 202 - 21 / 202, abs=1e-10)


def test_normal_reading():
    r = normal(0.5, 0.4)
    rng = np.random.default_rng(1)
    d = rng.normal(0.5, 0.4, 2_000_000)
    assert r["chance_to_win"] == pytest.approx((d > 0).mean(), abs=1e-3)
    assert r["expected_loss_ship"] == pytest.approx(np.maximum(-d, 0).mean(), abs=1e-3)
    assert r["expected_loss_keep"] == pytest.approx(np.maximum(d, 0).mean(), abs=1e-3)


def test_peeking_twenty_times():
    """A/A, 2,000 experiments, 250 units per arm added between 20 looks. Naive: stop at the
    first look with p < 0.05. Sequential: stop when the confidence sequence leaves 0."""
    rng = np.random.default_rng(3)
    sims, per_look, looks = 2000, 250, 20
    s = np.zeros((2, sims))
    ss = np.zeros((2, sims))
    naive = np.zeros(sims, bool)
    seq = np.zeros(sims, bool)
    n_target = 2 * per_look * looks
    for k in range(1, looks + 1):
        y = rng.normal(0, 1, (2, sims, per_look))
        s += y.sum(axis=2)
        ss += (y * y).sum(axis=2)
        n = k * per_look
        mean = s / n
        var = (ss - s * s / n) / (n - 1)
        diff = mean[1] - mean[0]
        se = np.sqrt(var[0] / n + var[1] / n)
        naive |= np.abs(diff / se) > 1.959964
        half = se * np.sqrt(2 * n) * confidence_sequence_width(np.array(2 * n), n_target)
        seq |= np.abs(diff) > half
    assert 0.18 <= naive.mean() <= 0.32, naive.mean()
    assert seq.mean() <= 0.05, seq.mean()
    lo, hi = confidence_sequence(0.1, 0.05, 4000, n_target)
    assert lo < 0.1 - 1.96 * 0.05 and hi > 0.1 + 1.96 * 0.05  # wider than the fixed-horizon interval
