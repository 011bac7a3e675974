"""Driver regression: planted effects are recovered by partial dependence, the model
comparison picks the model whose form matches the truth, a KPI without drivers is said to
have none, the engine builds the rows as pandas would (DuckDB and Spark), and the demo's
planted CPC per channel comes back."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from mercator.errors import MercatorError
from mercator.forecast import driver_frame, drivers
from mercator.interfaces.cli import app
from mercator.metrics import kpi

CPC = {"paid_search": 1.10, "paid_social": 0.70, "display": 0.45, "video": 0.60}
DEVICE = {"desktop": 1.0, "mobile": 0.8, "tablet": 0.9}


def _planted(days: int = 730, form: str = "multiplicative", seed: int = 0) -> pd.DataFrame:
    """ad_performance rows (day x channel x device) whose CPC has planted drivers. Budgets are
    set in advance (a channel level, a season, day-to-day moves); the auction answers with a CPC:

    - multiplicative: channel level x device factor (mobile 0.8) x weekend 1.15 x
      (spend / 100) ^ 0.3 x noise: an elasticity of 0.3, separable, so each driver's partial
      dependence ratio is its planted factor;
    - additive: channel level - 0.15 on mobile + 0.10 at weekends + 0.12 ln(spend / 100) + noise;
    - none: a CPC per channel and noise, nothing else.
    """
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2023-01-02", periods=days)
    d, c, v = (a.ravel() for a in np.meshgrid(np.arange(days), np.arange(4), np.arange(3), indexing="ij"))
    ch, dev = np.array(list(CPC))[c], np.array(list(DEVICE))[v]
    spend = (np.array([400, 250, 150, 200])[c] * np.array([1.8, 1.8, 0.4])[v]
             * (1 + 0.2 * np.sin(2 * np.pi * d / 365.25)) * rng.lognormal(0, 0.5, len(d)))
    weekend = dates[d].dayofweek >= 5
    level = np.vectorize(CPC.get)(ch)
    if form == "multiplicative":
        cpc = (level * np.vectorize(DEVICE.get)(dev) * np.where(weekend, 1.15, 1.0) * (spend / 100) ** 0.3
               * rng.lognormal(0, 0.05, len(d)))
    elif form == "additive":
        cpc = level - 0.15 * (dev == "mobile") + 0.10 * weekend + 0.12 * np.log(spend / 100) \
            + rng.normal(0, 0.03, len(d))
    else:
        cpc = level * rng.lognormal(0, 0.1, len(d))
    clicks = spend / cpc
    return pd.DataFrame({"date": dates[d], "channel": ch, "device": dev, "cost": spend, "clicks": clicks,
                         "conversions": 0.03 * clicks})


def _pd(res, model: str) -> pd.Series:
    dep = res.to_frame("dependence")
    return dep[(dep.model == model) & dep.categorical].set_index(["feature", "value"]).prediction


def test_planted_multiplicative_drivers_are_recovered():
    """Reference: the planted simulation. Boosting (which can find a product of effects) beats
    ridge (additive) and the per-segment mean; its partial dependence gives back the planted
    channel ratio (1.10 / 0.45), mobile's 0.8, the weekend's 1.15 and the spend elasticity 0.3."""
    res = drivers(data=_planted(), target="cpc")
    m = res.to_frame("models").set_index("model")
    assert res.params["chosen"] == "lightgbm"
    assert m.loc["lightgbm", "mae"] < 0.8 * m.loc["ridge", "mae"] < 0.8 * m.loc["segment_mean", "mae"]
    assert m.loc["lightgbm", "wins"] == 5
    g = _pd(res, "lightgbm")
    assert g["channel"]["paid_search"] / g["channel"]["display"] == pytest.approx(1.10 / 0.45, rel=0.05)
    assert g["device"]["mobile"] / g["device"]["desktop"] == pytest.approx(0.8, rel=0.03)
    assert g["day_of_week"]["Sat"] / g["day_of_week"]["Wed"] == pytest.approx(1.15, rel=0.03)
    assert g["month"].max() / g["month"].min() < 1.05  # no planted month effect
    e = res.to_frame("effects").set_index(["model", "feature"])
    assert e.loc[("lightgbm", "spend"), "elasticity"] == pytest.approx(0.3, abs=0.05)
    imp = res.to_frame("importance")
    assert set(imp.feature[:4]) == {"channel", "spend", "device", "day_of_week"}
    text = " ".join(f.text for f in res.findings)
    assert "lightgbm predicts CPC" in text and "per 1% more spend" in text
    assert not any(f.segment == "month" for f in res.findings)
    assert len(res.figures()) == 2


def test_linear_truth_is_left_to_ridge():
    """Reference: an additive planted truth, which ridge's form matches: ridge is chosen, and
    its partial dependence differences are the planted coefficients (-0.15 mobile, +0.10
    weekend, 0.12 per unit of log spend, channel gaps)."""
    df = _planted(form="additive")
    res = drivers(data=df, target="cpc")
    assert res.params["chosen"] == "ridge"
    g = _pd(res, "ridge")
    assert g["device"]["mobile"] - g["device"]["desktop"] == pytest.approx(-0.15, abs=0.01)
    assert g["day_of_week"]["Sun"] - g["day_of_week"]["Tue"] == pytest.approx(0.10, abs=0.01)
    assert g["channel"]["paid_search"] - g["channel"]["display"] == pytest.approx(0.65, abs=0.02)
    e = res.to_frame("effects").set_index(["model", "feature"]).loc[("ridge", "spend")]
    assert (e.at_high - e.at_low) / np.log(e.high / e.low) == pytest.approx(0.12, abs=0.01)


def test_a_kpi_without_drivers_is_said_to_have_none():
    """CPC that is a constant per channel plus noise: no model beats the per-segment mean out of
    sample, the result says so, and no calendar or spend effect is reported as a driver."""
    res = drivers(data=_planted(form="none"), target="cpc")
    m = res.to_frame("models").set_index("model")
    assert m.loc[["lightgbm", "ridge"], "rel_mae"].min() > 0.99
    text = [f.text for f in res.findings]
    assert text[0].startswith("No driver model predicts CPC better than the per-channel/device mean")
    assert not any(f.segment in ("spend", "day_of_week", "month") for f in res.findings)


def test_engine_rows_equal_pandas(ws):
    """The rows built in the engine (DuckDB and Spark) equal a pandas groupby: part sums, spend
    and each level's share of spend, per day and channel."""
    df = _planted(days=60)
    table = ws.engine.stage(pa.Table.from_pandas(df))
    try:
        frame, design, _ = driver_frame(table, kpi("cpc"), by=("channel",))
    finally:
        ws.engine.release(table)
    assert set(design.numeric) == {f"share:device:{d}" for d in ("desktop", "mobile", "tablet")}
    assert design.categorical == ("channel", "day_of_week", "month")
    ref = df.groupby(["date", "channel"]).agg(num=("cost", "sum"), den=("clicks", "sum"))
    mobile = df[df.device == "mobile"].groupby(["date", "channel"]).cost.sum() / ref.num
    got = frame.set_index(["period", "channel"]).sort_index()
    assert len(got) == 60 * 4
    np.testing.assert_allclose(got.num, ref.num.sort_index(), rtol=1e-9)
    np.testing.assert_allclose(got.den, ref.den.sort_index(), rtol=1e-9)
    np.testing.assert_allclose(got["share:device:mobile"], mobile.sort_index(), rtol=1e-9)
    assert set(got.day_of_week) == {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}


