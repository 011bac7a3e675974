"""The experiment statistics core against references: tea-tasting 1.14 (means, ratio metrics,
CUPED; to 1e-9), scipy's Welch t-test, scipy's chi-square (SRM), a hand-worked Holm
example; and A/A and planted-effect simulations (4,000 A/A and 2,000 planted per metric type) for the false-positive
rate, uniform p-values, interval coverage and CUPED's variance reduction of 1 - rho^2."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.stats as st

from mercator.experiment import Aggregates, Metric, adjust, compare, srm

COLS = ["revenue", "sessions", "pre_revenue", "pre_sessions"]


def _frame(n: int = 4000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"variant": rng.integers(0, 2, n), "sessions": rng.poisson(3, n) + 1})
    df["orders"] = rng.binomial(df.sessions, 0.1 + 0.02 * df.variant)
    df["revenue"] = df.orders * rng.gamma(2, 20, n)
    df["pre_revenue"] = df.revenue * 0.5 + rng.gamma(2, 10, n)
    df["pre_sessions"] = rng.poisson(3, n) + 1
    return df


def _aggs(df: pd.DataFrame) -> tuple[Aggregates, Aggregates]:
    return tuple(Aggregates.from_columns({k: df.loc[df.variant == v, k].to_numpy() for k in COLS}) for v in (0, 1))


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_equal_to_tea_tasting(alternative):
    tt = pytest.importorskip("tea_tasting", reason="the tea-tasting test extra is absent")
    df = _frame()
    metrics = {"rev": Metric("revenue"), "rev_cuped": Metric("revenue", covariate="pre_revenue"),
               "rps": Metric("revenue", "sessions"),
               "rps_cuped": Metric("revenue", "sessions", "pre_revenue", "pre_sessions")}
    exp = tt.Experiment(rev=tt.Mean("revenue", alternative=alternative),
                        rev_cuped=tt.Mean("revenue", "pre_revenue", alternative=alternative),
                        rps=tt.RatioOfMeans("revenue", "sessions", alternative=alternative),
                        rps_cuped=tt.RatioOfMeans("revenue", "sessions", "pre_revenue", "pre_sessions",
                                                  alternative=alternative),
                        rev_z=tt.Mean("revenue", use_t=False, alternative=alternative))
    ref = exp.analyze(df).to_pandas().set_index("metric")
    c, t = _aggs(df)
    for name, metric in [*metrics.items(), ("rev_z", Metric("revenue"))]:
        o = compare(metric, c, t, alternative=alternative, use_t=name != "rev_z")
        r = ref.loc[name]
        got = [o.control, o.treatment, o.effect, o.effect_lo, o.effect_hi, o.rel_effect, o.rel_effect_lo,
               o.rel_effect_hi, o.pvalue]
        want = [r.control, r.treatment, r.effect_size, r.effect_size_ci_lower, r.effect_size_ci_upper,
                r.rel_effect_size, r.rel_effect_size_ci_lower, r.rel_effect_size_ci_upper, r.pvalue]
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9, err_msg=name)


def test_welch_equals_scipy():
    df = _frame(seed=3)
    c, t = _aggs(df)
    o = compare(Metric("revenue"), c, t)
    ref = st.ttest_ind(df.revenue[df.variant == 1], df.revenue[df.variant == 0], equal_var=False)
    ci = ref.confidence_interval(0.95)
    np.testing.assert_allclose([o.statistic, o.pvalue, o.effect_lo, o.effect_hi],
                               [ref.statistic, ref.pvalue, ci.low, ci.high], rtol=1e-9)


def test_srm_and_multiple_testing():
    stat, p = srm({"a": 50_500, "b": 49_500})
    ref = st.chisquare([50_500, 49_500])
    assert (stat, p) == pytest.approx((ref.statistic, ref.pvalue))
    assert p < 0.01  # a 50.5 / 49.5 split of 100,000 units is a mismatch
    assert srm({"a": 20_000, "b": 10_000}, {"a": 2, "b": 1})[1] == pytest.approx(1.0)
    # Holm by hand: sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1, then kept monotone
    np.testing.assert_allclose(adjust([0.01, 0.04, 0.03, 0.005], "holm"), [0.03, 0.06, 0.06, 0.02])
    # Benjamini-Hochberg by hand: p * 4 / rank, then the running minimum from the top
    np.testing.assert_allclose(adjust([0.01, 0.04, 0.03, 0.005], "fdr_bh"), [0.02, 0.04, 0.04, 0.02])
    # and equal to statsmodels' multipletests on random p-values with ties and values near 1
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(0)
    for size in (1, 2, 7, 50):
        p = np.round(rng.beta(0.5, 1, size), 2)
        for how in ("holm", "fdr_bh", "bonferroni"):
            np.testing.assert_allclose(adjust(p, how), multipletests(p, method=how)[1], rtol=1e-12, err_msg=how)


def _simulate(kind: str, sims: int, n: int, effect: float, seed: int):
    """Per-simulation aggregates for control and treatment (vectorized over simulations)."""
    rng = np.random.default_rng(seed)
    out = []
    for arm, shift in ((0, 0.0), (1, effect)):
        if kind == "proportion":
            y = (rng.random((sims, n)) < 0.1 + shift).astype(float)
            cols = {"y": y}
        elif kind == "mean":
            cols = {"y": rng.lognormal(1, 1, (sims, n)) + shift}
        else:  # ratio: revenue per session
            s = rng.poisson(3, (sims, n)) + 1.0
            cols = {"y": rng.gamma(2, 5, (sims, n)) * s * (1 + shift), "s": s}
        names = sorted(cols)
        means = {k: cols[k].mean(axis=1) for k in names}
        covs = {(a, b): ((cols[a] - means[a][:, None]) * (cols[b] - means[b][:, None])).sum(axis=1) / (n - 1)
                for j, a in enumerate(names) for b in names[j:]}
        out.append([Aggregates(float(n), {k: float(means[k][i]) for k in names},
                               {key: float(v[i]) for key, v in covs.items()}) for i in range(sims)])
    return out


@pytest.mark.parametrize("kind", ["proportion", "mean", "ratio"])
def test_aa_false_positives_uniform_pvalues_and_coverage(kind):
    """A/A: 4,000 experiments of 2 x 1,000 units (the standard error of the rate is then 0.34
    points): false-positive rate 4-6%, p-values uniform
    below 0.5 (chi-square over tenths, p > 0.01). Planted effect: the 95% interval covers it 94-96%."""
    metric = Metric("y", "s") if kind == "ratio" else Metric("y")
    c, t = _simulate(kind, 4000, 1000, 0.0, seed=11)
    p = np.array([compare(metric, a, b).pvalue for a, b in zip(c, t, strict=True)])
    assert 0.04 <= (p < 0.05).mean() <= 0.06
    # uniform where decisions are made: as many p-values in each tenth of [0, 0.5] (chi-square). Above
    # that a count metric's p-values are lumpy by nature: a difference of 0 or 1 conversion gives
    # p = 1 or about 0.94 and nothing between
    assert st.chisquare(np.histogram(p, bins=5, range=(0, 0.5))[0]).pvalue > 0.01
    effect = {"proportion": 0.02, "mean": 0.5, "ratio": 0.05}[kind]
    c, t = _simulate(kind, 2000, 1000, effect, seed=12)
    truth = {"proportion": 0.02, "mean": 0.5, "ratio": 0.05 * 3 * 10}[kind]  # ratio: sum y / sum s = 10 (1 + e)
    res = [compare(metric, a, b) for a, b in zip(c, t, strict=True)]
    covered = np.mean([r.effect_lo <= truth <= r.effect_hi for r in res]) if kind != "ratio" else np.mean(
        [r.effect_lo <= 10 * effect <= r.effect_hi for r in res])
    assert 0.94 <= covered <= 0.96, covered


def test_cuped_variance_reduction_is_one_minus_rho_squared():
    """Pre-period covariate with correlation rho = 0.6: the CUPED standard error squared is
    (1 - 0.36) of the plain one, within 0.03 (Deng et al. 2013)."""
    rng = np.random.default_rng(5)
    n, rho = 50_000, 0.6
    x = rng.normal(0, 1, (2, n))
    y = rho * x + np.sqrt(1 - rho * rho) * rng.normal(0, 1, (2, n))
    c, t = (Aggregates.from_columns({"y": y[i], "x": x[i]}) for i in (0, 1))
    plain = compare(Metric("y"), c, t)
    cuped = compare(Metric("y", covariate="x"), c, t)
    assert (cuped.se / plain.se) ** 2 == pytest.approx(1 - rho * rho, abs=0.03)
