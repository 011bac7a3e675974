"""Row-level validation: each bad row is quarantined with file, row, column and reason; good rows load.

One class of bad row per case on DuckDB, and all of them in one file on DuckDB and local Spark
(the checks are Ibis expressions the engine runs).
"""

from __future__ import annotations

import json

import pytest

from mercator.ingest import ingest

HEADER = "date,platform,campaign_id,impressions,clicks,cost,conversions\n"
GOOD = "2024-01-01,google_ads,c1,1000,10,5.5,1\n"


def write(tmp_path, body: str, name: str = "ads.csv"):
    path = tmp_path / name
    path.write_text(HEADER + body, encoding="utf-8")
    return path


# one case per class of bad row: (row text, reason, column)
CASES = [
    ("2024-01-02,google_ads,c1,abc,10,5.5,1", "wrong_type", "impressions"),
    ("2024-13-45,google_ads,c1,100,10,5,1", "unparseable_date", "date"),
    ("2024-01-03,google_ads,c1,100,10,-5,1", "negative_value", "cost"),
    ("2024-01-04,google_ads,c1,100,200,5,1", "clicks_gt_impressions", "clicks"),
    ("2024-01-05,,c1,100,10,5,1", "missing_key", "platform"),
    ("1970-01-01,google_ads,c1,100,10,5,1", "date_out_of_range", "date"),
    ("2024-01-01,google_ads,c1,999,10,5.5,1", "duplicate_key", None),  # same key as GOOD, later row
    ("2024-01-06,google_ads,c1,100", "malformed_row", None),
]


@pytest.mark.parametrize("row, reason, column", CASES, ids=[c[1] for c in CASES])
def test_bad_row_is_quarantined_and_good_rows_load(duckdb_ws, tmp_path, row, reason, column):
    ws = duckdb_ws
    path = write(tmp_path, GOOD + row + "\n" + "2024-01-09,google_ads,c2,50,5,1,0\n")
    res = ingest(ws, path, table="ad_performance")
    assert ws.count("ad_performance") == 2
    q = ws.table("quarantine").to_pandas()
    assert len(q) == 1
    rec = q.iloc[0]
    assert rec.reason == reason
    assert rec.source_row == 3  # header is row 1, GOOD row 2
    assert rec.source_file == str(path)
    if column:
        assert rec.column == column
    assert rec.detail
    assert res.to_frame("quarantine_by_reason").set_index("reason")["rows"].to_dict() == {reason: 1}
    if reason != "malformed_row":
        assert json.loads(rec.raw)["campaign_id"] == "c1"


def test_every_class_of_bad_row_in_one_file_on_each_engine(ws, tmp_path):
    """Every case above in one file, on DuckDB and Spark (each check is an expression the engine
    runs): each bad row is quarantined with its row number, column and reason; the good rows load."""
    path = write(tmp_path, GOOD + "".join(row + "\n" for row, _, _ in CASES) + "2024-01-09,google_ads,c2,50,5,1,0\n")
    res = ingest(ws, path, table="ad_performance")
    assert ws.count("ad_performance") == 2
    q = ws.table("quarantine").to_pandas().sort_values("source_row")
    assert q.source_row.tolist() == list(range(3, 3 + len(CASES)))
    assert q.reason.tolist() == [reason for _, reason, _ in CASES]
    assert [c for c in q.column] == [column or c for (_, _, column), c in zip(CASES, q.column)]
    assert res.to_frame("quarantine_by_reason")["rows"].sum() == len(CASES)


def test_duplicate_key_keeps_first_row(duckdb_ws, tmp_path):
    path = write(tmp_path, GOOD + "2024-01-01,google_ads,c1,999,10,5.5,1\n")
    ingest(duckdb_ws, path, table="ad_performance")
    assert duckdb_ws.table("ad_performance").impressions.to_pandas().tolist() == [1000]


def test_conversions_le_clicks_only_when_switched_on(duckdb_ws, tmp_path):
    import dataclasses

    from mercator.ingest import identity_mapping

    path = write(tmp_path, "2024-01-01,google_ads,c1,1000,10,5.5,20\n")
    ingest(duckdb_ws, path, table="ad_performance")
    assert duckdb_ws.count("quarantine") == 0  # view-through conversions may exceed clicks
    raw_cols = HEADER.strip().split(",")
    strict = dataclasses.replace(identity_mapping("ad_performance", raw_cols), checks=("conversions_le_clicks",))
    path2 = write(tmp_path, "2024-02-01,google_ads,c1,1000,10,5.5,20\n", name="b.csv")
    ingest(duckdb_ws, path2, mapping=strict)
    assert duckdb_ws.table("quarantine").reason.to_pandas().tolist() == ["conversions_gt_clicks"]
