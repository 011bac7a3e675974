"""``analyze`` end to end: engine aggregates -> effects, corrections, checks and verdicts.

References: tea-tasting 1.14 on the same rows (through the engine path), statsmodels'
multipletests and its HC2 least squares for factorial contrasts, planted effects for the
guardrails, SRM, segments and verdicts, and the published Hillstrom and udacity figures
(tests/real covers nothing of this; the real-data checks are here, skipped without the data).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mercator.errors import MercatorError
from mercator.experiment import analyze, confidence_sequence
from tests.conftest import shared


def _units(n=20_000, seed=0, lift=0.0, aov_change=0.0, arms=("control", "treatment"), split=None):
    rng = np.random.default_rng(seed)
    variant = rng.choice(list(arms), n, p=split)
    k = np.array([list(arms).index(v) for v in variant])
    sessions = rng.poisson(3, n) + 1
    conv = rng.random(n) < 0.1 * (1 + lift * (k > 0))
    orders = conv * (rng.poisson(0.5, n) + 1)
    revenue = orders * rng.gamma(4, 12.5, n) * (1 + aov_change * (k > 0))
    return pd.DataFrame({"variant": variant, "sessions": sessions, "converted": conv.astype(int), "orders": orders,
                         "revenue": revenue, "pre_revenue": 0.4 * revenue + rng.gamma(2, 10, n),
                         "device": rng.choice(["mobile", "desktop", "tablet"], n)})


def test_same_numbers_as_tea_tasting_through_the_engine():
    tt = pytest.importorskip("tea_tasting", reason="the tea-tasting test extra is absent")
    df = _units(seed=1, lift=0.05)
    res = analyze(df, metrics=["revenue", "revenue/sessions", "converted"], covariate={"revenue": "pre_revenue"})
    e = res.to_frame("effects").set_index("metric")
    ref = tt.Experiment(revenue=tt.Mean("revenue", "pre_revenue"), rps=tt.RatioOfMeans("revenue", "sessions"),
                        converted=tt.Mean("converted")).analyze(df, control="control").to_pandas().set_index("metric")
    for ours, theirs in (("revenue", "revenue"), ("revenue/sessions", "rps"), ("converted", "converted")):
        got = e.loc[ours, ["control", "treatment", "effect", "effect_lo", "effect_hi", "rel_effect", "rel_effect_lo",
                           "rel_effect_hi", "pvalue"]].to_numpy(float)
        r = ref.loc[theirs]
        want = [r.control, r.treatment, r.effect_size, r.effect_size_ci_lower, r.effect_size_ci_upper,
                r.rel_effect_size, r.rel_effect_size_ci_lower, r.rel_effect_size_ci_upper, r.pvalue]
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9, err_msg=ours)
    assert res.params["proportions"] == ["converted"]
    assert e.loc["converted", "bayes"] == "beta-binomial" and e.loc["revenue", "bayes"] == "normal"


def test_several_arms_and_metrics_corrected_like_statsmodels():
    from statsmodels.stats.multitest import multipletests

    df = _units(seed=2, lift=0.08, arms=("control", "b", "c", "d"))
    for how in ("holm", "fdr_bh"):
        e = analyze(df, metrics=["converted", "revenue", "orders"], correction=how).to_frame("effects")
        assert len(e) == 9
        np.testing.assert_allclose(e.p_adjusted, multipletests(e.pvalue, method=how)[1], rtol=1e-12)
    # with a decision rule the primary metric is its own family: Holm over the arms only
    e = analyze(df, metrics=["converted", "revenue"], criteria={"metric": "converted"}).to_frame("effects")
    prim = e[e.metric == "converted"]
    np.testing.assert_allclose(prim.p_adjusted, multipletests(prim.pvalue, method="holm")[1], rtol=1e-12)
    rest = e[e.metric != "converted"]
    np.testing.assert_allclose(rest.p_adjusted, multipletests(rest.pvalue, method="holm")[1], rtol=1e-12)


def test_guardrails_non_inferiority():
    """Planted: average order value down 10% (margin 2%) fails; unchanged with many units passes;
    unchanged with few units is not shown either way."""
    bad = analyze(_units(200_000, seed=3, aov_change=-0.10), metrics=["converted"], guardrails=["revenue/orders>-0.02"])
    assert bad.to_frame("guardrails").status.tolist() == ["fail"]
    good = analyze(_units(400_000, seed=4), metrics=["converted"], guardrails=["revenue/orders>-0.05"])
    assert good.to_frame("guardrails").status.tolist() == ["pass"]
    small = analyze(_units(2_000, seed=5), metrics=["converted"], guardrails=["revenue/orders>-0.02"])
    assert small.to_frame("guardrails").status.tolist() == ["not shown"]
    # lower is better: a 20% rise in orders per unit against a 5% allowance
    up = analyze(_units(200_000, seed=6, lift=0.20), metrics=["converted"], guardrails=["orders<0.05"])
    g = up.to_frame("guardrails").iloc[0]
    assert not g.higher_is_better and g.status == "fail" and g.rule == "orders<+0.05"


def test_verdicts_follow_the_rule():
    rule = {"metric": "converted", "min_relative_lift": 0.05, "alpha": 0.05}
    ship = analyze(_units(200_000, seed=7, lift=0.15), criteria=rule).to_frame("verdict")
    assert ship.verdict.tolist() == ["ship"]
    small = analyze(_units(1_000_000, seed=8, lift=0.01), criteria=rule).to_frame("verdict")
    assert small.verdict.tolist() == ["do not ship"] and "below the minimum" in small.reason[0]
    unsure = analyze(_units(4_000, seed=9, lift=0.05), criteria=rule).to_frame("verdict")
    assert unsure.verdict.tolist() == ["inconclusive"]
    guarded = analyze(_units(200_000, seed=10, lift=0.15, aov_change=-0.2), criteria=rule | {
        "guardrails": ["revenue/orders>-0.05"]})
    assert guarded.to_frame("verdict").verdict.tolist() == ["do not ship"]
    assert guarded.recommendations[0].action == "Do not ship treatment"
    # planted sample-ratio mismatch: 52/48 on 100,000 units
    srm = analyze(_units(100_000, seed=11, lift=0.15, split=[0.52, 0.48]), criteria=rule)
    assert srm.params["srm_pvalue"] < 1e-6 and srm.to_frame("verdict").verdict.tolist() == ["invalid"]
    assert "Sample ratio mismatch" in " ".join(f.text for f in srm.findings)


def test_segments_corrected_and_heterogeneity_found():
    """Planted: the lift is on mobile only. Cochran's Q finds the difference; the per-segment
    p-values are Holm-adjusted within the breakdown."""
    from statsmodels.stats.multitest import multipletests

    df = _units(120_000, seed=12)
    mobile_t = (df.device == "mobile") & (df.variant == "treatment")
    rng = np.random.default_rng(0)
    df.loc[mobile_t, "converted"] = (rng.random(mobile_t.sum()) < 0.13).astype(int)
    res = analyze(df, metrics=["converted"], by=["device"])
    seg = res.to_frame("segments").set_index("segment")
    np.testing.assert_allclose(seg.p_adjusted, multipletests(seg.pvalue, method="holm")[1], rtol=1e-12)
    assert seg.loc["mobile", "significant"] and not seg.loc["desktop", "significant"]
    het = res.to_frame("heterogeneity").iloc[0]
    assert het.pvalue < 1e-4
    assert res.figures()


@pytest.mark.parametrize("k", [2, 3])
def test_factorial_equals_hc2_least_squares(k):
    """Each term's estimate and standard error equal a contrast of statsmodels' OLS on cell
    dummies with HC2 errors; a planted interaction is found and a null one is not."""
    import itertools

    import statsmodels.api as sm

    rng = np.random.default_rng(k)
    n = 40_000
    f = {f"f{i}": rng.choice(["off", "on"], n) for i in range(k)}
    on = {name: (v == "on").astype(float) for name, v in f.items()}
    y = 10 + 1.0 * on["f0"] + 0.5 * on["f1"] + 0.8 * on["f0"] * on["f1"] + rng.gamma(2, 2 + on["f0"], n)
    df = pd.DataFrame(f | {"y": y, "variant": "x"})
    res = analyze(df, metrics=["y"], factors=list(f), variant_col="f0").to_frame("factorial").set_index("term")
    cells = list(itertools.product(["off", "on"], repeat=k))
    cell_of = pd.Series(list(zip(*f.values(), strict=True))).map({c: i for i, c in enumerate(cells)}).to_numpy()
    fit = sm.OLS(y, np.eye(len(cells))[cell_of]).fit(cov_type="HC2")
    for order in range(1, k + 1):
        for term in itertools.combinations(range(k), order):
            w = np.array([np.prod([1 if c[i] == "on" else -1 for i in term]) / 2 ** (k - order) for c in cells])
            t = fit.t_test(w)
            name = " x ".join(f"f{i}=on" for i in term)
            assert res.loc[name, "effect"] == pytest.approx(float(t.effect[0]), rel=1e-9)
            assert res.loc[name, "se"] == pytest.approx(float(t.sd[0, 0]), rel=1e-9)
    assert res.loc["f0=on x f1=on", "effect"] == pytest.approx(0.8 + 0.0, abs=4 * res.loc["f0=on x f1=on", "se"])
    assert res.loc["f0=on x f1=on", "significant"]
    if k == 3:
        assert not res.loc["f0=on x f2=on", "significant"]


def test_sequential_intervals_and_holdout_increments():
    df = _units(30_000, seed=13, lift=0.1)
    res = analyze(df, metrics=["converted", "revenue"], sequential=True, n_target=60_000)
    e = res.to_frame("effects").set_index("metric")
    r = e.loc["converted"]
    assert (r.cs_lo, r.cs_hi) == pytest.approx(confidence_sequence(r.effect, r.se, 30_000, 60_000))
    assert r.cs_lo < r.effect_lo and r.cs_hi > r.effect_hi  # always-valid costs width
    assert r.incremental == pytest.approx(r.effect * r.treatment_n)
    assert "significant_sequential" in e.columns


def test_errors_name_the_problem(tmp_path):
    df = _units(1000)
    with pytest.raises(MercatorError, match="no variant 'ctrl'"):
        analyze(df, control="ctrl")
    with pytest.raises(MercatorError, match="only one variant"):
        analyze(df[df.variant == "control"])
    with pytest.raises(MercatorError, match="guardrail 'aov>>1'"):
        analyze(df, guardrails=["aov>>1"])
    with pytest.raises(MercatorError, match="nope.parquet: no such file"):
        analyze(str(tmp_path / "nope.parquet"))
    with pytest.raises(MercatorError, match="factor device has 3 level"):
        analyze(df, factors=["device"], variant_col="device")


def test_parquet_glob_read_in_place(tmp_path):
    df = _units(10_000, seed=14, lift=0.1)
    for i in range(4):
        df.iloc[i * 2500:(i + 1) * 2500].to_parquet(tmp_path / f"part{i}.parquet")
    a = analyze(str(tmp_path / "*.parquet"), metrics=["converted"]).to_frame("effects")
    b = analyze(df, metrics=["converted"]).to_frame("effects")
    np.testing.assert_allclose(a.pvalue, b.pvalue, rtol=1e-12)


def test_hillstrom_arms_equal_the_published_figures():
    """PROVENANCE.txt: Mens vs No E-Mail visit +7.66 pp, conversion +0.68 pp, spend +$0.77;
    Womens +4.52 pp, +0.31 pp, +$0.42; arm means Mens 0.1828 / 0.01253 / 1.423."""
    import scipy.stats as st

    path = shared("hillstrom", "hillstrom.csv")
    res = analyze(str(path), variant_col="segment", metrics=["visit", "conversion", "spend"], control="No E-Mail")
    e = res.to_frame("effects").set_index(["variant", "metric"])
    published = {("Mens E-Mail", "visit"): 0.0766, ("Mens E-Mail", "conversion"): 0.0068,
                 ("Mens E-Mail", "spend"): 0.77, ("Womens E-Mail", "visit"): 0.0452,
                 ("Womens E-Mail", "conversion"): 0.0031, ("Womens E-Mail", "spend"): 0.42}
    for key, value in published.items():
        assert round(e.loc[key, "effect"], 4 if key[1] != "spend" else 2) == value, key
    assert (round(e.loc[("Mens E-Mail", "visit"), "treatment"], 4), round(e.loc[("Mens E-Mail", "conversion"),
            "treatment"], 5), round(e.loc[("Mens E-Mail", "spend"), "treatment"], 3)) == (0.1828, 0.01253, 1.423)
    raw = pd.read_csv(path)
    ref = st.ttest_ind(raw.spend[raw.segment == "Mens E-Mail"], raw.spend[raw.segment == "No E-Mail"], equal_var=False)
    assert e.loc[("Mens E-Mail", "spend"), "pvalue"] == pytest.approx(ref.pvalue, rel=1e-9)
    assert res.params["srm_pvalue"] > 0.05 and set(e.index.get_level_values(1)) == {"visit", "conversion", "spend"}


def test_udacity_quality_problems_reported_and_cleaned():
    """PROVENANCE.txt: 3,893 rows where group and landing_page disagree and one duplicated user
    among the aligned rows; after cleaning 290,584 users, 0.1204 (145,274) vs 0.1188 (145,310),
    two-sided z-test p about 0.19 (statsmodels' proportions_ztest as the reference)."""
    from statsmodels.stats.proportion import proportions_ztest

    path = shared("udacity_ab_data", "ab_data.csv")
    kw = {"variant_col": "group", "metrics": ["converted"], "unit_col": "user_id", "exposure_col": "landing_page"}
    raw = analyze(str(path), **kw)
    checks = raw.to_frame("checks").set_index("check")
    assert checks.loc["landing_page differs from the variant's usual one", "rows"] == 3893
    assert "1,928" in checks.iloc[0].detail and "1,965" in checks.iloc[0].detail
    res = analyze(str(path), **kw, clean=True)
    assert res.to_frame("checks").set_index("check").loc["user_ids with more than one row", "rows"] == 1
    v = res.to_frame("variants").set_index("variant").units
    assert (v["control"], v["treatment"]) == (145_274, 145_310)
    e = res.to_frame("effects").iloc[0]
    assert (round(e.control, 4), round(e.treatment, 4)) == (0.1204, 0.1188)
    _, p = proportions_ztest([e.treatment * 145_310, e.control * 145_274], [145_310, 145_274])
    assert e.pvalue == pytest.approx(p, abs=0.002) and round(e.pvalue, 2) == 0.19
