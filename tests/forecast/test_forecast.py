"""Forecasts: Mercator only wraps statsforecast (same numbers), ratio KPIs come from their
parts, and on the demo company the planted weekly pattern, the planted yearly peak of weekly
revenue and the planted mobile incident (a level shift) are forecast inside the intervals,
the shift noted as a break."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mercator.errors import MercatorError
from mercator.forecast import backtest, forecast, kpi_series, pace
from mercator.interfaces.cli import app


def _series(n_series=3, days=400, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    rows = []
    for i in range(n_series):
        lam = rng.uniform(20, 80) * (1 + 0.3 * np.sin(2 * np.pi * t / 7 + i)) * (1 + 0.001 * t)
        rows.append(pd.DataFrame({"campaign": f"c{i}", "date": pd.date_range("2024-01-01", periods=days),
                                  "clicks": rng.poisson(lam).astype(float)}))
    return pd.concat(rows, ignore_index=True)


def test_same_numbers_as_statsforecast():
    """The forecast of each series is statsforecast's own for the model chosen; the backtest
    errors are statsforecast's cross-validation errors."""
    from statsforecast import StatsForecast

    from mercator.forecast._models import model_set, yearly_terms

    df = _series()
    res = forecast(data=df, date_col="date", value_col="clicks", by="campaign", horizon=14, n_jobs=1)
    fc, bt = res.to_frame("forecast"), res.to_frame("backtest").set_index("unique_id")
    long = df.rename(columns={"campaign": "unique_id", "date": "ds", "clicks": "y"})
    models = {m.alias: m for m in model_set("D", 400)}
    for uid, part in long.groupby("unique_id"):
        name = bt.loc[uid, "model"]
        x = None
        if name == "harmonic":  # the harmonic regression takes the year's Fourier pair as regressors
            future = pd.DataFrame({"unique_id": uid, "ds": pd.date_range(part.ds.max(), periods=15)[1:]})
            part, x = yearly_terms(part), yearly_terms(future)
        ref = StatsForecast(models=[models[name]], freq="D", n_jobs=1).forecast(df=part, h=14, level=[80, 95],
                                                                                 X_df=x)
        ours = fc[fc.unique_id == uid]
        np.testing.assert_allclose(ours["mean"], ref[name], rtol=1e-9)
        np.testing.assert_allclose(ours["lo_95"], ref[f"{name}-lo-95"], rtol=1e-9)
        np.testing.assert_allclose(ours["hi_80"], ref[f"{name}-hi-80"], rtol=1e-9)
        cv = StatsForecast(models=[models[name], models["seasonal_naive"]], freq="D", n_jobs=1).cross_validation(
            df=part, h=14, n_windows=3, step_size=14, level=[80, 95])
        rel = (cv.y - cv[name]).abs().mean() / (cv.y - cv.seasonal_naive).abs().mean()
        assert bt.loc[uid, "rel_mae"] == pytest.approx(rel, rel=1e-9)
        assert bt.loc[uid, "coverage_95"] == pytest.approx(((cv.y >= cv[f"{name}-lo-95"])
                                                            & (cv.y <= cv[f"{name}-hi-95"])).mean())
    assert res.figures() and len(fc) == 3 * 14


def test_ratio_kpis_come_from_their_parts(demo_company):
    ws, _, _ = demo_company
    cpa = forecast(ws, "cpa", horizon=14).to_frame("forecast")
    cost = forecast(ws, "cost", horizon=14).to_frame("forecast")
    conv = forecast(ws, "conversions", horizon=14).to_frame("forecast")
    np.testing.assert_allclose(cpa["mean"], cost["mean"] / conv["mean"], rtol=1e-9)
    assert (cpa.lo_95 <= cpa["mean"]).all() and (cpa["mean"] <= cpa.hi_95).all() and (cpa.lo_95 >= 0).all()


