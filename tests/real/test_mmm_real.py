"""The media-mix model on public simulated data with known truth (PyMC-Marketing's example
files; truth in ../shared/data/pymc_marketing/mmm_truth.json) and on Robyn's and Meridian's
demo files end to end.

Reference figures: PyMC-Marketing 0.19.2 on mmm_example, run here with its quickstart
configuration, reaches a ROAS error of 2.5% (benchmarks/mmm.py)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mercator.mmm import fit_mmm, holiday_counts, optimize_budget
from tests.conftest import shared

pytestmark = [pytest.mark.real, pytest.mark.slow]


def _truth(name: str) -> dict:
    return json.loads(shared("pymc_marketing", "mmm_truth.json").read_text())[name]


def _roas_errors(res, truth: dict) -> dict[str, float]:
    r = res.to_frame("roas").set_index("channel")["roas"]
    return {c: abs(r[c] / truth["roas"][c] - 1) for c in truth["roas"]}


@pytest.fixture(scope="module")
def mmm_example(tmp_path_factory):
    path = tmp_path_factory.mktemp("mmm") / "example.mercator-mmm"
    res = fit_mmm(shared("pymc_marketing", "mmm_example.csv"), date_col="date_week", kpi="y", channels=["x1", "x2"],
                  controls=["event_1", "event_2"], holdout=0.1, save_to=path)
    return res, path


def test_mmm_example_roas_within_1_6_percent(mmm_example):
    """True ROAS x1 4967.8, x2 2274.9: mean absolute percentage error at most 1.6%, both
    inside their 95% intervals; the sampler converged; the holdout is predicted."""
    res, _ = mmm_example
    err = _roas_errors(res, _truth("mmm_example"))
    assert np.mean(list(err.values())) <= 0.016, err
    r = res.to_frame("roas").set_index("channel")
    for c, true in _truth("mmm_example")["roas"].items():
        assert r.roas_lo[c] <= true <= r.roas_hi[c]
    fit = res.to_frame("fit").set_index("metric")["value"]
    assert fit["max_r_hat"] < 1.01 and fit["divergences"] == 0
    assert fit["r2"] > 0.9 and fit["holdout_r2"] > 0.8


def test_mmm_example_budget_regret_under_half_a_percent(mmm_example):
    """Optimal steady-state split of the historical weekly budget under the true response
    (beta 3000 and 2000, logistic lam 4 and 3, mmm_truth.json): our allocation's true response
    is within 0.5% of the true optimum."""
    _, path = mmm_example
    t = _truth("mmm_example")

    def true_response(x):
        lg = lambda s, lam: (1 - np.exp(-lam * s)) / (1 + np.exp(-lam * s))
        return 3000 * lg(x[0], 4) + 2000 * lg(x[1], 3)

    b = t["budget_weekly_B"]
    share = t["optimal_share_x1_steady_state"]
    assert true_response([share * b, (1 - share) * b]) == pytest.approx(t["steady_state_response_at_optimum"], rel=1e-4)
    x = optimize_budget(path, b).to_frame("allocation")["optimal_spend"].to_numpy()
    assert x.sum() == pytest.approx(b)
    regret = 1 - true_response(x) / t["steady_state_response_at_optimum"]
    assert regret <= 0.005, regret


def test_mmm_roas_with_the_confounder_as_control():
    """mmm_roas_data with z: ROAS error at most 12% on average and every channel within 20%
    (PyMC-Marketing, per the issue: 15.7%, worst 23%)."""
    res = fit_mmm(shared("pymc_marketing", "mmm_roas_data.csv"), date_col="date", kpi="y", channels=["x1", "x2"],
                  controls=["z"], holdout=0, save=False, adstock="geometric", saturation="logistic", warmup=500,
                  samples=500)  # 2,000 draws: the mean's Monte Carlo error is far below the 12% bound
    err = _roas_errors(res, _truth("mmm_roas"))
    assert np.mean(list(err.values())) <= 0.12 and max(err.values()) <= 0.20, err


def test_mmm_roas_without_the_confounder_warns():
    """Without z, x1 (whose spend follows z and the season) is over-credited; the result must
    say so: a confounding warning for x1, or an interval that still covers the truth."""
    res = fit_mmm(shared("pymc_marketing", "mmm_roas_data.csv"), date_col="date", kpi="y", channels=["x1", "x2"],
                  holdout=0, save=False, adstock="geometric", saturation="logistic", warmup=500, samples=500)
    r = res.to_frame("roas").set_index("channel")
    truth = _truth("mmm_roas")["roas"]["x1"]
    warned = any(f.metric == "confounding" and f.segment == "x1" for f in res.findings)
    assert warned or r.roas_lo["x1"] <= truth <= r.roas_hi["x1"]


def test_robyn_demo_end_to_end():
    """Robyn's dt_simulated_weekly (no ground truth shipped): five spend channels, competitor
    sales and newsletter as controls, events as a dummy, and German holidays from Robyn's
    Prophet holiday table (as its demo does); fits, converges, optimizes."""
    f = pd.read_csv(shared("robyn_simulated", "dt_simulated_weekly.csv"))
    f["event"] = (f["events"] != "na").astype(float)
    chans = ["tv_S", "ooh_S", "print_S", "facebook_S", "search_S"]
    holidays = shared("robyn_simulated", "dt_prophet_holidays.csv")
    res = fit_mmm(f, date_col="DATE", kpi="revenue", channels=chans, controls=["competitor_sales_B", "newsletter", "event"],
                  holidays=holidays, holiday_country="DE", holdout=0, save=False, warmup=500, samples=500,
                  adstock="geometric", saturation="logistic")
    assert "holidays" in res.params["controls"]
    # Robyn's weeks start on Mondays; the DE table has 25 and 26 December 2016 (a Sunday and a Monday)
    counts = dict(zip(f["DATE"], holiday_counts(pd.to_datetime(f["DATE"]), 7, holidays, "DE"), strict=True))
    assert counts["2016-12-19"] == 1 and counts["2016-12-26"] >= 1 and counts["2016-11-28"] == 0
    fit = res.to_frame("fit").set_index("metric")["value"]
    assert fit["r2"] > 0.8 and fit["max_r_hat"] < 1.05
    assert (res.to_frame("roas")["roas"] >= 0).all()
    b = optimize_budget(res.model, bounds={c: (0, f[c].max()) for c in chans})
    assert b.to_frame("allocation")["optimal_spend"].sum() == pytest.approx(res.model.recent_spend().sum())


def test_meridian_national_end_to_end():
    """Meridian's national_all_channels: conversions x revenue per conversion as the KPI, five
    channels, two controls and a promotion; fits and converges. The national sum is mostly
    noise (a least-squares fit on every column and a trend explains 32% of the conversions'
    variance), so the bar is to explain at least as much as that regression."""
    f = pd.read_csv(shared("meridian_simulated", "national_all_channels.csv"))
    f["revenue"] = f["conversions"] * f["revenue_per_conversion"]
    chans = [f"Channel{i}_spend" for i in range(5)]
    controls = ["competitor_sales_control", "sentiment_score_control", "Promo"]
    res = fit_mmm(f, date_col="time", kpi="revenue", channels=chans, controls=controls, holdout=0.1, save=False,
                  warmup=500, samples=500, adstock="geometric", saturation="logistic")
    x = np.column_stack([np.ones(len(f)), np.arange(len(f)), f[chans + controls].to_numpy()])
    y = f["revenue"].to_numpy()
    ols_r2 = 1 - np.var(y - x @ np.linalg.lstsq(x, y, rcond=None)[0]) / np.var(y)
    fit = res.to_frame("fit").set_index("metric")["value"]
    assert fit["r2"] >= ols_r2 and fit["max_r_hat"] < 1.05 and "holdout_r2" in fit
    assert len(res.to_frame("roas")) == 5
