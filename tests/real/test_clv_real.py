"""CLV on CDNOW against the published estimates (Fader, Hardie and Lee 2005; Fader and Hardie
2013 for Gamma-Gamma; the BTYD vignette) and against the lifetimes package."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from mercator.clv import clv_from_summary, customer_summary
from mercator.ingest import ingest
from tests.conftest import shared

pytestmark = pytest.mark.real


@pytest.fixture(scope="module")
def sample_summary(tmp_path_factory):
    """The 1/10 sample's 2,357 customers, summarized in the engine from the full CDNOW log with
    calibration to 1997-09-30 (39 weeks) and holdout to 1998-06-30 (weeks 40-78)."""
    from mercator import Workspace

    ws = Workspace(str(tmp_path_factory.mktemp("cdnow") / "ws.duckdb"))
    ingest(ws, shared("cdnow", "CDNOW_master.txt"))
    s, info = customer_summary(ws, dt.date(1997, 9, 30))
    ws.close()
    sample = pd.read_csv(shared("cdnow", "CDNOW_sample.txt"), sep=r"\s+", header=None, dtype=str)
    ids = dict(zip(sample[0], sample[1].astype(int), strict=False))  # master id -> id in the sample
    s = s[s.customer_id.isin(ids)].assign(ID=lambda d: d.customer_id.map(ids)).reset_index(drop=True)
    return s, info


def test_engine_summary_equals_the_published_summary(sample_summary):
    """cdnow_customers_summary_with_transactions.csv (x, t_x, T, zbar, rounded to 2 decimals)."""
    s, _ = sample_summary
    ref = pd.read_csv(shared("cdnow", "cdnow_customers_summary_with_transactions.csv"))
    m = s.merge(ref, on="ID", suffixes=("", "_ref"))
    assert len(m) == len(ref) == 2357
    assert (m["x"] == m["x_ref"]).all()
    np.testing.assert_allclose(m["t_x"], m["t_x_ref"], atol=0.006)
    np.testing.assert_allclose(m["T"], m["T_ref"], atol=0.006)
    np.testing.assert_allclose(m["m"], m["zbar"], atol=0.006)


def test_published_bgnbd_gamma_gamma_and_holdout(sample_summary):
    """BG/NBD r 0.2426, alpha 4.4137, a 0.7930, b 2.4262, LL -9582.43 (FHL 2005); Gamma-Gamma p 6.25,
    q 3.74, gamma 15.44 (Fader-Hardie 2013); holdout weeks 40-78: about 1,653 predicted vs 1,882
    actual repeat transactions (the issue's figures, from the BTYD vignette)."""
    s, info = sample_summary
    res = clv_from_summary(s, info)
    p = res.to_frame("params").set_index(["model", "parameter"])["value"]
    for name, want in (("r", 0.2426), ("alpha", 4.4137), ("a", 0.7930), ("b", 2.4262)):
        assert p[("bg_nbd", name)] == pytest.approx(want, rel=0.005), name
    assert p[("bg_nbd", "log_likelihood")] == pytest.approx(-9582.43, abs=0.05)
    for name, want in (("p", 6.25), ("q", 3.74), ("gamma", 15.44)):
        assert p[("gamma_gamma", name)] == pytest.approx(want, rel=0.005), name
    assert res.params["holdout_actual"] == 1882
    models = res.to_frame("models").set_index("model")
    assert models.loc["bg_nbd", "holdout_predicted"] == pytest.approx(1653, rel=0.005)
    # MBG/NBD (Batislam et al. 2007) was also fitted. Measured when written: its per-customer
    # holdout RMSE is a little lower (so "auto" picks it) but its total further off (1,577).
    assert res.params["model"] == models["holdout_rmse"].idxmin()


def test_predictions_equal_lifetimes(sample_summary):
    """Same data through lifetimes 0.11 (fitted there): expected purchases, P(alive), expected spend
    and 12-month CLV per customer equal ours within 1e-3 relative (optimizer tolerances differ)."""
    lifetimes = pytest.importorskip("lifetimes", reason="pip install 'mercator[test]' brings lifetimes")
    s, info = sample_summary
    res = clv_from_summary(s, info, horizon_months=12, discount=0.01, model="bg_nbd")
    ours = res.to_frame("customers").set_index("customer_id").loc[s.customer_id]
    bgf = lifetimes.BetaGeoFitter().fit(s["x"], s["t_x"], s["T"])
    rep = s[s["x"] > 0]
    ggf = lifetimes.GammaGammaFitter().fit(rep["x"], rep["m"])
    np.testing.assert_allclose(ours["p_alive"], bgf.conditional_probability_alive(s["x"], s["t_x"], s["T"]),
                               rtol=1e-3)
    horizon = 12 * 365.25 / 12 / 7
    np.testing.assert_allclose(ours["expected_purchases"], bgf.conditional_expected_number_of_purchases_up_to_time(
        horizon, s["x"], s["t_x"], s["T"]), rtol=1e-3)
    np.testing.assert_allclose(ours["expected_spend"], ggf.conditional_expected_average_profit(s["x"], s["m"]),
                               rtol=1e-3)
    # lifetimes steps months of 4.345 weeks; ours of 365.25 / 12 / 7 = 4.348: CLV agrees to 0.2%
    theirs = ggf.customer_lifetime_value(bgf, s["x"], s["t_x"], s["T"], s["m"], time=12, discount_rate=0.01,
                                         freq="W")
    np.testing.assert_allclose(ours["clv"], theirs, rtol=2e-3)


def test_online_retail_rfm_and_clv_end_to_end(tmp_path):
    """Real orders (PROVENANCE.txt: 4,372 customers; 4,339 have a purchase that is not a return):
    every one of them lands in exactly one RFM segment and gets a CLV; the holdout (the 13 weeks
    from 2011-09-10, the Christmas peak) is under-predicted, which docs/segment-clv.md states
    (measured when written: 3,385 predicted vs 4,483 actual)."""
    from mercator import Workspace
    from mercator.clv import fit_clv
    from mercator.segment import rfm

    ws = Workspace(str(tmp_path / "ws.duckdb"))
    ingest(ws, shared("online_retail", "online_retail.csv.gz"))
    seg = rfm(ws, save=True)
    assert seg.to_frame("segments")["customers"].sum() == 4339 == ws.count("segment_members")
    champions = seg.to_frame("segments").set_index("segment").loc["champions"]
    assert champions.share_of_revenue > 0.5  # the top R x F cell holds most of the revenue
    res = fit_clv(ws, dt.date(2011, 9, 9))
    customers = res.to_frame("customers")
    assert res.params["converged"] and len(customers) == 3370 and customers["clv"].ge(0).all()
    assert res.params["holdout_actual"] == 4483
    assert 0.6 < res.params["holdout_predicted"] / res.params["holdout_actual"] < 0.9
    ws.close()


def test_modified_bgnbd_equals_lifetimes(sample_summary):
    """MBG/NBD parameters and predictions equal lifetimes' ModifiedBetaGeoFitter on the same data."""
    lifetimes = pytest.importorskip("lifetimes", reason="pip install 'mercator[test]' brings lifetimes")
    s, info = sample_summary
    res = clv_from_summary(s, info, model="mbg_nbd")
    ours = res.to_frame("customers").set_index("customer_id").loc[s.customer_id]
    mbg = lifetimes.ModifiedBetaGeoFitter().fit(s["x"], s["t_x"], s["T"])
    p = res.to_frame("params").set_index(["model", "parameter"])["value"]
    for name in ("r", "alpha", "a", "b"):
        assert p[("mbg_nbd", name)] == pytest.approx(mbg.params_[name], rel=1e-4)
    np.testing.assert_allclose(ours["p_alive"], mbg.conditional_probability_alive(s["x"], s["t_x"], s["T"]),
                               rtol=1e-3)
    np.testing.assert_allclose(ours["expected_purchases"], mbg.conditional_expected_number_of_purchases_up_to_time(
        12 * 365.25 / 12 / 7, s["x"], s["t_x"], s["T"]), rtol=1e-3)


def test_pareto_nbd_published_and_lifetimes(sample_summary):
    """Pareto/NBD on the CDNOW sample: r 0.55, alpha 10.58, s 0.61, beta 11.67, LL -9595.0 (Fader,
    Hardie and Lee 2005, published to 2 decimals: within 1%), and the same predictions as
    lifetimes' ParetoNBDFitter within 1e-3 relative."""
    s, info = sample_summary
    res = clv_from_summary(s, info, model="pareto_nbd", compare=("bg_nbd", "pareto_nbd"))
    p = res.to_frame("params").set_index(["model", "parameter"])["value"]
    for name, want in (("r", 0.55), ("alpha", 10.58), ("s", 0.61), ("beta", 11.67)):
        assert p[("pareto_nbd", name)] == pytest.approx(want, rel=0.01), name
    assert p[("pareto_nbd", "log_likelihood")] == pytest.approx(-9595.0, abs=0.05)
    lifetimes = pytest.importorskip("lifetimes", reason="pip install 'mercator[test]' brings lifetimes")
    ours = res.to_frame("customers").set_index("customer_id").loc[s.customer_id]
    pnbd = lifetimes.ParetoNBDFitter().fit(s["x"], s["t_x"], s["T"])
    np.testing.assert_allclose(ours["p_alive"], pnbd.conditional_probability_alive(s["x"], s["t_x"], s["T"]),
                               rtol=1e-3)
    np.testing.assert_allclose(ours["expected_purchases"], pnbd.conditional_expected_number_of_purchases_up_to_time(
        12 * 365.25 / 12 / 7, s["x"], s["t_x"], s["T"]), rtol=1e-3)
