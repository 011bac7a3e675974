"""Experiment statistics from sufficient statistics: pure NumPy/SciPy, no I/O.

Everything here works on :class:`Aggregates`, the per-variant count, sums and sums of
products of a few columns, which the engine computes in one pass over any number of rows.
One estimator covers plain means, proportions (means of 0/1), ratio metrics (revenue per
session: the delta method) and CUPED (a pre-period covariate, the coefficient pooled over the
variants), as in Deng et al. (2013) and the tea-tasting package, whose numbers the tests match:

    metric per variant   m = mean(num) / mean(den) - theta * (mean(cnum) / mean(cden) - pooled)
    its variance         var(num/den) + theta^2 var(cnum/cden) - 2 theta cov(num/den, cnum/cden)

with ratio variances and covariances by the delta method. The absolute effect has a Welch t
(or z) interval; the relative effect an interval on the log scale (the log of a ratio of
means is close to normal much sooner than the ratio).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import scipy.stats as st


@dataclass(frozen=True)
class Aggregates:
    """Count, sums and sums of pairwise products of named columns, for one variant."""

    n: float
    sums: dict[str, float] = field(default_factory=dict)
    products: dict[tuple[str, str], float] = field(default_factory=dict)

    @classmethod
    def from_columns(cls, columns: dict[str, np.ndarray]) -> Aggregates:
        """From per-unit arrays (tests and small data; the engine builds the same sums)."""
        names = sorted(columns)
        n = len(next(iter(columns.values()))) if columns else 0
        arr = {k: np.asarray(v, float) for k, v in columns.items()}
        return cls(float(n), {k: float(arr[k].sum()) for k in names},
                   {(a, b): float(arr[a] @ arr[b]) for i, a in enumerate(names) for b in names[i:]})

    def __add__(self, other: Aggregates) -> Aggregates:
        keys = set(self.sums) | set(other.sums)
        pk = set(self.products) | set(other.products)
        return Aggregates(self.n + other.n, {k: self.sums.get(k, 0.0) + other.sums.get(k, 0.0) for k in keys},
                          {k: self.products.get(k, 0.0) + other.products.get(k, 0.0) for k in pk})

    def mean(self, col: str | None) -> float:
        return 1.0 if col is None else self.sums[col] / self.n

    def cov(self, a: str | None, b: str | None) -> float:
        """Sample covariance (n - 1 in the denominator); a constant column (None) has none."""
        if a is None or b is None or self.n < 2:
            return 0.0
        key = (a, b) if (a, b) in self.products else (b, a)
        return (self.products[key] - self.sums[a] * self.sums[b] / self.n) / (self.n - 1)

    def ratio_cov(self, a: str | None, b: str | None, c: str | None, d: str | None) -> float:
        """Delta-method covariance, per unit, of mean(a)/mean(b) and mean(c)/mean(d)."""
        r1, r2 = self.mean(a) / self.mean(b), self.mean(c) / self.mean(d)
        return (self.cov(a, c) - r1 * self.cov(b, c) - r2 * self.cov(a, d) + r1 * r2 * self.cov(b, d)) / (
            self.mean(b) * self.mean(d))


@dataclass(frozen=True)
class Metric:
    """A metric: ``num`` per unit (or, with ``den``, the ratio of their totals), optionally
    CUPED-adjusted by a pre-period ``covariate`` (``covariate_den`` for a ratio covariate)."""

    num: str
    den: str | None = None
    covariate: str | None = None
    covariate_den: str | None = None

    @property
    def columns(self) -> list[str]:
        return [c for c in (self.num, self.den, self.covariate, self.covariate_den) if c]


@dataclass(frozen=True)
class Effect:
    control: float
    treatment: float
    effect: float
    effect_lo: float
    effect_hi: float
    rel_effect: float
    rel_effect_lo: float
    rel_effect_hi: float
    se: float
    pvalue: float
    statistic: float
    control_n: float
    treatment_n: float

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def _moments(m: Metric, a: Aggregates, theta: float, pooled: float) -> tuple[float, float]:
    value = a.mean(m.num) / a.mean(m.den)
    var = a.ratio_cov(m.num, m.den, m.num, m.den)
    if m.covariate is None:
        return value, var
    cov_value = a.mean(m.covariate) / a.mean(m.covariate_den)
    cvar = a.ratio_cov(m.covariate, m.covariate_den, m.covariate, m.covariate_den)
    ccov = a.ratio_cov(m.num, m.den, m.covariate, m.covariate_den)
    return value - theta * (cov_value - pooled), var + theta * theta * cvar - 2 * theta * ccov


def _null(var_c: float, n_c: float, var_t: float, n_t: float, use_t: bool):
    """The sampling distribution of the difference of means under the null (Welch's df)."""
    scale = math.sqrt(var_c / n_c + var_t / n_t)
    if not use_t:
        return st.norm(scale=scale), scale
    vc, vt = var_c / n_c, var_t / n_t
    df = (vc + vt) ** 2 / (vc * vc / (n_c - 1) + vt * vt / (n_t - 1)) if vc + vt > 0 else n_c + n_t - 2
    return st.t(df=df, scale=scale), scale


def compare(metric: Metric, control: Aggregates, treatment: Aggregates, *, alpha: float = 0.05,
            alternative: str = "two-sided", use_t: bool = True) -> Effect:
    """Treatment against control on ``metric``: absolute and relative effect, their
    1 - alpha intervals, and the p-value (Welch t, or z with ``use_t=False``)."""
    if alternative not in ("two-sided", "greater", "less"):
        raise ValueError(f"alternative: two-sided, greater or less, not {alternative!r}")
    total = control + treatment
    theta, pooled = 0.0, 0.0
    if metric.covariate is not None:
        cvar = total.ratio_cov(metric.covariate, metric.covariate_den, metric.covariate, metric.covariate_den)
        theta = total.ratio_cov(metric.num, metric.den, metric.covariate, metric.covariate_den) / cvar if cvar else 0.0
        pooled = total.mean(metric.covariate) / total.mean(metric.covariate_den)
    mc, vc = _moments(metric, control, theta, pooled)
    mt, vt = _moments(metric, treatment, theta, pooled)
    distr, scale = _null(vc, control.n, vt, treatment.n, use_t)
    log_distr, _ = _null(vc / mc / mc, control.n, vt / mt / mt, treatment.n, use_t)
    diff, ratio = mt - mc, mt / mc
    if alternative == "two-sided":
        half, rel = distr.ppf(1 - alpha / 2), math.exp(log_distr.ppf(1 - alpha / 2))
        lo, hi, rlo, rhi = diff - half, diff + half, ratio / rel, ratio * rel
        p = 2 * distr.sf(abs(diff))
    elif alternative == "greater":
        lo, hi = diff + distr.isf(1 - alpha), math.inf
        rlo, rhi = ratio * math.exp(log_distr.isf(1 - alpha)), math.inf
        p = distr.sf(diff)
    else:
        lo, hi = -math.inf, diff + distr.ppf(1 - alpha)
        rlo, rhi = -math.inf, ratio * math.exp(log_distr.ppf(1 - alpha))
        p = distr.cdf(diff)
    return Effect(mc, mt, diff, lo, hi, ratio - 1, rlo - 1, rhi - 1, scale, float(p),
                  diff / scale if scale > 0 else math.nan, control.n, treatment.n)


def srm(counts: dict[str, float], expected: dict[str, float] | None = None) -> tuple[float, float]:
    """Sample-ratio mismatch: chi-square of the units per variant against the planned split
    (equal by default); returns (statistic, p-value). A p-value under 0.001 means the
    assignment is broken and the results are not to be trusted."""
    names = list(counts)
    obs = np.array([counts[k] for k in names], float)
    share = np.array([(expected or {}).get(k, 1.0) for k in names], float)
    res = st.chisquare(obs, obs.sum() * share / share.sum())
    return float(res.statistic), float(res.pvalue)


def adjust(pvalues: list[float] | np.ndarray, method: str = "holm", alpha: float = 0.05) -> np.ndarray:
    """Multiple-testing adjusted p-values: ``holm`` (family-wise error) or ``fdr_bh``
    (Benjamini-Hochberg, false discovery rate), by statsmodels."""
    from statsmodels.stats.multitest import multipletests

    if method not in ("holm", "fdr_bh", "bonferroni"):
        raise ValueError(f"method: holm, fdr_bh or bonferroni, not {method!r}")
    return multipletests(np.asarray(pvalues, float), alpha=alpha, method=method)[1]


__all__ = ["Aggregates", "Effect", "Metric", "adjust", "compare", "srm"]
