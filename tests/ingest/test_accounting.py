"""Every row read is accounted for (issue 17, items 2, 3, 5 and 6): loaded, updated,
unchanged or quarantined with its reason, never silently dropped, duplicated or re-decoded."""

from __future__ import annotations

import csv
import io
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mercator import Workspace
from mercator.errors import MappingError, SourceError
from mercator.ingest import ingest, load_mapping

HEADER = ["date", "platform", "channel", "campaign", "device", "impressions", "clicks", "cost", "currency"]


def _line(i: int, campaign: str = "Camp") -> str:
    return f"2024-01-01,google_ads,search,{campaign} {i},mobile,1000,10,5.0,USD\n"


def test_unterminated_quote_fails_the_file_naming_the_line(duckdb_ws, tmp_path):
    """A 13-row file whose third data row opens a quote that never closes: before, 2 rows
    loaded, 1 quarantined and 10 vanished with exit code 0."""
    rows = [_line(i) if i != 2 else _line(i, campaign='"Camp') for i in range(13)]
    p = tmp_path / "quote.csv"
    p.write_text(",".join(HEADER) + "\n" + "".join(rows))
    with pytest.raises(SourceError) as e:
        ingest(duckdb_ws, p, table="ad_performance")
    assert "row 4" in str(e.value) and "never closes" in str(e.value) and "next 10 lines" in str(e.value)
    assert {t: duckdb_ws.count(t) for t in ("ad_performance", "quarantine", "loads")} == \
        {"ad_performance": 0, "quarantine": 0, "loads": 0}


def test_quoted_line_breaks_are_values_not_lost_lines(duckdb_ws, tmp_path):
    p = tmp_path / "notes.csv"
    p.write_text('order_id,ts,revenue,channel\no1,2024-01-01,5,"web\nshop"\no2,2024-01-02,3,app\n'
                 'o3,2024-01-03,1\n')  # one short row: quarantined as malformed, named by its line
    res = ingest(duckdb_ws, p, table="orders").to_frame("loads").iloc[0]
    assert (res.rows_read, res.rows_inserted, res.rows_quarantined) == (3, 2, 1)
    q = duckdb_ws.table("quarantine").to_pandas()
    assert q.reason.tolist() == ["malformed_row"]


# -- the accounting invariant over random files ------------------------------------------------

_text = st.text(alphabet=st.sampled_from(list("ab ,\"\n;é")), min_size=0, max_size=6)
_row = st.fixed_dictionaries({
    "date": st.sampled_from(["2024-01-01", "2024-01-02", "not a date", ""]),
    "platform": st.sampled_from(["google_ads", "meta", ""]),
    "channel": st.sampled_from(["search", "social", ""]),
    "campaign": st.one_of(st.sampled_from(["Brand", "Generic"]), _text),
    "device": st.sampled_from(["mobile", "desktop", ""]),
    "impressions": st.sampled_from(["100", "5", "-1", "x", ""]),
    "clicks": st.sampled_from(["10", "0", "200"]),
    "cost": st.sampled_from(["1.5", "0", "abc"]),
    "currency": st.sampled_from(["USD", "eur", "XYZ", ""]),
})
_record = st.one_of(_row.map(lambda r: ("row", r)),
                    st.integers(1, 12).map(lambda n: ("short", n)))  # a line with the wrong field count


def _write(path: Path, records) -> int:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(HEADER)
    for kind, rec in records:
        if kind == "row":
            w.writerow([rec[c] for c in HEADER])
        else:
            buf.write(",".join(["x"] * (rec if rec < len(HEADER) else rec + 1)) + "\n")
    path.write_text(buf.getvalue(), encoding="utf-8")
    return len(records)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_record, min_size=1, max_size=40), st.lists(_record, min_size=1, max_size=20))
def test_rows_read_equal_rows_accounted_and_reingest_adds_nothing(first, second):
    """Property: for any file (duplicates by every dimension, quoted commas, quotes and line
    breaks, short and long lines, bad values), the records written = rows read =
    inserted + updated + unchanged + quarantined; loading it again changes nothing."""
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(os.path.join(tmp, "ws.duckdb"))
        try:
            for n, records in enumerate((first, first + second)):
                p = Path(tmp) / "ads.csv"
                written = _write(p, records)
                if all(kind == "short" for kind, _ in records):
                    continue  # no data rows at all: a file-level error, tested elsewhere
                res = ingest(ws, p, table="ad_performance").to_frame("loads").iloc[0]
                assert res.rows_read == written
                assert res.rows_read == res.rows_inserted + res.rows_updated + res.rows_unchanged + \
                    res.rows_quarantined
                q = ws.table("quarantine")
                assert q.filter(q.load_id == int(res.load_id)).count().to_pyarrow().as_py() == res.rows_quarantined
                before = {t: ws.count(t) for t in ("ad_performance", "quarantine")}
                again = ingest(ws, p, table="ad_performance", force=True).to_frame("loads").iloc[0]
                assert (again.rows_inserted, again.rows_updated) == (0, 0)
                assert again.rows_unchanged == res.rows_inserted + res.rows_updated + res.rows_unchanged
                assert {t: ws.count(t) for t in ("ad_performance", "quarantine")} == before
        finally:
            ws.close()


# -- a source is its content, not how its path was typed ----------------------------------------

