"""Early warnings against planted truth: the stream's CTR (2% for alpha) and conversions (its
Poisson means), an overspending budget, a breached guardrail; the forecast's pace where the
history allows a backtest, the run rate where it does not (issue 22, item 2)."""

from __future__ import annotations

import datetime as dt

import pytest

from mercator.demo._stream import stream
from mercator.monitor import early_warnings, set_objective, sign_objective
from mercator.workspace import Workspace

START = dt.date(2026, 1, 1)


def _lock(ws, oid, **kw):
    set_objective(ws, oid, roles=["finance"], **kw)
    sign_objective(ws, oid, "finance", person="fred")


ADS, _, _ = stream(START, 70, seed=6, incidents=False)


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    ads = ADS
    w = Workspace(tmp_path_factory.mktemp("warn") / "w.duckdb")
    w.replace("ad_performance", ads, on=["date", "hour", "campaign"])
    days = 17
    # the truth: beta's expected conversions a day, 25,000 impressions x CTR 3% x CVR 5% x 24 hours
    # (the daily cycle averages 1); alpha's spend a day over the period, as the stream drew it
    spent = ads[(ads.campaign == "alpha") & (ads.date >= dt.date(2026, 2, 20))
                & (ads.date <= dt.date(2026, 3, 8))].cost.sum()
    for start, tag in ((dt.date(2026, 1, 20), "short"), (dt.date(2026, 2, 20), "long")):
        end = start + dt.timedelta(days=days - 1)
        _lock(w, f"ctr_high_{tag}", kpi_name="ctr", target=0.024, threshold=0.021, campaign="alpha", start=start,
              end=end, budget=spent)
        _lock(w, f"ctr_ok_{tag}", kpi_name="ctr", target=0.019, threshold=0.018, campaign="alpha", start=start,
              end=end, budget=spent / 2)
        _lock(w, f"conv_{tag}", kpi_name="conversions", target=14_000, campaign="beta", start=start, end=end,
              guardrails={"cpa": 5})
    yield w
    w.close()


@pytest.mark.parametrize(("tag", "today", "how"), [("short", "2026-01-28", "run rate"),
                                                   ("long", "2026-02-28", "forecast")])
def test_pace_holds_the_planted_truth_and_statuses_follow_the_rules(ws, tag, today, how):
    res = early_warnings(ws, today=today)
    obj = res.to_frame("objectives").set_index("objective_id")
    assert set(obj.index) == {f"ctr_high_{tag}", f"ctr_ok_{tag}", f"conv_{tag}"}  # only those live that day
    assert all(how in r for r in obj.reason)
    high, ok, conv = obj.loc[f"ctr_high_{tag}"], obj.loc[f"ctr_ok_{tag}"], obj.loc[f"conv_{tag}"]
    # the truth: what happened so far plus the stream's expectation for the days left
    # (alpha: 40,000 impressions an hour at CTR 2%; beta: 25,000 x 3% x 5% conversions an hour;
    # the daily cycle averages 1 over a day)
    start, day = high.start, dt.date.fromisoformat(today)
    seen = ADS[(ADS.date >= start) & (ADS.date <= day)]
    left = (high.end - day).days
    a, b = seen[seen.campaign == "alpha"], seen[seen.campaign == "beta"]
    ctr = (a.clicks.sum() + 0.02 * 40_000 * 24 * left) / (a.impressions.sum() + 40_000 * 24 * left)
    conversions = b.conversions.sum() + 25_000 * 24 * 0.03 * 0.05 * left
    assert high.lo_95 <= ctr <= high.hi_95 and ok.lo_95 <= ctr <= ok.hi_95
    assert conv.lo_95 <= conversions <= conv.hi_95
    # CTR lands near 2%: below the acceptable 2.1% (off track); above the target 1.9% (on track)
    assert high.status == "off track" and ok.status == "on track" and conv.status == "on track"
    ind = res.to_frame("indicators").set_index(["objective_id", "indicator"]).status
    assert ind[(f"ctr_high_{tag}", "spend pace")] == "on track"  # the budget is what the stream spent
    assert ind[(f"ctr_ok_{tag}", "spend pace")] == "off track"  # half of it: spending twice the pace
    assert ind[(f"conv_{tag}", "guardrail cpa")] == "off track"  # CPA is about 11 against a limit of 5
    assert ind[(f"conv_{tag}", "ctr")] == "on track" and ind[(f"conv_{tag}", "delivery")] == "on track"
    assert ind[(f"conv_{tag}", "frequency")] == "unknown"  # no impression events: said, not guessed
    assert ok.overall == "off track" and conv.overall == "off track"
    assert res.figures()


def test_a_ctr_drop_after_launch_is_flagged_before_the_period_ends(tmp_path):
    ads, _, _ = stream(START, 40, seed=7, incidents=False)
    after = (ads.campaign == "alpha") & (ads.date >= dt.date(2026, 1, 25))
    ads.loc[after, "clicks"] = (ads.loc[after, "clicks"] * 0.6).round().astype("int64")
    with Workspace(tmp_path / "drop.duckdb") as w:
        w.replace("ad_performance", ads, on=["date", "hour", "campaign"])
        _lock(w, "alpha_ctr", kpi_name="ctr", target=0.02, threshold=0.019, campaign="alpha",
              start="2026-01-20", end="2026-02-10")
        res = early_warnings(w, "alpha_ctr", today="2026-01-31")
    ind = res.to_frame("indicators").set_index("indicator")
    assert ind.status["ctr"] == "off track" and "-40%" in ind.reason["ctr"]
    assert res.to_frame("objectives").overall.iloc[0] == "off track"
