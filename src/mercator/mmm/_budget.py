"""Budget allocation over the posterior: response curves, the optimizer, targets and plans.

A channel's steady-state response to a constant spend s per period is
``beta * saturation(s / scale)`` (adstock weights sum to 1, so the carryover of a constant
spend adds up to the spend itself). For each posterior draw d the total response to an
allocation b is R_d(b) = sum over channels of that; the optimizer maximizes the expected
response, or ``mean(R) - risk_aversion * sd(R)`` over the draws, subject to the budget, the
per-channel bounds and the locked channels (SciPy's SLSQP with analytic gradients, started
from several points because a Hill curve with slope above 1 is not concave).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from mercator.mmm._transforms import saturation, saturation_slope


@dataclass(frozen=True)
class Response:
    """Per-draw steady-state response curves: ``beta`` (draws, channels) in KPI units per
    period, saturation parameters (draws, channels), spend scale (channels,)."""

    channels: tuple[str, ...]
    kind: str
    beta: np.ndarray
    params: dict[str, np.ndarray]
    scale: np.ndarray

    def __call__(self, spend: np.ndarray) -> np.ndarray:
        """(draws, channels) response to a spend per period (channels,)."""
        return self.beta * saturation(self.kind, np.asarray(spend, float) / self.scale, self.params)

    def slope(self, spend: np.ndarray) -> np.ndarray:
        """(draws, channels) marginal response per unit of spend."""
        return self.beta * saturation_slope(self.kind, np.asarray(spend, float) / self.scale, self.params) / self.scale

    def utility(self, spend: np.ndarray, risk_aversion: float = 0.0) -> tuple[float, np.ndarray]:
        """mean(R) - risk_aversion * sd(R) over the draws, and its gradient in spend."""
        r = self(spend)
        total = r.sum(axis=1)
        g = self.slope(spend)
        u, grad = total.mean(), g.mean(axis=0)
        if risk_aversion:
            sd = total.std()
            if sd > 0:
                u -= risk_aversion * sd
                grad = grad - risk_aversion * ((total - total.mean()) @ (g - grad)) / len(total) / sd
        return float(u), grad


def optimize(resp: Response, budget: float, lower: np.ndarray, upper: np.ndarray, risk_aversion: float = 0.0,
             start: np.ndarray | None = None) -> np.ndarray:
    """The allocation (channels,) of ``budget`` per period within [lower, upper] with the
    highest utility. Locked channels have lower == upper."""
    lower, upper = np.asarray(lower, float), np.asarray(upper, float)
    if lower.sum() > budget + 1e-9 or upper.sum() < budget - 1e-9:
        raise ValueError(f"the bounds allow a total of {lower.sum():,.2f} to {upper.sum():,.2f}, not {budget:,.2f}")
    free = upper > lower
    if not free.any() or np.isclose(lower.sum(), budget):
        return lower.copy()
    span = upper[free] - lower[free]
    rest = budget - lower.sum()
    starts = [lower[free] + rest * span / span.sum(), lower[free] + np.minimum(span, rest / free.sum())]
    if start is not None:
        starts.append(np.clip(np.asarray(start, float)[free], lower[free], upper[free]))
    k = free.sum()
    starts += [lower[free] + np.minimum(span, rest * np.eye(k)[i]) for i in range(k)]  # one channel first

    def full(x):
        b = lower.copy()
        b[free] = x
        return b

    def neg(x):
        u, g = resp.utility(full(x), risk_aversion)
        return -u, -g[free]

    best = None
    for x0 in starts:
        x0 = x0 + (rest - (x0 - lower[free]).sum()) * span / span.sum()  # on the budget line
        x0 = np.clip(x0, lower[free], upper[free])
        r = minimize(neg, x0, jac=True, method="SLSQP", bounds=list(zip(lower[free], upper[free], strict=True)),
                     constraints=[{"type": "eq", "fun": lambda x: x.sum() - budget + lower[~free].sum(),
                                   "jac": lambda x: np.ones_like(x)}], options={"ftol": 1e-12, "maxiter": 500})
        x = np.clip(r.x, lower[free], upper[free])
        if best is None or neg(x)[0] < neg(best)[0]:
            best = x
    return full(best)


def brute_force(resp: Response, budget: float, lower: np.ndarray, upper: np.ndarray, steps: int = 200,
                risk_aversion: float = 0.0) -> np.ndarray:
    """The best allocation on a grid (2 or 3 channels): the optimizer's check."""
    k = len(lower)
    if k not in (2, 3):
        raise ValueError("brute force is for 2 or 3 channels")
    g = np.linspace(0, budget, steps + 1)
    if k == 2:
        cand = np.column_stack([g, budget - g])
    else:
        a, b = np.meshgrid(g, g, indexing="ij")
        keep = a + b <= budget + 1e-12
        cand = np.column_stack([a[keep], b[keep], budget - a[keep] - b[keep]])
    cand = cand[((cand >= lower - 1e-12) & (cand <= upper + 1e-12)).all(axis=1)]
    u = np.array([resp.utility(c, risk_aversion)[0] for c in cand])
    return cand[int(np.argmax(u))]


def budget_for_target(resp: Response, target: float, lower: np.ndarray, upper: np.ndarray,
                      risk_aversion: float = 0.0, tol: float = 1e-4) -> tuple[float, np.ndarray]:
    """The largest budget per period whose optimal allocation still returns ``target`` KPI per
    unit of spend (target ROAS; a target CPA is 1 / CPA), and that allocation."""
    lo_b, hi_b = float(np.sum(lower)), float(np.sum(upper))

    def roas(b: float) -> tuple[float, np.ndarray]:
        x = optimize(resp, b, lower, upper, risk_aversion)
        return resp.utility(x, risk_aversion)[0] / b if b > 0 else np.inf, x

    grid = np.linspace(max(lo_b, hi_b * 1e-3), hi_b, 41)
    ok = [b for b in grid if roas(b)[0] >= target]
    if not ok:
        raise ValueError(f"no budget within the bounds returns {target:,.4g} per unit of spend (at "
                         f"{grid[0]:,.2f} it is {roas(grid[0])[0]:,.4g})")
    a = max(ok)
    b = min([g for g in grid if g > a], default=a)
    while b - a > tol * max(a, 1.0):  # bisection between the last grid point that meets it and the next
        mid = 0.5 * (a + b)
        a, b = (mid, b) if roas(mid)[0] >= target else (a, mid)
    return a, roas(a)[1]


__all__ = ["Response", "brute_force", "budget_for_target", "optimize"]
