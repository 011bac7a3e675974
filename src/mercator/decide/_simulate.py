"""Simulated decisions with a planted best arm per context: how fast each policy learns.

The world: contexts of three attributes (device, country, segment); an arm's chance of a reward
in a context is its base rate plus one planted effect per attribute value (additive, so a linear
policy on the hashed context can represent it, while the best arm changes with the context).
Every policy meets the same contexts and the same random draws (common random numbers), makes
its decisions in batches between updates (as a server that learns from the feedback table
does), and its regret is the expected reward it gave up against the best arm of each context.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mercator.decide._bandits import Bandit
from mercator.decide._features import hashed

ATTRIBUTES = {"device": ("mobile", "desktop", "tablet"), "country": ("US", "GB", "DE", "FR"),
              "segment": ("new", "loyal", "lapsed", "vip")}


@dataclass(frozen=True)
class World:
    contexts: pd.DataFrame  # one row per distinct context: its attributes
    x: np.ndarray  # hashed vector of each context
    rates: np.ndarray  # contexts x arms: the chance of a reward
    arms: list[str]

    @property
    def best(self) -> np.ndarray:
        return self.rates.argmax(axis=1)


def planted_world(arms: int = 10, seed: int = 0, base: float = 0.05, effect: float = 0.03, dim: int = 64) -> World:
    rng = np.random.default_rng(seed)
    grid = pd.MultiIndex.from_product(ATTRIBUTES.values(), names=list(ATTRIBUTES)).to_frame(index=False)
    rates = np.full((len(grid), arms), base) + rng.uniform(-0.01, 0.01, arms)[None, :]
    for attr, values in ATTRIBUTES.items():
        eff = rng.normal(0, effect, (len(values), arms))
        rates += eff[grid[attr].map({v: i for i, v in enumerate(values)}).to_numpy()]
    rates = np.clip(rates, 0.005, 0.6)
    x = np.stack([hashed(dict(zip(grid.columns, row, strict=True)), dim) for row in grid.itertuples(index=False)])
    return World(contexts=grid, x=x, rates=rates, arms=[f"arm_{i}" for i in range(arms)])


def run(world: World, policies: dict[str, Bandit], decisions: int = 100_000, batch: int = 500, floor: float = 0.0,
        seed: int = 0) -> pd.DataFrame:
    """Each policy's cumulative expected regret after every batch (columns: policy, decisions,
    regret, reward, best_share)."""
    rng = np.random.default_rng(seed)
    ctx = rng.integers(0, len(world.contexts), decisions)
    luck = rng.random((decisions, len(world.arms)))  # the same reward draws for every policy
    best_rate = world.rates[ctx, world.best[ctx]]
    out = []
    for name, bandit in policies.items():
        choose_rng = np.random.default_rng([seed, 1])
        regret = reward = best = 0.0
        for start in range(0, decisions, batch):
            part = slice(start, min(start + batch, decisions))
            c = ctx[part]
            arms = bandit.choose_batch(choose_rng, world.x[c] if bandit.contextual else None, len(c), floor)
            r = (luck[part][np.arange(len(c)), arms] < world.rates[c, arms]).astype(float)
            bandit.update(arms, r, world.x[c] if bandit.contextual else None)
            regret += float((best_rate[part] - world.rates[c, arms]).sum())
            reward += float(r.sum())
            best += float((arms == world.best[c]).sum())
            out.append({"policy": name, "decisions": part.stop, "regret": regret, "reward": reward,
                        "best_share": best / part.stop})
    return pd.DataFrame(out)
