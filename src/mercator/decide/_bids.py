"""Bids that learn: bid multipliers by segment, device and hour, learned day by day in a
simulated auction, under the same guardrails as budgets.

The auction (one per cell: segment x device x block of hours): each day a cell has ``auctions``
chances to show an ad; the highest competing bid is log-normal (median ``price``, log sd
``sigma``), so a bid b wins with probability Phi((ln b - ln price) / sigma) and, in a second-
price auction, pays the competing bid: the expected cost per auction is the log-normal partial
expectation exp(mu + sigma^2 / 2) Phi((ln b - mu - sigma^2) / sigma). A won auction is a click
worth ``value_per_click``. Profit per auction is then win x value - cost, highest at a bid equal
to the value per click (truthful bidding), which gives the oracle; prices drift upward over the
horizon. Each cell's device figures (CPC, value per click) come from the workspace's ad
performance when it has them; segments and hours scale the value per click and the volume by
planted factors (stated in the docs: the real split is what the learner is there to find).

The learner is a contextual bandit over multipliers: per cell, Bayesian linear regression of
the day's profit per auction on (1, log m, (log m)^2) with forgetting, Thompson sampling over
the multipliers the guardrails allow that day (within ``max_change`` of yesterday's).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm

from mercator.decide._budget import Guardrails

SEGMENTS = {"new": 0.7, "returning": 1.0, "loyal": 1.6}  # value per click, relative
HOURS = {"00-06": (0.6, 0.3), "06-12": (1.0, 1.0), "12-18": (1.1, 1.2), "18-24": (1.3, 1.1)}  # value, volume
DEVICES = {"mobile": (0.8, 1.2, 1.5), "desktop": (1.0, 1.5, 1.0), "tablet": (0.9, 1.3, 0.3)}  # cpc, value, volume
#: the range of multipliers the learner may set
LOW, HIGH = 0.25, 4.0


@dataclass(frozen=True)
class AuctionWorld:
    """One row per cell (segment, device, hours, auctions, value_per_click, price, sigma) and
    the drift of prices over the horizon (log of the last day's over the first day's)."""

    cells: pd.DataFrame
    days: int
    drift: float

    def _price(self, day: int) -> np.ndarray:
        return self.cells.price.to_numpy() * np.exp(self.drift * day / max(self.days - 1, 1))

    def outcome(self, day: int, bid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Expected clicks and cost per auction of each cell at ``bid``."""
        mu, s = np.log(self._price(day)), self.cells.sigma.to_numpy()
        z = (np.log(bid) - mu) / s
        return norm.cdf(z), np.exp(mu + s**2 / 2) * norm.cdf(z - s)

    def expected(self, day: int, multiplier: np.ndarray) -> np.ndarray:
        """Expected profit per day of each cell."""
        win, cost = self.outcome(day, multiplier * self.base)
        return self.cells.auctions.to_numpy() * (win * self.cells.value_per_click.to_numpy() - cost)

    def observe(self, day: int, multiplier: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A day's profit per auction in each cell: clicks drawn, each click's value noisy."""
        win, cost = self.outcome(day, multiplier * self.base)
        n = self.cells.auctions.to_numpy()
        clicks = rng.poisson(n * win)
        value = self.cells.value_per_click.to_numpy()
        earned = clicks * value * (1 + rng.normal(0, 1, len(n)) / np.sqrt(np.maximum(clicks, 1)))
        paid = clicks * np.divide(cost, win, out=np.zeros_like(cost), where=win > 0)
        return (earned - paid) / n

    @property
    def base(self) -> np.ndarray:
        """The bid every cell has today (multiplier 1): the device's average value per click."""
        return self.cells.base_bid.to_numpy()

    def best(self, day: int) -> np.ndarray:
        """The oracle's multiplier per cell: bid the value per click (second price)."""
        return np.clip(self.cells.value_per_click.to_numpy() / self.base, LOW, HIGH)


def auction_world(devices: pd.DataFrame | None = None, *, days: int = 90, drift: float = 0.3,
                  auctions: float = 400.0, seed: int = 0) -> AuctionWorld:
    """Cells from per-device figures (``device``, ``cpc``, ``value_per_click``; planted ones
    when ``devices`` is None), with the planted segment and hour factors and a little noise per
    cell."""
    if devices is None or devices.empty:
        devices = pd.DataFrame([{"device": d, "cpc": c, "value_per_click": v, "volume": n}
                                for d, (c, v, n) in DEVICES.items()])
    if "volume" not in devices:
        devices = devices.assign(volume=1.0)
    rng = np.random.default_rng([seed, 8])
    rows = []
    for dev in devices.itertuples():
        for seg, sv in SEGMENTS.items():
            for hours, (hv, hn) in HOURS.items():
                rows.append({"segment": seg, "device": dev.device, "hours": hours,
                             "auctions": auctions * hn * dev.volume,
                             "value_per_click": dev.value_per_click * sv * hv * float(np.exp(rng.normal(0, 0.1))),
                             "base_bid": dev.value_per_click, "price": dev.cpc, "sigma": 0.6})
    return AuctionWorld(pd.DataFrame(rows), days, drift)


class BidLearner:
    """Thompson sampling over bid multipliers per cell (see the module's notes)."""

    _FEATURES = 3

    def __init__(self, cells: int, *, guardrails: Guardrails | None = None, discount: float = 0.97, seed: int = 0):
        self.rails = guardrails or Guardrails()
        self.discount = discount
        self.m = np.ones(cells)
        k = self._FEATURES
        self._p0 = np.broadcast_to(np.eye(k) * 1e-2, (cells, k, k)).copy()  # a vague prior
        self._p, self._b = self._p0.copy(), np.zeros((cells, k))
        self._noise = np.ones(cells)
        self._seen = 0
        self.rng = np.random.default_rng([seed, 9])

    @staticmethod
    def features(m: np.ndarray) -> np.ndarray:
        lm = np.log(m)
        return np.stack([np.ones_like(lm), lm, lm**2], axis=-1)

    def _choices(self) -> np.ndarray:
        """(cells, 9) multipliers allowed tomorrow: within max_change of today's."""
        step = np.linspace(np.log(1 - self.rails.max_change * 0.999), np.log(1 + self.rails.max_change), 9)
        return np.clip(self.m[:, None] * np.exp(step)[None, :], LOW, HIGH)

    def posterior(self) -> tuple[np.ndarray, np.ndarray]:
        cov = np.linalg.inv(self._p)
        return np.einsum("cij,cj->ci", cov, self._b), cov

    def propose(self) -> np.ndarray:
        if self.rails.kill:
            return np.ones_like(self.m)
        mean, cov = self.posterior()
        chol = np.linalg.cholesky(cov * self._noise[:, None, None] + 1e-12 * np.eye(self._FEATURES))
        theta = mean + np.einsum("cij,cj->ci", chol, self.rng.standard_normal(mean.shape))
        options = self._choices()
        value = np.einsum("cok,ck->co", self.features(options), theta)
        self.m = options[np.arange(len(options)), value.argmax(axis=1)]
        return self.m

    def observe(self, m: np.ndarray, reward: np.ndarray) -> None:
        """Learn from a day's profit per auction in each cell (discounting older days)."""
        x = self.features(m)
        d = self.discount
        self._p = d * self._p + (1 - d) * self._p0
        self._b = d * self._b
        resid = reward - np.einsum("ck,ck->c", x, self.posterior()[0])
        self._p += np.einsum("ci,cj->cij", x, x)
        self._b += x * reward[:, None]
        self._seen += 1
        # the noise of each cell's reward (the regression's scale), learned from the residuals
        w = 1.0 / min(self._seen, 20)
        self._noise = (1 - w) * self._noise + w * resid**2 if self._seen > 1 else resid**2 + 1e-12

    def best(self) -> np.ndarray:
        """The multiplier per cell the posterior mean prefers, among the allowed ones."""
        mean, _ = self.posterior()
        options = self._choices()
        return options[np.arange(len(options)), np.einsum("cok,ck->co", self.features(options), mean).argmax(axis=1)]


def run_bids(world: AuctionWorld, learner: BidLearner, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each day's expected profit of the learner, the current bids (multiplier 1) and the oracle,
    and the bid table at the end (one row per cell)."""
    rng = np.random.default_rng([seed, 10])
    rows = []
    ones = np.ones(len(world.cells))
    for day in range(world.days):
        m = learner.propose()
        learner.observe(m, world.observe(day, m, rng))
        for name, x in (("learning", m), ("static", ones), ("oracle", world.best(day))):
            rows.append({"day": day, "allocator": name, "profit": float(world.expected(day, x).sum())})
    last = world.days - 1
    final = learner.m
    bids = world.cells[["segment", "device", "hours"]].assign(
        multiplier=final, adjustment=[f"{m - 1:+.0%}" for m in final], oracle_multiplier=world.best(last),
        profit_per_day=world.expected(last, final), profit_per_day_now=world.expected(last, ones))
    return pd.DataFrame(rows), bids


def bulk_upload(bids: pd.DataFrame, campaign: str) -> pd.DataFrame:
    """The bid table in the shape of the ad platforms' bulk-upload sheets (Microsoft
    Advertising's bulk file, Google Ads Editor's import): one row per campaign x audience x
    device x ad schedule, the bid adjustment in whole percent (-30 lowers bids by 30%; a
    number, not "-30%" text, which a spreadsheet would take for a formula)."""
    return pd.DataFrame({"Campaign": campaign, "Audience segment": bids.segment, "Device": bids.device.str.title(),
                         "Ad schedule": bids.hours.map(lambda h: f"All days, {h[:2]}:00-{h[3:]}:00"),
                         "Bid adjustment": np.round((bids.multiplier - 1) * 100).astype(int)})


__all__ = ["AuctionWorld", "BidLearner", "auction_world", "bulk_upload", "run_bids"]
