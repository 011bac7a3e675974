"""Every built-in mapper on its real dataset, with counts checked against PROVENANCE.txt."""

from __future__ import annotations

import pytest

from mercator.ingest import ingest
from tests.conftest import shared

pytestmark = pytest.mark.real


def test_facebook_ads_totals_match_provenance(duckdb_ws):
    res = ingest(duckdb_ws, shared("facebook_ads_kag", "KAG_conversion_data.csv"))
    assert res.params["mapper"] is None  # detected from the columns
    t = duckdb_ws.table("ad_performance")
    tot = t.aggregate(n=t.count(), imp=t.impressions.sum(), clk=t.clicks.sum(), cost=t.cost.sum(),
                      conv=t.conversions.sum(), appr=t.approved_conversions.sum()).to_pandas().iloc[0]
    # PROVENANCE.txt: 1,143 ads; impressions 213,434,828; clicks 38,165; spend $58,705.23; 3,264 / 1,079
    assert (tot.n, tot.imp, tot.clk, tot.conv, tot.appr) == (1143, 213_434_828, 38_165, 3264, 1079)
    assert round(tot.cost, 2) == 58_705.23
    assert duckdb_ws.count("quarantine") == 0


def test_google_analytics_sample(duckdb_ws):
    ingest(duckdb_ws, shared("google_merch_store_ga", "all_sessions.csv"))
    ingest(duckdb_ws, shared("google_merch_store_ga", "products.csv"))
    e = duckdb_ws.table("events")
    # PROVENANCE.txt: 15,134 hits, 14,556 visits; Organic Search 8,653, Direct 2,997, Referral 2,580
    assert duckdb_ws.count("events") == 15_134
    assert e.session_id.nunique().to_pyarrow().as_py() == 14_556
    by = e.group_by("channel").aggregate(n=e.count()).to_pandas().set_index("channel")["n"]
    assert (by["Organic Search"], by["Direct"], by["Referral"]) == (8653, 2997, 2580)
    assert duckdb_ws.count("products") == 1092
    span = e.aggregate(lo=e.ts.min().date(), hi=e.ts.max().date()).to_pandas().iloc[0]
    assert str(span.lo)[:10] >= "2016-08-01" and str(span.hi)[:10] <= "2017-08-02"


def test_online_retail_into_four_tables(duckdb_ws):
    ingest(duckdb_ws, shared("online_retail", "online_retail.csv.gz"))
    q = duckdb_ws.table("quarantine").to_pandas()
    # PROVENANCE.txt: 541,909 lines, 25,900 invoices, 4,372 customers, 4,070 stock codes
    assert duckdb_ws.count("order_items") + int((q.table_name == "order_items").sum()) == 541_909
    assert set(q.reason) <= {"negative_value"}  # the two 'Adjust bad debt' lines have negative prices
    assert duckdb_ws.count("orders") == 25_900
    assert duckdb_ws.count("customers") == 4_372
    assert duckdb_ws.count("products") == 4_070
    o = duckdb_ws.table("orders")
    returns = o.filter(o.is_return).count().to_pyarrow().as_py()
    assert returns == o.filter(o.order_id.startswith("C")).count().to_pyarrow().as_py() > 0


def test_cdnow_log(duckdb_ws):
    ingest(duckdb_ws, shared("cdnow", "CDNOW_master.txt"))
    o = duckdb_ws.table("orders")
    agg = o.aggregate(n=o.count(), c=o.customer_id.nunique(), rev=o.revenue.sum(), lo=o.ts.min(), hi=o.ts.max()) \
        .to_pandas().iloc[0]
    # PROVENANCE.txt: 69,659 transactions, 23,570 customers, $2,500,315.63, 1997-01-01..1998-06-30
    assert (agg.n, agg.c) == (69_659, 23_570)
    assert round(agg.rev, 2) == 2_500_315.63
    assert str(agg.lo)[:10] == "1997-01-01" and str(agg.hi)[:10] == "1998-06-30"


def test_retentioneering_clickstream(duckdb_ws):
    ingest(duckdb_ws, shared("retentioneering_ecom", "ecom_clickstream.csv"))
    e = duckdb_ws.table("events")
    # PROVENANCE.txt: 31,106 events; 600 users; 3,605 sessions; purchase 470, payment_error 119
    assert duckdb_ws.count("events") == 31_106
    assert e.user_id.nunique().to_pyarrow().as_py() == 600
    assert e.session_id.nunique().to_pyarrow().as_py() == 3_605
    counts = e.group_by("event_name").aggregate(n=e.count()).to_pandas().set_index("event_name")["n"]
    assert (counts["purchase"], counts["payment_error"], counts["checkout_bug"], counts["support_chat"]) == \
        (470, 119, 44, 277)


def test_cdnow_sample_without_header(duckdb_ws):
    """The 1/10 sample of the BTYD literature (issue 17, item 7): PROVENANCE.txt says 6,919
    rows and 2,357 customers; its rows are the master's rows for those customers."""
    res = ingest(duckdb_ws, shared("cdnow", "CDNOW_sample.txt"))  # detected: headerless, 5 columns
    assert res.to_frame("loads").iloc[0].rows_inserted == 6_919
    o = duckdb_ws.table("orders")
    assert o.customer_id.nunique().to_pyarrow().as_py() == 2_357
    master = ingest(duckdb_ws, shared("cdnow", "CDNOW_master.txt")).to_frame("loads").iloc[0]
    assert (master.rows_inserted, master.rows_unchanged) == (69_659 - 6_919, 6_919)
