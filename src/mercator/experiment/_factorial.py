"""Factorial (multivariate) tests: main effects and interactions from per-cell aggregates (pure).

In a 2^k test every unit gets one level of each of k two-level factors (subject line x send
time x banner). Each term is a contrast of the cell means, weighted equally over the other
factors:

- a main effect is the mean of the cells at a factor's second level minus the mean at its first;
- a two-way interaction is a difference in differences: how much A's effect changes when B is at
  its second level; a three-way term is the change of that change, and so on.

The weight of cell c in term S is prod_{f in S} s_f(c) / 2^(k - |S|), with s_f = +1 at the
second level and -1 at the first. Its variance is sum w_c^2 var_c / n_c, with each cell's own
variance (so unequal variances and cell sizes are fine): the HC2 sandwich variance of the same
contrast in a saturated least-squares model, which the tests check against statsmodels.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import pandas as pd
import scipy.stats as st

from mercator.experiment._stats import Aggregates, Metric, moments


def factorial_effects(cells: dict[tuple[str, ...], Aggregates], factors: Sequence[str], metric: Metric,
                      levels: dict[str, tuple[str, str]], alpha: float = 0.05) -> pd.DataFrame:
    """One row per term (every non-empty set of factors): estimate, standard error, z interval
    and p-value. ``cells`` maps a tuple of levels (in ``factors`` order) to its aggregates;
    ``levels[f]`` is (first, second) level of factor f."""
    k = len(factors)
    if len(cells) != 2 ** k:
        raise ValueError(f"a 2^{k} factorial test needs {2 ** k} cells, got {len(cells)}")
    stats = {c: moments(metric, a) + (a.n,) for c, a in cells.items()}
    z = st.norm.ppf(1 - alpha / 2)
    rows = []
    for order in range(1, k + 1):
        for term in itertools.combinations(range(k), order):
            est = var = 0.0
            for cell, (mean, unit_var, n) in stats.items():
                sign = math.prod(1 if cell[f] == levels[factors[f]][1] else -1 for f in term)
                w = sign / 2 ** (k - order)
                est += w * mean
                var += w * w * unit_var / n
            se = math.sqrt(var)
            name = " x ".join(f"{factors[f]}={levels[factors[f]][1]}" for f in term)
            rows.append({"term": name, "order": order, "metric": metric_name(metric), "effect": est,
                         "effect_lo": est - z * se, "effect_hi": est + z * se, "se": se,
                         "pvalue": float(2 * st.norm.sf(abs(est) / se)) if se > 0 else math.nan})
    return pd.DataFrame(rows)


def metric_name(metric: Metric) -> str:
    return metric.num if metric.den is None else f"{metric.num}/{metric.den}"


__all__ = ["factorial_effects", "metric_name"]
