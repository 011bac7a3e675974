"""Re-loading never duplicates; a changed file updates by natural key."""

from __future__ import annotations

from mercator.ingest import ingest

HEADER = "order_id,customer_id,ts,revenue\n"


def test_reingest_same_file_changes_nothing(ws, tmp_path):
    p = tmp_path / "orders.csv"
    p.write_text(HEADER + "o1,c1,2024-01-01 10:00:00,10\no2,c2,2024-01-02 11:00:00,20\no2,c2,2024-01-02,5\n")
    ingest(ws, p, table="orders")
    first = {t: ws.count(t) for t in ("orders", "quarantine")}
    assert first == {"orders": 2, "quarantine": 1}
    skipped = ingest(ws, p, table="orders")
    assert skipped.to_frame("loads")["skipped"].tolist() == [True]
    forced = ingest(ws, p, table="orders", force=True)  # the merge itself must also be idempotent
    loads = forced.to_frame("loads").iloc[0]
    assert (loads.rows_inserted, loads.rows_updated, loads.rows_unchanged) == (0, 0, 2)
    assert {t: ws.count(t) for t in ("orders", "quarantine")} == first


def test_changed_file_updates_by_key(duckdb_ws, tmp_path):
    ws = duckdb_ws
    p = tmp_path / "orders.csv"
    p.write_text(HEADER + "o1,c1,2024-01-01 10:00:00,10\no2,c2,2024-01-02 11:00:00,20\n")
    ingest(ws, p, table="orders")
    p.write_text(HEADER + "o1,c1,2024-01-01 10:00:00,10\no2,c2,2024-01-02 11:00:00,25\no3,c3,2024-01-03,7\n")
    res = ingest(ws, p, table="orders").to_frame("loads").iloc[0]
    assert (res.rows_inserted, res.rows_updated, res.rows_unchanged) == (1, 1, 1)
    df = ws.table("orders").to_pandas().set_index("order_id")
    assert len(df) == 3 and df.loc["o2", "revenue"] == 25


def test_unreported_dimensions_match_null_to_null(ws, tmp_path):
    """ad_performance keys include dimensions a file may lack (here device, region, age...):
    they are null, and a re-load must still find the stored rows instead of adding copies."""
    p = tmp_path / "ads.csv"
    head = "date,platform,campaign_id,ad_id,impressions,clicks,cost\n"
    p.write_text(head + "2024-01-01,meta,c1,a1,100,5,2.5\n2024-01-01,meta,c1,a2,50,1,1.0\n"
                        "2024-01-01,meta,c1,a2,60,1,1.0\n")  # third row: same key as the second
    first = ingest(ws, p, table="ad_performance").to_frame("loads").iloc[0]
    assert (first.rows_inserted, first.rows_quarantined) == (2, 1)
    p.write_text(head + "2024-01-01,meta,c1,a1,100,5,2.5\n2024-01-01,meta,c1,a2,50,1,1.5\n")
    res = ingest(ws, p, table="ad_performance").to_frame("loads").iloc[0]
    assert (res.rows_inserted, res.rows_updated, res.rows_unchanged) == (0, 1, 1)
    df = ws.table("ad_performance").to_pandas().set_index("ad_id")
    assert len(df) == 2 and df.loc["a2", "cost"] == 1.5 and df["device"].isna().all()
    assert df["_load_id"].tolist() in ([1, 2], [2, 1]) and df.loc["a2", "_load_id"] == 2
