"""Incrementality against a counterfactual, checked on simulations with a planted effect.

CausalImpact-style (Brodersen et al. 2015): a KPI = 0.8 x control series + a random-walk level
+ noise, 100 days before and 28 after; +3 a day planted after the start. Difference in
differences: 40 geos x 52 weeks with geo and week effects, 10 treated geos, +2 planted.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mercator.errors import MercatorError
from mercator.experiment import impact
from mercator.experiment._impact import causal_impact, diff_in_diff


def _series(seed: int, effect: float, days: int = 128, start: int = 100):
    rng = np.random.default_rng(seed)
    x = np.cumsum(rng.normal(0, 1, days)) + 100
    y = 0.8 * x + np.cumsum(rng.normal(0, 0.2, days)) + rng.normal(0, 1, days)
    post = np.arange(days) >= start
    return y + effect * post, x[:, None], post


def test_causal_impact_covers_the_planted_effect_and_rarely_cries_wolf():
    """120 simulations each: the 95% interval of the cumulative effect holds the planted 84
    (28 days x 3) at least 90% of the time, and with nothing planted the effect is called
    significant at most 10% of the time. Measured over 300: 94% and 7% (without drawing the
    variances: 88%); with a constant level instead of a random walk, 99% and 1% (conservative)."""
    cover, false_pos = [], []
    for s in range(120):
        y, x, post = _series(s, 3.0)
        _, summ = causal_impact(y, x, post, draws=600, seed=s)
        cover.append(summ["cumulative_lo"] <= 84 <= summ["cumulative_hi"])
        y, x, post = _series(10_000 + s, 0.0)
        _, summ = causal_impact(y, x, post, draws=600, seed=s)
        false_pos.append(summ["pvalue"] < 0.05)
    assert np.mean(cover) >= 0.90
    assert np.mean(false_pos) <= 0.10


def _panel(seed: int, effect: float, geos: int = 40, weeks: int = 52, treated: int = 10):
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(geos), weeks)
    w = np.tile(np.arange(weeks), geos)
    y = (rng.normal(50, 10, geos)[g] + 5 * np.sin(w / 8) + rng.normal(0, 3, geos * weeks)
         + effect * ((g < treated) & (w >= 40)))
    return pd.DataFrame({"geo": g.astype(str), "week": pd.Timestamp("2024-01-01") + pd.to_timedelta(7 * w, "D"),
                         "sales": y}), {str(i) for i in range(treated)}


def test_diff_in_diff_covers_the_planted_effect():
    """200 panels: the 95% interval holds the planted +2 in 93-97.5% (clustered by geo, t with
    G - 1 df)."""
    hits = []
    for s in range(200):
        df, treated = _panel(s, 2.0)
        r = diff_in_diff(df, unit="geo", period="week", y="sales", treated=treated,
                         post_start=pd.Timestamp("2024-01-01") + pd.Timedelta(weeks=40))
        hits.append(r["effect_lo"] <= 2.0 <= r["effect_hi"])
    assert 0.93 <= np.mean(hits) <= 0.975


def test_impact_results_and_verdicts(tmp_path, duckdb_ws):
    y, x, _post = _series(1, 5.0)
    dates = pd.date_range("2024-01-01", periods=len(y))
    f = tmp_path / "kpi.csv"
    pd.DataFrame({"date": dates, "sales": y, "market": x[:, 0]}).to_csv(f, index=False)
    res = impact(str(f), date_col="date", kpi="sales", controls=["market"], post_start=dates[100],
                 criteria={"min_relative_lift": 0.02})
    s = res.to_frame("summary").iloc[0]
    assert s.cumulative_lo > 0 and s.pvalue < 0.01  # coverage is the test above; here the plumbing
    assert res.to_frame("verdict").verdict[0] == "worked" and res.figures()
    from mercator.experiment import register

    register(duckdb_ws, "spring", hypothesis="The spring campaign lifts sales 20%", primary_metric="sales",
             success_criteria={"metric": "sales", "min_relative_lift": 0.20})
    locked = impact(str(f), ws=duckdb_ws, experiment="spring", date_col="date", kpi="sales", controls=["market"],
                    post_start=dates[100])
    assert locked.to_frame("verdict").verdict[0] == "did not work"  # about +6%, shown below 20%
    df, treated = _panel(3, 2.0, geos=12)
    res = impact(df, date_col="week", kpi="sales", unit_col="geo", treated=sorted(treated), method="did",
                 post_start="2024-10-07")
    assert res.to_frame("summary").few_clusters[0] and "Fewer than 20 units" in res.findings[0].text
    with pytest.raises(MercatorError, match="at least 8 periods before"):
        impact(str(f), date_col="date", kpi="sales", post_start=dates[3])
    with pytest.raises(MercatorError, match="treated unit"):
        impact(df, date_col="week", kpi="sales", unit_col="geo", treated=["99"], method="did", post_start="2024-10-07")