def test_quarantine_does_not_grow_with_the_way_a_path_is_typed(duckdb_ws, tmp_path, monkeypatch):
    folder = tmp_path / "exports"
    folder.mkdir()
    p = folder / "orders.csv"
    p.write_text("order_id,ts,revenue\n" + "".join(f"o{i},2024-01-01,{i}\n" for i in range(5))
                 + "".join(f"b{i},yesterday,1\n" for i in range(5)))
    ingest(duckdb_ws, p, table="orders")
    assert duckdb_ws.count("quarantine") == 5
    monkeypatch.chdir(tmp_path)
    for typed in ("exports/orders.csv", "./exports/../exports/orders.csv", str(p)):
        for force in (False, True):
            ingest(duckdb_ws, typed, table="orders", force=force)
    monkeypatch.chdir(folder)
    ingest(duckdb_ws, "orders.csv", table="orders", force=True)
    copy = tmp_path / "copy-of-orders.csv"  # the same bytes under another name
    copy.write_bytes(p.read_bytes())
    res = ingest(duckdb_ws, copy, table="orders")
    assert res.to_frame("loads")["skipped"].tolist() == [True]
    ingest(duckdb_ws, copy, table="orders", force=True)
    assert duckdb_ws.count("quarantine") == 5 and duckdb_ws.count("orders") == 5


# -- encodings ----------------------------------------------------------------------------------

def test_a_latin1_line_in_a_utf8_file_is_set_apart_not_redecoding_the_file(duckdb_ws, tmp_path):
    p = tmp_path / "products.csv"
    p.write_bytes("product_id,name\np1,Café crème\np2,Smörgåsbord\n".encode()
                  + "p3,Crêpe\n".encode("latin-1") + "p4,Naïve\n".encode())
    res = ingest(duckdb_ws, p, table="products").to_frame("loads").iloc[0]
    assert (res.rows_read, res.rows_inserted, res.rows_quarantined) == (4, 3, 1)
    names = duckdb_ws.table("products").order_by("product_id").name.to_pandas().tolist()
    assert names == ["Café crème", "Smörgåsbord", "Naïve"]
    q = duckdb_ws.table("quarantine").to_pandas().iloc[0]
    assert (q.reason, q.source_row) == ("bad_encoding", 4) and "not UTF-8" in q.detail


def test_a_latin1_file_is_read_as_latin1(duckdb_ws, tmp_path):
    p = tmp_path / "products.csv"
    p.write_bytes("product_id,name\np1,Café crème\np2,Crêpe\n".encode("latin-1"))
    ingest(duckdb_ws, p, table="products")
    assert sorted(duckdb_ws.table("products").name.to_pandas()) == ["Café crème", "Crêpe"]


# -- currencies ---------------------------------------------------------------------------------

def test_currency_codes_are_iso_4217(ws, tmp_path):
    p = tmp_path / "ads.csv"
    p.write_text("date,platform,campaign_id,cost,currency\n2024-01-01,g,a,1,usd\n2024-01-01,g,b,1,XYZ\n"
                 "2024-01-01,g,c,1,EURO\n2024-01-01,g,d,1, eur \n2024-01-01,g,e,1,\n")
    ingest(ws, p, table="ad_performance")
    stored = ws.table("ad_performance").to_pandas().set_index("campaign_id").currency.to_dict()
    assert stored == {"a": "USD", "d": "EUR", "e": "USD"}  # empty: the column's default
    q = ws.table("quarantine").to_pandas().sort_values("source_row")
    assert q.reason.tolist() == ["unknown_currency"] * 2 and q.source_row.tolist() == [3, 4]
    assert "'XYZ' in currency is not a code of ISO 4217" in q.detail.iloc[0]


def test_mapping_currencies_must_be_iso_4217(tmp_path):
    m = tmp_path / "m.yaml"
    m.write_text("table: orders\ncolumns: {order_id: id, ts: ts}\ncurrency: {value: EURO, to: usd, rates: {EURO: 1}}\n")
    with pytest.raises(MappingError, match="EURO"):
        load_mapping(m)


def test_a_load_whose_counts_do_not_add_up_fails_and_changes_nothing(duckdb_ws, tmp_path, monkeypatch):
    """The invariant is checked, not assumed: if the engine wrote other rows than the merge
    counted, the load fails inside its transaction and the workspace stays as it was."""
    import mercator.ingest._load as load
    from mercator.errors import IngestInvariantError

    p = tmp_path / "orders.csv"
    p.write_text("order_id,ts,revenue\no1,2024-01-01,5\no2,2024-01-02,7\n")
    ingest(duckdb_ws, p, table="orders")
    before = {t: duckdb_ws.count(t) for t in ("orders", "quarantine", "loads")}
    p.write_text("order_id,ts,revenue\no1,2024-01-01,5\no2,2024-01-02,8\no3,2024-01-03,1\n")
    real = load._written
    monkeypatch.setattr(load, "_written", lambda ws, table, load_id: real(ws, table, load_id) + 1)
    with pytest.raises(IngestInvariantError, match="rows written"):
        ingest(duckdb_ws, p, table="orders")
    assert {t: duckdb_ws.count(t) for t in ("orders", "quarantine", "loads")} == before
    assert duckdb_ws.table("orders").revenue.sum().to_pyarrow().as_py() == 12
