"""Budgets that learn: a day-by-day allocator over the media-mix model's response curves, its
guardrails, and the simulated world it is proved in.

The allocator (``BudgetAllocator``) starts from the media-mix model's optimum and learns how
far each channel's real response sits from the model's curve: the day's KPI is modelled as
``sum_c theta_c * g_c(spend_c)``, where ``g_c`` is the posterior-mean daily response curve of
channel c, with a Gaussian prior ``theta ~ N(1, prior_sd^2)`` (the model is right on average)
and Bayesian linear regression on the observed days, discounted so that old days weigh less
(a drifting response is followed). Each day it draws ``theta`` from the posterior (Thompson
sampling over budget shares), allocates the budget that is best under that draw, and moves
toward it only as far as the guardrails allow. This is written here, not taken from a
library, because no bandit library optimizes a continuous allocation under response curves
(MABWiser, Vowpal Wabbit and obp choose among discrete arms).

The world (``BudgetWorld``) is one posterior draw of the same model taken as the truth, with
each channel's effect drifting linearly over the horizon (the channels that earn the most at
the start lose the most), observed with noise. The oracle knows the truth of every day; the
static allocation is the media-mix optimum held for the whole horizon.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mercator.errors import BadParameter
from mercator.mmm import Response, optimize

#: draws of the model's posterior the allocator optimizes over each day (enough for a smooth
#: mean curve; all draws are used for the features)
_DRAWS = 200


def daily(resp: Response, period_days: float) -> Response:
    """The response to a spend per day, from curves fitted to periods of ``period_days`` days:
    R_day(s) = R_period(s * p) / p, i.e. the scale and the effect both divided by p."""
    return Response(resp.channels, resp.kind, resp.beta / period_days, resp.params, resp.scale / period_days)


def _draws(resp: Response, index) -> Response:
    return Response(resp.channels, resp.kind, resp.beta[index], {k: v[index] for k, v in resp.params.items()},
                    resp.scale)


def _scaled(resp: Response, theta: np.ndarray) -> Response:
    return Response(resp.channels, resp.kind, resp.beta * theta, resp.params, resp.scale)


@dataclass(frozen=True)
class Guardrails:
    """What the allocator may do on its own.

    - ``max_change``: the largest move of a channel's daily spend in one day, as a share of
      its spend (a channel near zero may move by that share of 2% of the budget);
    - ``caps``: the most a channel may spend per day;
    - ``min_share``: the least share of the budget every channel keeps, so that the allocator
      keeps seeing how each one responds (a channel at zero tells nothing);
    - ``approval_above``: a channel's move larger than this (currency per day) waits for a
      person; with ``auto_approve`` it is applied and logged as approved;
    - ``kill``: the kill switch, thrown by hand: the approved plan (the media-mix optimum) is
      restored and nothing moves until it is reset;
    - ``kill_below``: the switch throws itself when the last 7 days earned less than this share
      of what the approved plan was expected to earn.
    """

    max_change: float = 0.2
    min_share: float = 0.05
    caps: dict[str, float] = field(default_factory=dict)
    approval_above: float | None = None
    auto_approve: bool = False
    kill: bool = False
    kill_below: float = 0.5

    def __post_init__(self):
        if not 0 < self.max_change <= 1:
            raise BadParameter(f"max_change must be in (0, 1]; got {self.max_change}")
        if not 0 <= self.min_share < 1:
            raise BadParameter(f"min_share must be in [0, 1); got {self.min_share}")
        if self.approval_above is not None and self.approval_above <= 0:
            raise BadParameter(f"approval_above must be positive; got {self.approval_above}")
        if not 0 <= self.kill_below < 1:
            raise BadParameter(f"kill_below must be in [0, 1); got {self.kill_below}")

    def upper(self, channels: tuple[str, ...], budget: float) -> np.ndarray:
        unknown = sorted(set(self.caps) - set(channels))
        if unknown:
            raise BadParameter(f"caps name channels the model does not have: {', '.join(unknown)} "
                               f"(channels: {', '.join(channels)})")
        upper = np.array([float(self.caps.get(c, budget)) for c in channels])
        if upper.sum() < budget:
            raise BadParameter(f"the caps allow {upper.sum():,.2f} per day, less than the budget {budget:,.2f}")
        return upper

    def limit(self, current: np.ndarray, target: np.ndarray, budget: float) -> tuple[np.ndarray, list[str]]:
        """The move from ``current`` toward ``target`` the rails allow, and each channel's
        status. The move is a share of the way to the target, the same for every channel, so
        the total stays the budget and every cap holds."""
        delta = target - current
        moving = np.abs(delta) > 1e-9 * max(budget, 1.0)
        if not moving.any():
            return current.copy(), ["unchanged"] * len(current)
        base = np.maximum(current, 0.02 * budget)
        share = np.ones_like(current)
        share[moving] = self.max_change * base[moving] / np.abs(delta[moving])
        step = min(1.0, float(share.min()))
        status = np.where(~moving, "unchanged", "applied").astype(object)
        status[moving & (share < 1)] = f"limited to {self.max_change:.0%} a day"
        if self.approval_above is not None:
            big = moving & (np.abs(step * delta) > self.approval_above)
            if big.any():
                if self.auto_approve:
                    status[big] = "approved"
                else:
                    step = min(step, float((self.approval_above / np.abs(delta[big])).min()))
                    status[big] = f"held for approval above {self.approval_above:,.2f} a day"
        return current + step * delta, list(status)


def parse_caps(text: str) -> dict[str, float]:
    """``"search:500,tv:1200"`` as {channel: most spend per day}."""
    caps = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, value = item.partition(":")
        try:
            caps[name.strip()] = float(value)
        except ValueError:
            raise BadParameter(f"cap {item!r}: write CHANNEL:MAX, e.g. search:500") from None
        if caps[name.strip()] < 0 or not name.strip():
            raise BadParameter(f"cap {item!r}: write CHANNEL:MAX with a channel and a spend of at least 0")
    return caps


class BudgetAllocator:
    """Thompson sampling over budget shares with the guardrails (see the module's notes).

    >>> a = BudgetAllocator(model.response(), budget=1000.0, period_days=7)
    >>> spend, changes = a.propose(day=0)      # tomorrow's spend per channel, and the change log
    >>> a.observe(spend, kpi=observed_total)   # what the day earned
    """

    #: how much of the prior a forgotten day gives back: a little, so an unobserved channel's
    #: posterior widens (and Thompson sampling tries it) without collapsing to the prior
    _ANCHOR = 0.05

    def __init__(self, curves: Response, budget: float, *, period_days: float = 7.0,
                 guardrails: Guardrails | None = None, discount: float = 0.9, prior_sd: float = 0.3,
                 seed: int = 0):
        if budget <= 0:
            raise BadParameter(f"the daily budget must be positive; got {budget}")
        if not 0 < discount <= 1:
            raise BadParameter(f"discount must be in (0, 1]; got {discount}")
        self.curves = daily(curves, period_days)
        keep = np.linspace(0, len(self.curves.beta) - 1, min(_DRAWS, len(self.curves.beta))).round().astype(int)
        self.search = _draws(self.curves, keep)
        self.channels = self.curves.channels
        self.budget = float(budget)
        self.rails = guardrails or Guardrails()
        self.upper = self.rails.upper(self.channels, self.budget)
        self.lower = np.minimum(self.rails.min_share * self.budget, self.upper)
        self.plan = optimize(self.search, self.budget, self.lower, self.upper)  # the approved plan
        self.expected = float(self.curves(self.plan).mean(axis=0).sum())  # its KPI per day
        self.current = self.plan.copy()
        self.discount = discount
        k = len(self.channels)
        self._p0 = np.eye(k) / prior_sd**2
        self._b0 = self._p0 @ np.ones(k)
        self._p, self._b = self._p0.copy(), self._b0.copy()
        self._noise = 0.1**2  # squared relative noise of a day's KPI, learned from the residuals
        self._recent: list[float] = []
        self.killed = self.rails.kill
        self.rng = np.random.default_rng([seed, 7])

    def features(self, spend: np.ndarray) -> np.ndarray:
        """Each channel's posterior-mean daily response at ``spend``."""
        return self.curves(spend).mean(axis=0)

    def posterior(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and covariance of theta (truth / model, per channel)."""
        cov = np.linalg.inv(self._p)
        return cov @ self._b, cov

    def propose(self, day: int = 0) -> tuple[np.ndarray, list[dict]]:
        """Tomorrow's spend per channel and one change-log row per channel."""
        mean, cov = self.posterior()
        if self.killed:
            new, status = self.plan.copy(), ["kill switch: the approved plan"] * len(self.channels)
        else:
            theta = np.maximum(self.rng.multivariate_normal(mean, cov), 0.05)
            target = optimize(_scaled(self.search, theta), self.budget, self.lower, self.upper, start=self.current)
            new, status = self.rails.limit(self.current, target, self.budget)
        sd = np.sqrt(np.diag(cov))
        slope = self.curves.slope(new).mean(axis=0) * mean
        rows = [{"day": day, "channel": c, "spend_before": float(b), "spend": float(a),
                 "change": float(a / b - 1) if b > 0 else (np.inf if a > 0 else 0.0), "status": s,
                 "evidence": f"response {m:.2f} x the model's (sd {v:.2f}); marginal KPI per unit {g:.3g}"}
                for c, b, a, s, m, v, g in zip(self.channels, self.current, new, status, mean, sd, slope, strict=True)]
        self.current = new
        return new, rows

    def observe(self, spend: np.ndarray, kpi) -> None:
        """Learn from a day's spend and what it earned: the KPI per channel (what each platform
        reports; it tells the channels apart) or the day's total (learns more slowly: only the
        days' differences in the mix separate the channels). Older days are discounted."""
        g = self.features(spend)
        kpi = np.atleast_1d(np.asarray(kpi, float))
        x = np.diag(g) if len(kpi) == len(g) else g[None, :]
        if len(kpi) != len(x):
            raise BadParameter(f"kpi must be the day's total or one value per channel ({len(g)}); got {len(kpi)}")
        d = self.discount
        self._p = d * self._p + (1 - d) * self._ANCHOR * self._p0
        self._b = d * self._b + (1 - d) * self._ANCHOR * self._b0
        pred = np.maximum(x @ self.posterior()[0], 1e-9)
        var = np.maximum(self._noise * pred**2, (1e-3 * self.expected) ** 2)  # noise in proportion to the KPI
        self._p += x.T @ (x / var[:, None])
        self._b += x.T @ (kpi / var)
        self._noise = max(0.9 * self._noise + 0.1 * float(np.mean(((kpi - pred) / pred) ** 2)), 1e-4)
        self._recent = (self._recent + [float(kpi.sum())])[-7:]
        if (not self.killed and len(self._recent) == 7
                and np.mean(self._recent) < self.rails.kill_below * self.expected):
            self.killed = True


@dataclass(frozen=True)
class BudgetWorld:
    """The truth of a simulation: daily curves of one posterior draw, each channel's effect
    multiplied by ``drift[day, channel]``, and the noise of a day's KPI (a share of it)."""

    truth: Response
    drift: np.ndarray
    noise: float

    @property
    def days(self) -> int:
        return len(self.drift)

    def expected(self, day: int, spend: np.ndarray) -> float:
        return float((self.truth(spend)[0] * self.drift[day]).sum())

    def observe(self, day: int, spend: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The KPI each channel reports for the day (each with its own noise)."""
        mu = self.truth(spend)[0] * self.drift[day]
        return mu * (1 + rng.normal(0, self.noise, len(mu)))

    def best(self, day: int, budget: float, lower: np.ndarray, upper: np.ndarray, start=None) -> np.ndarray:
        return optimize(_scaled(self.truth, self.drift[day]), budget, lower, upper, start=start)


def budget_world(curves: Response, budget: float, *, days: int = 90, drift: float = 0.0, noise: float = 0.05,
                 period_days: float = 7.0, seed: int = 0) -> BudgetWorld:
    """One posterior draw as the truth; with ``drift`` d, the channels that earn the most per
    unit at the media-mix optimum lose up to d of their effect by the last day and the others
    gain as much (linearly), so the optimum moves away from the model's."""
    day_curves = daily(curves, period_days)
    rng = np.random.default_rng([seed, 5])
    truth = _draws(day_curves, [int(rng.integers(len(day_curves.beta)))])
    k = len(curves.channels)
    plan = optimize(truth, budget, np.zeros(k), np.full(k, budget))
    roas = truth(plan)[0] / np.maximum(plan, 1e-9 * budget)
    direction = np.where(np.argsort(np.argsort(-roas)) < (k + 1) // 2, -1.0, 1.0)
    ramp = np.linspace(0, 1, days)[:, None]
    return BudgetWorld(truth, np.maximum(1 + drift * direction[None, :] * ramp, 0.05), noise)


def run_budget(world: BudgetWorld, allocator: BudgetAllocator, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Ninety (or ``world.days``) days of the learner, the static plan and the oracle: the daily
    frame (day, allocator, channel spend, expected KPI) and the learner's change log."""
    rng = np.random.default_rng([seed, 6])
    static = allocator.plan.copy()
    oracle = static
    rows, changes = [], []
    for day in range(world.days):
        spend, log = allocator.propose(day)
        kpi = world.observe(day, spend, rng)
        allocator.observe(spend, kpi)
        oracle = world.best(day, allocator.budget, allocator.lower, allocator.upper, start=oracle)
        changes += log
        for name, x in (("learning", spend), ("static", static), ("oracle", oracle)):
            rows.append({"day": day, "allocator": name, "kpi": world.expected(day, x),
                         **dict(zip(allocator.channels, x, strict=True))})
    return pd.DataFrame(rows), pd.DataFrame(changes)


__all__ = ["BudgetAllocator", "BudgetWorld", "Guardrails", "budget_world", "daily", "parse_caps", "run_budget"]