def test_demo_cpc_per_channel(demo_company):
    """The demo company plants a CPC per channel (1.10 search, 0.70 social, 0.45 display, 0.60
    video, times a lognormal(0, 0.1) noise of mean 1.005) and nothing else: the partial
    dependence on channel gives it back within 5%, channel is the leading driver, and no model
    predicts CPC better than the per-channel/device mean."""
    ws, _, _ = demo_company
    res = drivers(ws, "cpc", by=("channel", "device"))
    g = _pd(res, res.params["chosen"])["channel"]
    for ch, value in CPC.items():
        assert g[ch] == pytest.approx(1.005 * value, rel=0.05), ch
    assert res.to_frame("importance").feature.iloc[0] == "channel"
    assert res.findings[0].text.startswith("No driver model predicts CPC better than the per-channel/device mean")
    assert res.params["bids"].startswith("not in the data")


def test_bids_from_a_file_and_clear_errors(tmp_path):
    """A user's own driver (a bid column) enters the model from a file; a missing column or an
    empty feature is an error naming the file and what is wrong."""
    df = _planted(days=200, form="none")
    rng = np.random.default_rng(1)
    df["bid"] = rng.uniform(0.5, 2.0, len(df))
    df["cost"] = df.clicks * df.bid * 0.9  # the auction charges a little under the bid
    path = tmp_path / "ads.csv"
    df.to_csv(path, index=False)
    res = drivers(data=str(path), target="cpc", features=["bid"])
    assert res.to_frame("importance").feature.iloc[0] == "bid"
    assert res.params["bids"] == "given"
    e = res.to_frame("effects").set_index(["model", "feature"]).loc[(res.params["chosen"], "bid")]
    assert e.at_high / e.at_low == pytest.approx(e.high / e.low, rel=0.1)  # CPC in proportion to the bid
    with pytest.raises(MercatorError, match=r"ads\.csv: no column\(s\) budget"):
        drivers(data=str(path), target="cpc", features=["budget"])
    df.loc[5, "bid"] = np.nan  # the only row of its day, channel and device
    df.to_csv(path, index=False)
    with pytest.raises(MercatorError, match=r"feature\(s\) bid are empty for .* rows \(first: 2023-01-02"):
        drivers(data=str(path), target="cpc", features=["bid"], by=("channel", "device"))
    with pytest.raises(MercatorError, match="counted from orders"):
        drivers(data=str(path), target="revenue")


def test_cli_drivers_json(tmp_path):
    path = tmp_path / "ads.parquet"
    _planted(days=120).to_parquet(path)
    r = CliRunner().invoke(app, ["forecast", "drivers", "--data", str(path), "--target", "cpc", "--by", "channel",
                                 "--splits", "3", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["kind"] == "drivers" and doc["params"]["by"] == ["channel"]
    assert {t["model"] for t in doc["tables"]["models"]} == {"segment_mean", "lightgbm", "ridge"}
    r = CliRunner().invoke(app, ["forecast", "drivers", "--data", str(path), "--splits", "40"])
    assert r.exit_code == 2 and "40 time-ordered folds need at least" in r.output
