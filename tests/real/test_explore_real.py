"""Explore and diagnose on real files, against the truths their PROVENANCE.txt documents."""

from __future__ import annotations

import pandas as pd
import pytest
from statsmodels.stats.proportion import proportions_ztest

from mercator.diagnose import funnel
from mercator.explore import breakdown, event_anomalies, kpi_summary
from mercator.ingest import ingest
from mercator.metrics import Period
from tests.conftest import shared

pytestmark = pytest.mark.real


@pytest.fixture(scope="module")
def clickstream(tmp_path_factory):
    from mercator import Workspace

    ws = Workspace(str(tmp_path_factory.mktemp("rt") / "ws.duckdb"))
    ingest(ws, shared("retentioneering_ecom", "ecom_clickstream.csv"))
    yield ws
    ws.close()


def _days(a: pd.Timestamp, b: str) -> int:
    return abs((a - pd.Timestamp(b)).days)


def test_retentioneering_incidents_found_by_the_anomaly_scan(clickstream):
    """PROVENANCE.txt: payment-gateway incident May 19-Jun 7 (spurious payment errors, support
    chat spike) and mobile checkout bug Apr 9-May 9. Both are found as episodes with a start and
    an end, and they are the top three findings. Measured when written: checkout_bug from Apr 13
    to May 9, payment_error and support_chat from May 19 to Jun 8."""
    an = event_anomalies(clickstream)
    f = an.to_frame("findings")
    top = f.head(3).set_index("kpi")
    assert set(top.index) == {"events.payment_error", "events.support_chat", "events.checkout_bug"}
    assert (top["type"] == "shift").all() and top["end"].notna().all()
    for name in ("events.payment_error", "events.support_chat"):
        assert _days(top.loc[name, "date"], "2024-05-19") <= 2 and _days(top.loc[name, "end"], "2024-06-07") <= 3
    assert top.loc["events.payment_error", "before"] == 0 and top.loc["events.payment_error", "after"] > 3
    assert _days(top.loc["events.checkout_bug", "date"], "2024-04-09") <= 5
    assert _days(top.loc["events.checkout_bug", "end"], "2024-05-09") <= 3
    assert "payment_error events (overall) rose from 0.0" in an.findings[0].text + an.findings[1].text + \
        an.findings[2].text


def test_retentioneering_checkout_bug_found_by_the_funnel(clickstream):
    """The mobile checkout bug (Apr 9-May 9) sends mobile users from shipping_details back to
    add_to_cart: in that window mobile's step into payment_details (within 30 minutes, one
    visit) is significantly below the other devices; in the weeks after it is not."""
    steps = ["shipping_details", "payment_details"]
    during = funnel(clickstream, steps, by="device", window="30m", period="2024-04-09:2024-05-09")
    tests = during.to_frame("segment_tests").set_index("segment")
    assert tests.loc["mobile", "significant"] and tests.loc["mobile", "conversion"] < 0.5 * \
        tests.loc["mobile", "rest_conversion"]
    assert any("device=mobile" in x.text for x in during.findings)
    after = funnel(clickstream, steps, by="device", window="30m", period="2024-05-10:2024-06-29")
    assert not after.to_frame("segment_tests")["significant"].any()


def test_retentioneering_payment_incident_found_by_the_funnel(clickstream):
    """During the payment incident the step payment_details -> purchase falls to about half
    its rate in the four weeks before (two-proportion z-test, p < 0.001)."""
    steps = ["payment_details", "purchase"]
    during = funnel(clickstream, steps, window="1d", period="2024-05-19:2024-06-07").to_frame("steps")
    before = funnel(clickstream, steps, window="1d", period="2024-04-20:2024-05-18").to_frame("steps")
    (n1, k1), (n0, k0) = during["users"].tolist(), before["users"].tolist()
    assert k1 / n1 < 0.6 * (k0 / n0)
    assert proportions_ztest([k1, k0], [n1, n0])[1] < 0.001


@pytest.fixture(scope="module")
def facebook(tmp_path_factory):
    from mercator import Workspace

    ws = Workspace(str(tmp_path_factory.mktemp("fb") / "ws.duckdb"))
    ingest(ws, shared("facebook_ads_kag", "KAG_conversion_data.csv"))
    yield ws
    ws.close()


def test_facebook_totals_equal_provenance(facebook):
    """PROVENANCE.txt: spend $58,705.23, 3,264 conversions, 38,165 clicks, 213,434,828 impressions."""
    day = Period.parse("2017-01-01:2017-01-01")  # the export has no dates: one reporting day
    s = kpi_summary(facebook, day).to_frame("summary").set_index("kpi")["current"]
    assert round(s["cost"], 2) == 58_705.23 and s["conversions"] == 3264
    assert s["clicks"] == 38_165 and s["impressions"] == 213_434_828
    assert s["ctr"] == pytest.approx(38_165 / 213_434_828, rel=1e-12)
    assert s["cpa"] == pytest.approx(58_705.23 / 3264, rel=1e-9)


@pytest.mark.parametrize("dims", [["age"], ["gender"], ["interest"], ["age", "gender"]])
def test_facebook_breakdowns_equal_hand_sql(facebook, dims):
    """Each breakdown row equals a hand-written GROUP BY over the raw file (DuckDB reading the CSV)."""
    import duckdb

    day = Period.parse("2017-01-01:2017-01-01")
    got = breakdown(facebook, dims, day).to_frame("breakdown")
    raw = {"age": "age", "gender": "gender", "interest": "CAST(interest AS VARCHAR)"}
    cols = ", ".join(f"{raw[d]} AS {d}" for d in dims)
    sql = (f"SELECT {cols}, SUM(Spent) AS cost, SUM(Clicks) AS clicks, SUM(Impressions) AS impressions, "
           f"SUM(Total_Conversion) AS conversions, SUM(Clicks) / SUM(Impressions) AS ctr, "
           f"SUM(Spent) / NULLIF(SUM(Total_Conversion), 0) AS cpa "
           f"FROM read_csv('{shared('facebook_ads_kag', 'KAG_conversion_data.csv')}') GROUP BY ALL")
    want = duckdb.sql(sql).df()
    merged = want.merge(got, on=dims, suffixes=("_sql", ""), how="outer", indicator=True)
    assert (merged["_merge"] == "both").all() and len(merged) == len(want)
    for c in ("cost", "clicks", "impressions", "conversions", "ctr", "cpa"):
        pd.testing.assert_series_equal(merged[c].astype(float), merged[f"{c}_sql"].astype(float), check_names=False,
                                       rtol=1e-9)


def test_explore_runs_where_dimensions_are_not_reported(facebook):
    """The Facebook export reports no device, country or creative (null): the scan groups them
    as "(not set)" instead of failing, and the summary still equals the totals."""
    from mercator.explore import explore

    ex = explore(facebook, since=pd.Timestamp("2017-01-01").date())
    assert ex.to_frame("summary").set_index("kpi").loc["conversions", "current"] == 3264
    assert (ex.to_frame("by_device")["device"] == "(not set)").all()
