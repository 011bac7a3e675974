"""Bayesian readings of an A/B test and always-valid intervals for peeking (pure).

- Beta-binomial (conversion metrics): each arm's rate has a Beta(a + conversions,
  b + non-conversions) posterior; the chance that treatment beats control is the integral of
  the treatment density times the control CDF (Gauss-Legendre quadrature, exact to 1e-10), and the
  expected loss of shipping treatment is E[max(control - treatment, 0)].
- Normal (any metric, large samples): the effect's posterior is Normal(effect, se^2) under a
  flat prior, so the chance to win is Phi(effect / se) and the expected loss of shipping is
  se phi(effect / se) - effect Phi(-effect / se) (GrowthBook's reading).
- Confidence sequences (Waudby-Smith et al. 2023, asymptotic; Howard et al. 2021 for the
  normal mixture): an interval for the effect that holds at every look at once, so a test can
  be read as often as wanted; tuned to be tightest at ``n_target`` units.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import beta as beta_dist
from scipy.stats import norm


def beta_binomial(conv_c: float, n_c: float, conv_t: float, n_t: float, prior: tuple[float, float] = (1.0, 1.0)
                  ) -> dict[str, float]:
    """Chance that treatment's rate beats control's, and the expected loss (in rate) of
    shipping treatment and of keeping control."""
    a, b = prior
    pc = beta_dist(a + conv_c, b + n_c - conv_c)
    pt = beta_dist(a + conv_t, b + n_t - conv_t)
    lo = min(pc.ppf(1e-12), pt.ppf(1e-12))
    hi = max(pc.isf(1e-12), pt.isf(1e-12))
    # Gauss-Legendre on [lo, hi], where both posteriors' mass lies: the integrands are smooth, so
    # 400 nodes give 1e-10, with one vectorized call per distribution function (scipy's adaptive
    # quad called them point by point, 0.1 s per metric)
    x, w = np.polynomial.legendre.leggauss(400)
    x = lo + (hi - lo) * (x + 1) / 2
    w = w * (hi - lo) / 2
    dc, dt = pc.pdf(x), pt.pdf(x)
    win = float(w @ (dt * pc.cdf(x)))
    # E[max(C - T, 0)] = integral of the density of T times E[max(C - x, 0)], and the other way round
    loss_t = float(w @ (dt * _upper_partial(pc, x)))
    loss_c = float(w @ (dc * _upper_partial(pt, x)))
    return {"chance_to_win": win, "expected_loss_ship": loss_t, "expected_loss_keep": loss_c,
            "control_mean": float(pc.mean()), "treatment_mean": float(pt.mean())}


def _upper_partial(d, x: np.ndarray) -> np.ndarray:
    """E[max(X - x, 0)] for X ~ d (a Beta), by the identity E[X 1{X > x}] = mean * P(X' > x)
    with X' ~ Beta(a + 1, b)."""
    a, b = d.args
    return a / (a + b) * beta_dist(a + 1, b).sf(x) - x * d.sf(x)


def normal(effect: float, se: float) -> dict[str, float]:
    """Chance to win and expected losses for an effect estimate with standard error ``se``."""
    z = effect / se
    return {"chance_to_win": float(norm.cdf(z)),
            "expected_loss_ship": float(se * norm.pdf(z) - effect * norm.cdf(-z)),
            "expected_loss_keep": float(se * norm.pdf(z) + effect * norm.cdf(z))}


def confidence_sequence(effect: float, se: float, n: float, n_target: float, alpha: float = 0.05
                        ) -> tuple[float, float]:
    """An always-valid 1 - alpha interval for the effect after ``n`` units (both arms), given
    its current estimate and standard error; tightest near ``n_target`` units."""
    sigma = se * math.sqrt(n)  # the per-unit standard deviation of the effect estimator
    half = sigma * float(confidence_sequence_width(np.array(n), n_target, alpha))
    return effect - half, effect + half


def confidence_sequence_width(n: np.ndarray, n_target: float, alpha: float = 0.05) -> np.ndarray:
    """The half-width factor of :func:`confidence_sequence` per unit of sigma, vectorized (for
    simulations and for planning how soon a test can stop)."""
    n = np.asarray(n, float)
    rho2 = (-2 * math.log(alpha) + math.log(-2 * math.log(alpha) + 1)) / n_target
    return np.sqrt(2 * (n * rho2 + 1) / (n * n * rho2) * np.log(np.sqrt(n * rho2 + 1) / alpha))


__all__ = ["beta_binomial", "confidence_sequence", "confidence_sequence_width", "normal"]