def test_demo_level_shift_and_weekly_pattern(demo_company):
    """Planted: mobile CVR falls from truth's incident date (mobile conversions drop by about
    60%), and weekends carry 10% fewer impressions. A forecast made six weeks after the
    incident notes it as a break within 3 days and holds what followed in its 95% intervals
    at least 90% of the time; the impressions forecast keeps the weekend dip."""
    ws, truth, _ = demo_company
    incident = pd.Timestamp(truth["ad_performance"]["mobile_cvr_incident"]["from_date"])
    until = incident + pd.Timedelta(days=42)
    res = forecast(ws, "conversions", by="device", horizon=28, until=until)
    brk = res.to_frame("breaks").set_index("unique_id")
    assert abs((pd.Timestamp(brk.loc["mobile", "date"]) - incident).days) <= 3
    assert brk.loc["mobile", "change"] < -0.4
    assert any("break in conversions" in f.text for f in res.findings)
    actual, _ = kpi_series(ws, "conversions", by="device")
    j = res.to_frame("forecast").merge(actual, on=["unique_id", "ds"])
    assert len(j) == 3 * 28
    assert ((j.num >= j.lo_95) & (j.num <= j.hi_95)).mean() >= 0.90
    imp = forecast(ws, "impressions", horizon=28, until=until).to_frame("forecast")
    weekend = imp.ds.dt.weekday >= 5
    assert imp.loc[weekend, "mean"].mean() / imp.loc[~weekend, "mean"].mean() == pytest.approx(0.90, abs=0.04)


