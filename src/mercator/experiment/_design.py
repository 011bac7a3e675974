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

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.stats import norm

from mercator.errors import MercatorError
from mercator.results import Finding, Result, number


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

@dataclass(frozen=True)
class DesignResult(Result):
    """How many units and days a test needs, and what it can detect."""

    kind = "experiment_design"
    title = "Experiment design"

    def figures(self) -> list:
        import plotly.graph_objects as go

        c = self.tables.get("power_curve")
        if c is None or c.empty:
            return []
        fig = go.Figure(go.Scatter(x=100 * c["relative_effect"], y=c["power"], mode="lines"))
        fig.add_hline(y=self.params["power"], line_dash="dot")
        return [fig.update_layout(title=f"Power at {int(self.params['n_control']):,} control units",
                                  xaxis_title="true relative effect (%)", yaxis_title="power", height=360)]


def design(*, baseline: float, mde_relative: float | None = None, sd: float | None = None,
           n_control: float | None = None, alpha: float = 0.05, power: float = 0.8, ratio: float = 1.0,
           alternative: str = "two-sided", units_per_day: float | None = None, share_in_test: float = 1.0
           ) -> DesignResult:
    """Plan a test on a metric with mean ``baseline`` (a rate when ``sd`` is None): the units
    to detect ``mde_relative``, or the effect detectable with ``n_control`` units; the days at
    ``units_per_day``; and the power curve."""
    b = Baseline(mean=baseline, var=None if sd is None else sd * sd, proportion=sd is None)
    try:
        if mde_relative is not None:
            n_c, n_t = sample_size(b, mde_relative, alpha=alpha, power=power, ratio=ratio, alternative=alternative)
            effect = mde_relative
        elif n_control is not None:
            if n_control < 2 or n_control * ratio < 2:
                raise MercatorError(f"n_control {n_control:g} (ratio {ratio:g}): each arm needs at least 2 units")
            n_c, n_t = int(n_control), math.ceil(n_control * ratio)
            effect = mde(b, n_c, alpha=alpha, power=power, ratio=ratio, alternative=alternative)
        else:
            raise MercatorError("give the effect to detect (mde) or the units available (n_control)")
    except ValueError as exc:
        raise MercatorError(str(exc)) from exc
    except (OverflowError, ZeroDivisionError) as exc:  # a power, ratio or effect so extreme no count fits
        raise MercatorError(f"no finite plan for baseline {baseline:g}, power {power:g}, ratio {ratio:g}: the units "
                            "needed do not fit in a number; check the inputs") from exc
    grid = np.linspace(effect / 4, effect * 2, 40)
    try:
        curve = pd.DataFrame({"relative_effect": grid, "power": [power_at(b, g, n_c, alpha=alpha, ratio=ratio,
                                                                             alternative=alternative) for g in grid]})
        days = duration_days(n_c + n_t, units_per_day, share_in_test) if units_per_day else None
    except (OverflowError, ZeroDivisionError) as exc:  # a share, count or effect too extreme for a finite plan
        raise MercatorError(f"no finite plan for {n_c:,} control units"
                            + (f" at {units_per_day:g} units a day with {share_in_test:g} of them in the test"
                               if units_per_day else "") + "; check the inputs") from exc
    plan = pd.DataFrame([{"baseline": baseline, "sd": sd, "relative_effect": effect, "absolute_effect": effect * baseline,
                          "n_control": n_c, "n_treatment": n_t, "n_total": n_c + n_t, "days": days, "alpha": alpha,
                          "power": power, "alternative": alternative}])
    what = "rate" if sd is None else "mean"
    text = (f"To detect {100 * effect:+.1f}% on a {what} of {number(baseline)} with {100 * power:.0f}% power at alpha "
            f"{alpha:g} ({alternative}): {n_c:,} control and {n_t:,} treatment units")
    text += f", {days} days at {number(units_per_day)} units a day." if days else "."
    return DesignResult(tables={"plan": plan, "power_curve": curve}, findings=(Finding(text, value=n_c + n_t),),
                        params={"baseline": baseline, "sd": sd, "alpha": alpha, "power": power, "ratio": ratio,
                                "n_control": n_c, "relative_effect": effect, "alternative": alternative})
