"""Experiment design: sample size, power, minimum detectable effect and duration (pure).

The normal approximation for a difference of two means with unequal variances and an
allocation ratio k (treatment units per control unit):

    n_control = (z_alpha + z_power)^2 * (var_control + var_treatment / k) / effect^2

where z_alpha is the normal quantile of 1 - alpha/2 (two-sided) or 1 - alpha (one-sided).
Proportions use var = p (1 - p) at the control rate and at the rate the effect implies; a
ratio metric uses its delta-method variance per unit (``Aggregates.ratio_cov`` on a pre-period
sample). statsmodels' NormalIndPower solves the same equation for one common variance (the
reference in the tests); this form also takes different variances in the two arms, which
proportions need.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy.optimize import brentq
from scipy.stats import norm


@dataclass(frozen=True)
class Baseline:
    """What the metric looks like before the test: its mean and variance per unit (for a
    proportion, the rate; the variance follows)."""

    mean: float
    var: float | None = None
    proportion: bool = False

    def variance(self, mean: float | None = None) -> float:
        m = self.mean if mean is None else mean
        if self.proportion:
            if not 0 < m < 1:
                raise ValueError(f"a proportion must lie between 0 and 1, not {m}")
            return m * (1 - m)
        if self.var is None or self.var <= 0:
            raise ValueError("a mean metric needs its variance per unit (var=...)")
        return self.var


def _z(alpha: float, alternative: str) -> float:
    if alternative not in ("two-sided", "greater", "less"):
        raise ValueError(f"alternative: two-sided, greater or less, not {alternative!r}")
    return norm.ppf(1 - alpha / 2) if alternative == "two-sided" else norm.ppf(1 - alpha)


def _absolute(b: Baseline, effect: float, relative: bool) -> float:
    return effect * b.mean if relative else effect


def sample_size(b: Baseline, effect: float, *, relative: bool = True, alpha: float = 0.05, power: float = 0.8,
                ratio: float = 1.0, alternative: str = "two-sided") -> tuple[int, int]:
    """Units needed in (control, treatment) to detect ``effect`` (relative to the baseline
    mean by default, e.g. 0.05 = +5%) with probability ``power``."""
    d = _absolute(b, effect, relative)
    if d == 0:
        raise ValueError("the effect to detect must not be zero")
    var_c, var_t = b.variance(), b.variance(b.mean + d)
    n_c = (_z(alpha, alternative) + norm.ppf(power)) ** 2 * (var_c + var_t / ratio) / d**2
    return math.ceil(n_c), math.ceil(n_c * ratio)


def power_at(b: Baseline, effect: float, n_control: float, *, relative: bool = True, alpha: float = 0.05,
             ratio: float = 1.0, alternative: str = "two-sided") -> float:
    """The chance of a significant result with ``n_control`` control units (and ratio x as
    many treated) when the true effect is ``effect``."""
    d = _absolute(b, effect, relative)
    se = math.sqrt(b.variance() / n_control + b.variance(b.mean + d) / (n_control * ratio))
    z = _z(alpha, alternative)
    if alternative == "less":
        d = -d
    p = norm.sf(z - d / se)
    if alternative == "two-sided":
        p += norm.cdf(-z - d / se)
    return float(p)


def mde(b: Baseline, n_control: float, *, relative: bool = True, alpha: float = 0.05, power: float = 0.8,
        ratio: float = 1.0, alternative: str = "two-sided") -> float:
    """The smallest effect (relative by default) detected with probability ``power``."""
    scale = b.mean if relative else 1.0

    def gap(e: float) -> float:
        return power_at(b, e, n_control, relative=relative, alpha=alpha, ratio=ratio,
                        alternative=alternative) - power

    hi = 1e-6
    while gap(hi) < 0:
        hi *= 2
        if b.proportion and b.mean + hi * scale >= 1:
            raise ValueError("no effect within the possible rates reaches that power with these units")
    return float(brentq(gap, 0.0, hi, xtol=1e-12))


def duration_days(units_needed: float, units_per_day: float, share_in_test: float = 1.0) -> int:
    """Days to reach ``units_needed`` when ``units_per_day`` arrive and ``share_in_test`` of them
    enter the test. Round up to whole weeks in practice (weekday effects)."""
    if units_per_day <= 0 or not 0 < share_in_test <= 1:
        raise ValueError("traffic must be positive and the share in the test within (0, 1]")
    return math.ceil(units_needed / (units_per_day * share_in_test))


__all__ = ["Baseline", "duration_days", "mde", "power_at", "sample_size"]