def test_demo_yearly_peak_of_weekly_revenue(demo_company):
    """Planted: holiday weeks (weeks 46, 47, 50, 51 and 0 of each year) add 40,000 to weekly
    revenue, and promotions (12% of weeks) 30,000. With the workspace's promotions and holidays
    as regressors, forecast from 13 weeks before the end of the third year: the peak weeks are
    forecast 15,000 above the other weeks. Only 9 of the 13 weeks' actuals fall inside the 95%
    interval (MSTL, chosen by the backtest, ignores the regressors, and the series also moves
    with media spend): the test holds that figure, docs/forecast.md reports it as a gap."""
    from mercator.forecast import media_controls

    ws, truth, _ = demo_company
    k = ws.table("kpi_series")
    weekly = k.filter(k.kpi == "revenue")
    full = weekly.to_pandas().sort_values("period")
    until = full.period.iloc[-14]
    res = forecast(data=weekly, date_col="period", value_col="value", freq="W", horizon=13, until=until,
                   regressors=media_controls(ws))
    assert res.params["regressors"] == ["holiday", "promotion"]
    fc = res.to_frame("forecast").merge(full.rename(columns={"period": "ds"})[["ds", "value"]], on="ds")
    assert len(fc) == 13
    assert ((fc.value >= fc.lo_95) & (fc.value <= fc.hi_95)).mean() >= 9 / 13
    week = ((fc.ds - pd.Timestamp(truth["start"])).dt.days // 7) % 52
    peak = week.isin([0, 46, 47, 50, 51])
    assert peak.any() and fc.loc[peak, "mean"].mean() > fc.loc[~peak, "mean"].mean() + 15_000


def test_pace_and_errors(demo_company, tmp_path):
    ws, _, _ = demo_company
    res = pace(ws, "cpa", target=30, end="2026-01-31")
    row = res.to_frame("pace").iloc[0]
    assert row.lo_95 <= row.landing <= row.hi_95 and row.gap == pytest.approx(row.landing / 30 - 1)
    assert "at the current pace" in res.findings[0].text
    with pytest.raises(MercatorError, match="needs at least"):
        forecast(data=_series(1, 30), date_col="date", value_col="clicks", horizon=28)
    with pytest.raises(MercatorError, match="unknown model"):
        forecast(data=_series(1), date_col="date", value_col="clicks", models="prophet")
    with pytest.raises(MercatorError, match="no column"):
        forecast(data=_series(1), date_col="day", value_col="clicks")


def test_cli_json(tmp_path):
    runner = CliRunner()
    f = tmp_path / "clicks.csv"
    _series(2).to_csv(f, index=False)
    out = runner.invoke(app, ["forecast", "--data", str(f), "--value-col", "clicks", "--by", "campaign", "--horizon",
                              "14", "--json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert doc["kind"] == "forecast" and len(doc["tables"]["forecast"]) == 28
    out = runner.invoke(app, ["forecast", "backtest", "--data", str(f), "--value-col", "clicks", "--horizon", "14",
                              "--models", "fast", "--json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert doc["kind"] == "forecast_backtest" and {r["model"] for r in doc["tables"]["scores"]} == {
        "seasonal_naive", "mstl"}
    assert backtest(data=_series(1), date_col="date", value_col="clicks", horizon=14).params["models"][0] == \
        "seasonal_naive"


def test_counts_are_never_forecast_below_zero(tmp_path):
    """Issue 18, item 16: a low daily count (Poisson, mean 2) gets model bands that reach below
    zero; shown forecasts and bands of a never-negative series start at zero, while a series
    with negative values (net revenue after returns) keeps its band."""
    rng = np.random.default_rng(9)
    days = pd.date_range("2024-01-01", periods=200, freq="D")
    counts = tmp_path / "conversions.csv"
    pd.DataFrame({"date": days, "conversions": rng.poisson(2, 200)}).to_csv(counts, index=False)
    res = forecast(data=str(counts), value_col="conversions", horizon=14, models="fast")
    fc = res.to_frame("forecast")
    assert (fc[["mean", "lo_80", "hi_80", "lo_95", "hi_95"]] >= 0).all().all()
    assert (fc.lo_95 == 0).any()  # the band did reach below zero before the floor
    net = tmp_path / "net.csv"
    pd.DataFrame({"date": days, "revenue": rng.normal(1, 3, 200)}).to_csv(net, index=False)
    assert (forecast(data=str(net), value_col="revenue", horizon=14, models="fast").to_frame("forecast").lo_95 < 0).any()


def _trend_week_year(seed: int, days: int = 400) -> pd.DataFrame:
    """Issue 18, item 15: a daily KPI with a trend, a weekly and a yearly season and 5% noise."""
    rng = np.random.default_rng(seed)
    d = pd.date_range("2024-01-01", periods=days)
    t = np.arange(days)
    truth = (1000 + 0.6 * t) * (1 + 0.12 * np.sin(2 * np.pi * (d.dayofweek + seed) / 7)) * (
        1 + 0.12 * np.sin(2 * np.pi * (d.dayofyear + 40 * seed) / 365.25))
    return pd.DataFrame({"series": f"s{seed}", "date": d, "value": truth * (1 + 0.05 * rng.normal(size=days))})


def test_trend_weekly_and_yearly_season_beat_naive_out_of_sample():
    """Reference: MASE (Hyndman and Koehler 2006) on the 28 days after the history, scaled by
    the history's weekly seasonal-naive error. Without the harmonic regression (AutoARIMA with
    the year as a Fourier pair, FPP3 12.1) the best of the other models reached about 1.0 on
    such series (measured: 0.94 median, 1.08 worst of six; with it 0.90 and 0.97); the chosen
    models must stay below 1 on the held-out days of every series."""
    full = pd.concat([_trend_week_year(s, 428) for s in range(6)], ignore_index=True)
    hist = full.groupby("series").head(400)
    res = forecast(data=hist, date_col="date", value_col="value", by="series", horizon=28, n_jobs=2)
    bt = res.to_frame("backtest")
    assert "mase" in bt.columns and bt.mase.notna().all()
    fc = res.to_frame("forecast").merge(full.rename(columns={"series": "unique_id", "date": "ds"}),
                                        on=["unique_id", "ds"])
    mase = {}
    for uid, f in fc.groupby("unique_id"):
        y = hist[hist.series == uid].value.to_numpy()
        mase[uid] = float(np.mean(np.abs(f.value - f["mean"])) / np.mean(np.abs(y[7:] - y[:-7])))
    assert max(mase.values()) < 1, mase
    assert (bt.model == "harmonic").sum() >= 3, bt[["unique_id", "model", "mase"]]
    assert "MASE" in " ".join(f.text for f in res.findings)
