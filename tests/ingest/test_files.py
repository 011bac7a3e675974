"""File-level problems: a clear error naming file, column or byte position; nothing half-loaded."""

from __future__ import annotations

import gzip

import pytest

from mercator.errors import SourceError
from mercator.ingest import ingest, read_source

HEADER = "date,platform,campaign_id,impressions,clicks,cost\n"
ROWS = "".join(f"2024-01-{d:02d},google_ads,c1,100,10,5\n" for d in range(1, 29))


def _counts(ws):
    return {t: ws.count(t) for t in ("ad_performance", "quarantine", "loads")}


@pytest.fixture
def loaded(duckdb_ws, tmp_path):
    p = tmp_path / "base.csv"
    p.write_text(HEADER + ROWS)
    ingest(duckdb_ws, p, table="ad_performance")
    return duckdb_ws


def test_missing_required_column_names_file_and_column(loaded, tmp_path):
    before = _counts(loaded)
    p = tmp_path / "nodate.csv"
    p.write_text("platform,campaign_id,impressions\ngoogle_ads,c1,1\n")
    with pytest.raises(SourceError) as e:
        ingest(loaded, p, table="ad_performance")
    assert "date" in str(e.value) and "ad_performance" in str(e.value) and "What to do" in str(e.value)
    assert _counts(loaded) == before


def test_mapping_names_a_missing_source_column(loaded, tmp_path):
    m = tmp_path / "m.yaml"
    m.write_text("table: ad_performance\ncolumns:\n  date: Day\n  platform: {value: x}\n")
    p = tmp_path / "a.csv"
    p.write_text("Date,Cost\n2024-01-01,1\n")
    with pytest.raises(SourceError) as e:
        ingest(loaded, p, mapping=m)
    assert e.value.column == "Day" and "'Day'" in str(e.value)


def test_empty_file(loaded, tmp_path):
    p = tmp_path / "empty.csv"
    p.write_bytes(b"")
    with pytest.raises(SourceError, match="empty"):
        ingest(loaded, p, table="ad_performance")


def test_header_only(loaded, tmp_path):
    p = tmp_path / "header.csv"
    p.write_text(HEADER)
    with pytest.raises(SourceError, match="no data rows"):
        ingest(loaded, p, table="ad_performance")


def test_truncated_gzip_names_byte_position(loaded, tmp_path):
    before = _counts(loaded)
    data = gzip.compress((HEADER + ROWS * 50).encode())
    p = tmp_path / "cut.csv.gz"
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(SourceError) as e:
        ingest(loaded, p, table="ad_performance")
    assert e.value.position == len(data) // 2 and "truncated" in str(e.value)
    assert _counts(loaded) == before


def test_truncated_csv_mid_row(loaded, tmp_path):
    before = _counts(loaded)
    p = tmp_path / "cut.csv"
    p.write_text(HEADER + ROWS + "2024-02-01,google_ads")
    with pytest.raises(SourceError, match="truncated") as e:
        ingest(loaded, p, table="ad_performance")
    assert e.value.position == p.stat().st_size
    assert _counts(loaded) == before


def test_binary_file_is_refused(loaded, tmp_path):
    p = tmp_path / "utf16.csv"
    p.write_bytes((HEADER + ROWS).encode("utf-16"))
    with pytest.raises(SourceError, match="NUL byte"):
        ingest(loaded, p, table="ad_performance")


def test_latin1_and_semicolon_are_detected(tmp_path):
    p = tmp_path / "latin.csv"
    p.write_bytes("campaign;cost\nÉté;1,5\n".encode("latin-1"))
    raw = read_source(p)
    assert raw.encoding == "latin-1" and raw.delimiter == ";"
    assert raw.data.column("campaign").to_pylist() == ["Été"]


def test_formats_parquet_jsonl_excel_gzip(duckdb_ws, tmp_path):
    import pandas as pd

    df = pd.read_csv(__import__("io").StringIO(HEADER + ROWS), dtype=str)
    df.iloc[:7].to_parquet(tmp_path / "a.parquet")
    df.iloc[7:14].to_json(tmp_path / "b.jsonl", orient="records", lines=True)
    df.iloc[14:21].to_excel(tmp_path / "c.xlsx", index=False)
    (tmp_path / "d.csv.gz").write_bytes(gzip.compress(df.iloc[21:].to_csv(index=False).encode()))
    res = ingest(duckdb_ws, [tmp_path / n for n in ("a.parquet", "b.jsonl", "c.xlsx", "d.csv.gz")],
                 table="ad_performance")
    assert duckdb_ws.count("ad_performance") == 28
    assert res.to_frame("loads")["rows_inserted"].tolist() == [7, 7, 7, 7]
