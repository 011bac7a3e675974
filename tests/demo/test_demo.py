"""The demo company: deterministic, its planted effects visible in the data, loaded without rejects."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mercator.demo import generate, geometric_adstock, hill


def test_seeded_and_reproducible():
    a, b = generate("small", seed=3), generate("small", seed=3)
    assert a.truth == b.truth
    assert a.tables["ad_performance"].equals(b.tables["ad_performance"])


def test_adstock_and_hill_by_hand():
    assert np.allclose(geometric_adstock(np.array([1.0, 0, 0]), 0.5), [1, 0.5, 0.25])
    assert hill(np.array([10.0]), 10.0, 2.0)[0] == 0.5


def test_planted_mobile_incident_and_fatigue_are_in_the_data():
    d = generate("small", seed=1)
    ads = d.tables["ad_performance"].to_pandas()
    ads["date"] = ads.date.astype(str)
    inc = d.truth["ad_performance"]["mobile_cvr_incident"]
    mob = ads[ads.device == "mobile"]
    before = mob[mob.date < inc["from_date"]]
    after = mob[mob.date >= inc["from_date"]]
    cvr_b = before.conversions.sum() / before.clicks.sum()
    cvr_a = after.conversions.sum() / after.clicks.sum()
    assert abs(cvr_b - inc["cvr_before"]) < 0.004 and abs(cvr_a - inc["cvr_after"]) < 0.004
    assert after.landing_page_load_ms.mean() > 2 * before.landing_page_load_ms.mean()
    desk = ads[ads.device == "desktop"]
    assert abs(desk[desk.date >= inc["from_date"]].conversions.sum() / desk[desk.date >= inc["from_date"]].clicks.sum()
               - 0.040) < 0.004
    fat = d.truth["ad_performance"]["creative_fatigue"]
    c = ads[(ads.campaign_id == fat["campaign_id"]) & (ads.date >= fat["launch_date"])].groupby("date")[
        ["clicks", "impressions"]].sum()
    ctr = (c.clicks / c.impressions).to_numpy()
    assert ctr[:7].mean() > 1.3 * ctr[-7:].mean()  # decays after launch


def test_experiment_truth_and_journey_truth():
    d = generate("small", seed=2)
    t = d.truth
    assert t["experiment"]["p_treatment"] == t["experiment"]["p_control"] * 1.2
    shares = t["journeys"]["true_credit_share"]
    assert abs(sum(shares.values()) - 1) < 1e-12 and shares["display"] == 0
    assert t["rows"]["events"] == d.tables["events"].num_rows


def test_what_to_do_now_ranks_every_sections_recommendations():
    from mercator.interfaces.report._render import _actions
    from mercator.pipeline import Section
    from mercator.results import Recommendation, Unavailable

    sections = (Section("a", "A", (Unavailable(recommendations=(
                    Recommendation("small", 5.0, (1.0, 9.0), "conversions", "test 1"), Recommendation("unknown"))),)),
                Section("b", "B", (Unavailable(recommendations=(
                    Recommendation("large", -50.0, (-80.0, -20.0), "USD", "mmm"),)),)))
    acts = _actions(sections)["actions"]
    assert [a["href"] for a in acts] == ["b", "a", "a"]
    assert acts[0]["text"].startswith("large Expected impact: -50") and "95% interval" in acts[0]["text"]
    assert "Evidence: mmm" in acts[0]["text"]


def test_report_sections_say_why_the_data_cannot_support_them(duckdb_ws, tmp_path):
    """Ten days of ad data: too short to forecast or to cross-validate drivers. The report still
    renders, and those sections say why (the reason the analysis gave) instead of failing."""
    from mercator.interfaces.report import render_report
    from mercator.pipeline import STEPS
    from tests.conftest import ingest_text

    rows = "\n".join(f"2025-03-{d:02d},google_ads,paid_search,c1,Campaign 1,mobile,US,1000,50,40.5,2"
                     for d in range(1, 11))
    ingest_text(duckdb_ws, tmp_path, "date,platform,channel,campaign_id,campaign,device,country,impressions,clicks,"
                f"cost,conversions\n{rows}\n", "ad_performance")
    html = render_report(duckdb_ws, steps=[s for s in STEPS if s.id in ("forecast", "drivers")])
    assert "Not shown: the series have 10 periods" in html
    assert "Not shown: ad_performance: 10 rows over 10 periods" in html


def test_run_on_a_workspace_with_orders_only(tmp_path):
    """Issue 18, item 2: `mercator run` on a workspace without ads or events used to fail with
    "nothing to explore". Every section the data supports is rendered; each absent one says why."""
    from typer.testing import CliRunner

    from mercator.interfaces.cli import app

    rng = np.random.default_rng(1)
    n = 400
    orders = pd.DataFrame({"order_id": [f"o{i}" for i in range(n)], "customer_id": [f"c{i % 60}" for i in range(n)],
                           "ts": (pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 300, n), "D"))
                           .strftime("%Y-%m-%d"), "revenue": rng.gamma(2, 30, n).round(2)})
    f = tmp_path / "orders.csv"
    orders.to_csv(f, index=False)
    ws, report = tmp_path / "shop.duckdb", tmp_path / "report.html"
    runner = CliRunner()
    r = runner.invoke(app, ["ingest", str(f), "--table", "orders", "--workspace", str(ws)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["run", "--workspace", str(ws), "--report", str(report)])
    assert r.exit_code == 0, r.output
    html = report.read_text()
    assert "Who: RFM segments" in html and "potential_loyalists" in html
    assert "Not shown: the workspace has no ad performance rows." in html
    assert "Not shown: nothing to explore" in html
    assert "Not shown: the workspace has no experiments with assignments." in html
