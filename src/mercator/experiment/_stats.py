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
    """Count, means and sample covariances (``covs[(a, a)]`` is a variance) of named columns,
    for one variant. Kept as means and covariances, not raw sums of squares, so 100M rows of
    revenue lose no precision (the engine computes them with Welford's update, and merging two
    groups uses the parallel formula of Chan et al.)."""

    n: float
    means: dict[str, float] = field(default_factory=dict)
    covs: dict[tuple[str, str], float] = field(default_factory=dict)

    @classmethod
    def from_columns(cls, columns: dict[str, np.ndarray]) -> Aggregates:
        """From per-unit arrays (tests and small data; the engine builds the same numbers)."""
        names = sorted(columns)
        if not names:
            return cls(0.0)
        x = np.vstack([np.asarray(columns[k], float) for k in names])
        n = x.shape[1]
        cov = np.atleast_2d(np.cov(x, ddof=1)) if n > 1 else np.zeros((len(names), len(names)))
        return cls(float(n), {k: float(m) for k, m in zip(names, x.mean(axis=1), strict=True)},
                   {(a, b): float(cov[i, j]) for i, a in enumerate(names) for j, b in enumerate(names) if j >= i})

    def __add__(self, other: Aggregates) -> Aggregates:
        n = self.n + other.n
        if not self.n or not other.n:
            return self if other.n == 0 else other
        means = {k: (self.n * self.means[k] + other.n * other.means[k]) / n for k in self.means if k in other.means}
        covs = {}
        for (a, b), c in self.covs.items():
            if (a, b) in other.covs and a in means and b in means:
                moment = (c * (self.n - 1) + other.covs[(a, b)] * (other.n - 1) + (self.means[a] - other.means[a])
                          * (self.means[b] - other.means[b]) * self.n * other.n / n)
                covs[(a, b)] = moment / (n - 1)
        return Aggregates(n, means, covs)

    def mean(self, col: str | None) -> float:
        return 1.0 if col is None else self.means[col]

    def cov(self, a: str | None, b: str | None) -> float:
        """Sample covariance (n - 1 in the denominator); a constant column (None) has none."""
        if a is None or b is None or self.n < 2:
            return 0.0
        return self.covs[(a, b)] if (a, b) in self.covs else self.covs[(b, a)]

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


def moments(m: Metric, a: Aggregates, theta: float = 0.0, pooled: float = 0.0) -> tuple[float, float]:
    """The metric's value in one group and its per-unit variance (CUPED-adjusted by ``theta``
    around the ``pooled`` covariate mean; ``theta`` 0 leaves it unadjusted)."""
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
    mc, vc = moments(metric, control, theta, pooled)
    mt, vt = moments(metric, treatment, theta, pooled)
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


#: Below this many expected events (or non-events) in an arm, a 0/1 metric is compared by a
#: score test and score interval instead of the normal approximation.
SMALL_COUNT = 10


def small_counts(x_c: float, n_c: float, x_t: float, n_t: float) -> bool:
    """Whether a 0/1 metric has fewer than ``SMALL_COUNT`` events or non-events in an arm,
    observed or expected under the pooled rate."""
    pooled = (x_c + x_t) / (n_c + n_t)
    expected = min(n_c, n_t) * min(pooled, 1 - pooled)
    observed = min(x_c, n_c - x_c, x_t, n_t - x_t)
    return min(expected, observed) < SMALL_COUNT


def compare_counts(x_c: float, n_c: float, x_t: float, n_t: float, *, alpha: float = 0.05) -> Effect:
    """Treatment against control on a rate with small counts (two-sided), where the normal
    approximation fails: the p-value of the Miettinen-Nurminen score test and the score
    interval of the ratio of rates (statsmodels), which agree by construction (the interval
    excludes 1 exactly when p < alpha); the difference gets Newcombe's hybrid Wilson interval."""
    with np.errstate(divide="ignore", invalid="ignore"):  # statsmodels divides by a zero count on the way
        return _compare_counts(round(x_c), n_c, round(x_t), n_t, alpha)


def _compare_counts(x_c: int, n_c: float, x_t: int, n_t: float, alpha: float) -> Effect:
    from statsmodels.stats.proportion import confint_proportions_2indep, test_proportions_2indep

    mc, mt = x_c / n_c, x_t / n_t
    test = test_proportions_2indep(x_t, n_t, x_c, n_c, method="score", compare="diff")
    lo, hi = confint_proportions_2indep(x_t, n_t, x_c, n_c, method="newcomb", compare="diff", alpha=alpha)
    if x_c == 0:  # no event in the control: the ratio is unbounded above
        rlo, rhi = (confint_proportions_2indep(x_t, n_t, x_c, n_c, method="score", compare="ratio", alpha=alpha)[0]
                    if x_t else 0.0), math.inf
    else:
        rlo, rhi = confint_proportions_2indep(x_t, n_t, x_c, n_c, method="score", compare="ratio", alpha=alpha)
    se = math.sqrt(mc * (1 - mc) / n_c + mt * (1 - mt) / n_t)
    ratio = mt / mc if mc else math.inf
    return Effect(mc, mt, mt - mc, float(lo), float(hi), ratio - 1, float(rlo) - 1, float(rhi) - 1, se,
                  float(test.pvalue), float(test.statistic), n_c, n_t)


def adjust(pvalues: list[float] | np.ndarray, method: str = "holm", alpha: float = 0.05) -> np.ndarray:
    """Multiple-testing adjusted p-values: ``holm`` (family-wise error), ``fdr_bh``
    (Benjamini-Hochberg, false discovery rate) or ``bonferroni``.

    Written here rather than calling statsmodels' multipletests, which the tests use as the
    reference: multipletests runs a full ``gc.collect()`` on every call (40 ms in a process that
    holds a model or two), and an analysis with segments calls it dozens of times."""
    if method not in ("holm", "fdr_bh", "bonferroni"):
        raise ValueError(f"method: holm, fdr_bh or bonferroni, not {method!r}")
    p = np.asarray(pvalues, float)
    m = len(p)
    if m == 0:
        return p
    if method == "bonferroni":
        return np.minimum(p * m, 1.0)
    order = np.argsort(p, kind="stable")
    ranked = p[order]
    if method == "holm":  # step down: (m - i) p_(i), running maximum from the smallest
        adj = np.maximum.accumulate((m - np.arange(m)) * ranked)
    else:  # step up: m p_(i) / i, running minimum from the largest
        adj = np.minimum.accumulate((m * ranked / np.arange(1, m + 1))[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(adj, 1.0)
    return out


__all__ = ["SMALL_COUNT", "Aggregates", "Effect", "Metric", "adjust", "compare", "compare_counts", "moments",
           "small_counts", "srm"]
