"""Explore and diagnose against known truths: the demo company's planted incidents,
simulated series with and without planted changes, and hand-computed funnels and cohorts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mercator.diagnose import cohorts, diagnose, funnel
from mercator.explore import anomalies, breakdown, kpi_summary, trend
from mercator.explore._anomaly import band, level_shift
from mercator.ingest import ingest
from mercator.metrics import Period, event_frame, kpi_aggregates
from tests.conftest import ingest_text


@pytest.fixture(scope="module")
def demo(demo_company):
    ws, truth, _folder = demo_company
    return ws, truth


def test_planted_incidents_are_the_top_findings(demo):
    ws, truth = demo
    top = anomalies(ws).findings[:5]
    incident, fatigue = truth["ad_performance"]["mobile_cvr_incident"], truth["ad_performance"]["creative_fatigue"]
    assert top[0].metric == "cvr" and top[0].segment == "device=mobile"
    assert "mobile explains" in top[0].text
    shift = anomalies(ws).to_frame("findings").iloc[0]
    assert abs((shift.date.date() - pd.Timestamp(incident["from_date"]).date()).days) <= 3
    assert shift.before == pytest.approx(incident["cvr_before"], rel=0.1)
    assert shift.after == pytest.approx(incident["cvr_after"], rel=0.25)
    # the fatigued creative is among the five shown first (ranked by money at stake, behind the
    # fall in paid_social's spend that its lost clicks bring)
    assert any(f.metric == "ctr" and f.segment == f"creative_id={fatigue['creative_id']}" for f in top[1:])


def test_decomposition_names_mobile_with_its_true_share(demo):
    """Only mobile's CVR changed at the incident, so mobile's true share of the CVR change is 1
    (tolerance 0.15: weekly noise and the other devices' sampling variation)."""
    ws, truth = demo
    start = pd.Timestamp(truth["ad_performance"]["mobile_cvr_incident"]["from_date"]).date()
    current = Period(start, start + pd.Timedelta(days=27))
    d = diagnose(ws, "cvr", current)
    assert d.params["dimension"] == "device"
    first = d.to_frame("segments").iloc[0]
    assert first.segment == "mobile" and first.share == pytest.approx(1.0, abs=0.15)
    seg = d.to_frame("all_segments")
    for _dim, g in seg.groupby("dimension"):  # the decomposition is exact in every dimension
        assert g.contribution.sum() == pytest.approx(d.params["change"], rel=1e-9, abs=1e-12)


def test_trend_recovers_the_planted_weekly_pattern(demo):
    """The demo plants impressions 10% lower on Saturday and Sunday (demo/_generate.py): relative
    to the weekly mean that is +2.9% on weekdays and -7.4% at weekends. STL's seasonal share of
    the trend recovers each weekday within 1.5 points."""
    from mercator.explore._trend import weekday_profile

    ws, _ = demo
    t = trend(ws, "impressions").to_frame("trend").set_index("date")
    prof = weekday_profile(t)
    mean = (5 + 2 * 0.9) / 7
    for day, effect in prof.items():
        assert effect == pytest.approx((0.9 if day in ("Sat", "Sun") else 1.0) / mean - 1, abs=0.015), day
    weekly = trend(ws, "cpa", grain="week").to_frame("trend")
    assert weekly["trend"].notna().all() and len(weekly) >= 104


def test_summary_and_breakdown_are_ratios_of_sums(demo):
    ws, _ = demo
    p = Period(pd.Timestamp("2025-01-01").date(), pd.Timestamp("2025-01-28").date())
    s = kpi_summary(ws, p).to_frame("summary").set_index("kpi")
    t = ws.table("ad_performance")
    cur = t.filter((t.date >= p.start) & (t.date <= p.end)).aggregate(c=t.clicks.sum(), i=t.impressions.sum()) \
        .to_pandas().iloc[0]
    assert s.loc["ctr", "current"] == pytest.approx(cur.c / cur.i, rel=1e-12)
    # the Ibis definitions (kpi_aggregates) and the summed-parts path give the same KPIs
    inside = t.filter((t.date >= p.start) & (t.date <= p.end))
    direct = inside.aggregate(**kpi_aggregates(inside, ["ctr", "cpa", "roas"])).to_pandas().iloc[0]
    for n in ("ctr", "cpa", "roas"):
        assert s.loc[n, "current"] == pytest.approx(direct[n], rel=1e-12)
    b = breakdown(ws, ["device", "country"], p).to_frame("breakdown")
    assert len(b) == 12 and b["share_of_cost"].sum() == pytest.approx(1.0)


def _clean_series(rng, n_series: int, days: int = 365) -> list[pd.Series]:
    idx = pd.date_range("2024-01-01", periods=days, freq="D")
    weekly = 1 + 0.2 * np.sin(2 * np.pi * np.arange(days) / 7)
    lam = rng.uniform(50, 500, n_series)[:, None] * weekly[None, :]
    return [pd.Series(v, index=idx) for v in rng.poisson(lam).astype(float)]


def test_false_alarm_rate_on_clean_series_is_small():
    """Clean Poisson series with weekly seasonality: the measured false-alarm rate is stated in
    docs/explore.md (about 0.1% of days); here it must stay under 0.5%, and spurious level
    shifts under 2% of series."""
    rng = np.random.default_rng(3)
    series = _clean_series(rng, 300)
    flagged = np.mean([band(y)["anomaly"].iloc[28:].mean() for y in series])
    shifts = np.mean([level_shift(y) is not None for y in series])
    assert flagged < 0.005
    assert shifts < 0.02


def test_planted_level_shift_is_found_at_its_date():
    """A 20% drop on day 200 of Poisson series (means 50-500): found within 2 days with its
    size in 42 of 50 series when this test was written (the misses are the noisiest series)."""
    rng = np.random.default_rng(4)
    hits = 0
    for y in _clean_series(rng, 50):
        y.iloc[200:] = rng.poisson(y.iloc[200:] * 0.8)
        s = level_shift(y)
        hits += s is not None and abs((s.date - y.index[200]).days) <= 2 and s.change == pytest.approx(-0.2, abs=0.06)
    assert hits >= 40


def test_episode_is_found_with_its_start_and_end():
    """A 30% drop from day 150 to day 179 that then recovers (a bug that was fixed): start
    within 2 days and end within 3 in 36 of 50 Poisson series (means 50-500) when this test
    was written (6 missed, mostly means under 80; the rest ended a few days late); and an
    event type that appears only during days 100-130 (Poisson mean 1.5 a day, zero outside)."""
    rng = np.random.default_rng(5)
    hits = 0
    for y in _clean_series(rng, 50):
        y.iloc[150:180] = rng.poisson(y.iloc[150:180] * 0.7)
        s = level_shift(y)
        hits += (s is not None and s.end is not None and abs((s.date - y.index[150]).days) <= 2
                 and abs((s.end - y.index[179]).days) <= 3)
    assert hits >= 33
    idx = pd.date_range("2024-01-01", periods=200, freq="D")
    found = 0
    for _ in range(20):
        y = pd.Series(0.0, index=idx)
        y.iloc[100:131] = rng.poisson(1.5, 31)
        s = level_shift(y, counts=True)
        found += (s is not None and s.before == 0 and abs((s.date - idx[100]).days) <= 4
                  and s.end is not None and abs((s.end - idx[130]).days) <= 4)
    assert found >= 18


def test_counts_band_does_not_flag_poisson_noise_near_zero():
    """Small counts (Poisson means 0.3-3, as for rare event types): a normal band would flag many
    days; the Poisson floor keeps false alarms under 0.1% of days."""
    rng = np.random.default_rng(6)
    idx = pd.date_range("2024-01-01", periods=365, freq="D")
    rates = [band(pd.Series(rng.poisson(lam, 365).astype(float), index=idx), counts=True)["anomaly"].iloc[28:].mean()
             for lam in rng.uniform(0.3, 3, 200)]
    assert np.mean(rates) < 0.001


EVENTS = """event_id,user_id,ts,event_name,device
1,u1,2024-01-01 10:00:00,view,mobile
2,u1,2024-01-01 10:05:00,cart,mobile
3,u1,2024-01-01 11:00:00,buy,mobile
4,u2,2024-01-01 09:00:00,view,desktop
5,u2,2024-01-03 09:00:00,cart,desktop
6,u3,2024-01-02 12:00:00,cart,desktop
7,u3,2024-01-02 12:30:00,view,desktop
8,u3,2024-01-02 13:00:00,cart,desktop
9,u3,2024-01-02 14:00:00,buy,desktop
10,u4,2024-01-08 08:00:00,view,mobile
11,u4,2024-01-08 08:01:00,buy,mobile
12,u1,2024-01-09 10:00:00,view,mobile
13,u5,2024-01-15 10:00:00,view,desktop
"""


@pytest.fixture(scope="module")
def events_ws(module_ws, tmp_path_factory):
    """The rows above on each engine, loaded once for the module's tests."""
    return ingest_text(module_ws, tmp_path_factory.mktemp("events"), EVENTS, "events")


def test_funnel_equals_hand_count(events_ws):
    """By hand, window 1 day: view 5 users (u1..u5); cart after view within a day: u1, u3
    (u2's cart is 2 days later; u3's earlier cart does not count); buy after cart: u1, u3."""
    f = funnel(events_ws, ["view", "cart", "buy"], window="1d", by="device")
    assert f.to_frame("steps")["users"].tolist() == [5, 2, 2]
    seg = f.to_frame("by_segment").set_index(["segment", "step"])["users"]
    assert seg[("mobile", "view")] == 2 and seg[("mobile", "cart")] == 1 and seg[("desktop", "cart")] == 1
    assert f.params["median_seconds_to_convert"] == pytest.approx((3600 + 5400) / 2)


def test_cohorts_equal_hand_count(events_ws):
    """Weeks start on Monday: week of 2024-01-01: u1, u2, u3 (3 users); u1 is back in week +1
    (2024-01-09); u4 starts in week 2024-01-08; u5 in week 2024-01-15."""
    m = cohorts(events_ws, grain="week").to_frame("retention")
    first = m[m.cohort == pd.Timestamp("2024-01-01")].set_index("periods_since")
    assert first.loc[0, "users"] == 3 and first.loc[1, "users"] == 1
    assert first.loc[1, "retention"] == pytest.approx(1 / 3)
    assert set(m[m.periods_since == 0].cohort.dt.strftime("%Y-%m-%d")) == {"2024-01-01", "2024-01-08", "2024-01-15"}


def test_event_frame_equals_hand_count(events_ws):
    """No sessions in the fixture, so a visit is a user's day. 2024-01-01: u1 (3 events, buys)
    and u2 (1 event): 2 visits, 1 converting, 2 views; 2024-01-02: u3, 1 visit, converting.
    By device: desktop u2 on the 1st and 3rd, u3 on the 2nd, u5 on the 15th (4 visits); mobile
    u1 on the 1st and 9th, u4 on the 8th (3)."""
    f = event_frame(events_ws, conversion="buy").set_index("period")
    day1, day2 = f.loc[pd.Timestamp("2024-01-01")], f.loc[pd.Timestamp("2024-01-02")]
    assert (day1.visits, day1.users, day1.converting_visits, day1["n_event:view"]) == (2, 2, 1, 2)
    assert (day2.visits, day2.converting_visits, day2["n_event:cart"], day2["n_event:view"]) == (1, 1, 2, 1)
    by = event_frame(events_ws, conversion="buy", by=["device"], counts=False)
    assert by.groupby("device")["visits"].sum().to_dict() == {"desktop": 4, "mobile": 3}


@pytest.fixture()
def intersection_ws(ws, tmp_path):
    """56 days of ads by device x country x channel (planted truth: from day 28, CVR halves in
    mobile x US only; every other cell keeps CVR 4%)."""
    rng = np.random.default_rng(8)
    rows = []
    for day in pd.date_range("2024-03-01", periods=56, freq="D"):
        for dev in ("desktop", "mobile", "tablet"):
            for cty in ("US", "DE", "FR"):
                for ch in ("search", "social"):
                    clicks = int(rng.poisson(20000))
                    cvr = 0.02 if (dev, cty) == ("mobile", "US") and day >= pd.Timestamp("2024-03-29") else 0.04
                    rows.append({"date": day.date(), "platform": "x", "channel": ch, "device": dev, "country": cty,
                                 "impressions": clicks * 50, "clicks": clicks, "cost": clicks * 0.5,
                                 "conversions": int(rng.binomial(clicks, cvr))})
    p = tmp_path / "ads.csv"
    pd.DataFrame(rows).to_csv(p, index=False)
    ingest(ws, p, table="ad_performance")
    return ws


def test_root_cause_finds_a_pair_of_dimensions(intersection_ws):
    """The planted cause is the intersection device=mobile x country=US: the pair search names it
    (not mobile, not US alone) with a share of the change of 1.0 within 0.1."""
    d = diagnose(intersection_ws, "cvr", "2024-03-29:2024-04-25", "2024-03-01:2024-03-28",
                 dims=["channel", "device", "country"])
    assert d.params["dimension"] == "device+country"
    top = d.to_frame("segments").iloc[0]
    assert top.segment == "mobile / US" and top.share == pytest.approx(1.0, abs=0.1)
    assert "device+country=mobile / US explains" in d.findings[0].text
    assert d.to_frame("segments")["contribution"].sum() == pytest.approx(d.params["change"], rel=1e-9)


def test_kpi_table_in_the_docs_matches_the_definitions():
    """docs/explore.md lists every KPI as defined in mercator.metrics (name, label, definition,
    table, direction), and nothing else."""
    from pathlib import Path

    from mercator.metrics import KPIS

    text = (Path(__file__).resolve().parents[2] / "docs" / "explore.md").read_text()
    rows = {line.split("|")[1].strip().strip("`"): [c.strip() for c in line.split("|")[2:6]]
            for line in text.splitlines() if line.startswith("| `")}
    want = {k.name: [k.label, k.definition, k.table, "higher" if k.higher_is_better else "lower"]
            for k in KPIS.values()}
    assert rows == want
