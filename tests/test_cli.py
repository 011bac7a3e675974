"""Every result command prints exactly one JSON document on stdout with --json."""

from __future__ import annotations

import json

import numpy as np
from typer.testing import CliRunner

from mercator.interfaces.cli import app
from tests.conftest import small_demo

runner = CliRunner()


def _json(args):
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_ingest_tables_query_quarantine_json(tmp_path):
    ws = str(tmp_path / "w.duckdb")
    p = tmp_path / "orders.csv"
    p.write_text("order_id,ts,revenue\no1,2024-01-01,5\no2,yesterday,3\n")
    doc = _json(["ingest", str(p), "--table", "orders", "--workspace", ws, "--json"])
    assert doc["kind"] == "ingest" and doc["tables"]["loads"][0]["rows_quarantined"] == 1
    tables = {r["table"]: r["rows"] for r in _json(["tables", "--workspace", ws, "--json"])["tables"]["tables"]}
    assert tables["orders"] == 1
    rows = _json(["query", "select order_id, revenue from orders", "--workspace", ws, "--json"])["tables"]["rows"]
    assert rows == [{"order_id": "o1", "revenue": 5.0}]
    q = _json(["quarantine", "--workspace", ws, "--json"])
    assert q["tables"]["rows"][0]["reason"] == "unparseable_date" and q["tables"]["rows"][0]["source_row"] == 3


def test_errors_are_clear_and_exit_2(tmp_path):
    p = tmp_path / "empty.csv"
    p.write_bytes(b"")
    res = runner.invoke(app, ["ingest", str(p), "--table", "orders", "--workspace", str(tmp_path / "w.duckdb")])
    assert res.exit_code == 2 and "empty" in res.output


def test_schema_and_mappers_json():
    assert _json(["schema", "show", "orders", "--json"])["tables"]["orders"][0]["column"] == "order_id"
    names = [m["mapper"] for m in _json(["mappers", "--json"])["tables"]["mappers"]]
    assert {"facebook_ads", "google_analytics", "online_retail", "cdnow", "retentioneering"} <= set(names)


def test_explore_family_json(tmp_path, small_demo_template):
    """explore, trend, diagnose, funnel and cohorts each print one JSON document (small demo)."""
    path = small_demo(small_demo_template, tmp_path)
    ws = ["--workspace", str(path), "--json"]
    doc = _json(["explore", "--by", "channel,device+country", *ws])
    assert doc["kind"] == "explore" and {"summary", "by_device_country", "trend", "anomalies"} <= set(doc["tables"])
    assert _json(["trend", "--metric", "cpa", "--grain", "week", *ws])["kind"] == "trend"
    assert _json(["trend", "--metric", "visits", *ws])["tables"]["trend"]
    doc = _json(["diagnose", "--metric", "cvr", "--current", "2024-03-01:2024-03-28", *ws])
    assert doc["kind"] == "diagnosis" and doc["findings"]
    doc = _json(["funnel", "--steps", "page_view,add_to_cart,purchase", "--by", "device", *ws])
    assert [r["step"] for r in doc["tables"]["steps"]] == ["page_view", "add_to_cart", "purchase"]
    assert _json(["cohorts", "--grain", "month", "--table", "orders", *ws])["kind"] == "cohorts"
    res = runner.invoke(app, ["trend", "--metric", "users", "--grain", "week", *ws])
    assert res.exit_code == 2 and "use grain day" in res.output


def test_clv_and_segment_json(tmp_path):
    """clv fit, segment rfm and segment cluster each print one JSON document."""
    p = tmp_path / "orders.csv"
    rng = np.random.default_rng(1)
    rows = ["order_id,customer_id,ts,revenue"]
    for c in range(300):  # irregular repeat purchases, so the CLV models have something to fit
        days = np.unique(rng.integers(0, 180, 1 + rng.poisson(0.3 + 2 * rng.random())))
        rows += [f"o{c}_{d},c{c},{np.datetime64('2024-01-01') + d} 10:00:00,{10 + c % 50}" for d in days]
    p.write_text("\n".join(rows) + "\n")
    ws = str(tmp_path / "w.duckdb")
    _json(["ingest", str(p), "--table", "orders", "--workspace", ws, "--json"])
    doc = _json(["clv", "fit", "--calibration-end", "2024-03-01", "--workspace", ws, "--json"])
    assert doc["kind"] == "clv" and {r["model"] for r in doc["tables"]["models"]} == {"bg_nbd", "mbg_nbd"}
    assert "customers" not in doc["tables"]  # per-customer rows go to --output, not into the JSON
    doc = _json(["segment", "rfm", "--quantiles", "4", "--workspace", ws, "--json"])
    assert doc["kind"] == "rfm" and sum(r["customers"] for r in doc["tables"]["segments"]) == 300
    doc = _json(["segment", "cluster", "--k", "3", "--rounds", "3", "--workspace", ws, "--json"])
    assert doc["kind"] == "clusters" and len(doc["tables"]["clusters"]) == 3
    res = runner.invoke(app, ["segment", "rfm", "--quantiles", "1.5", "--workspace", ws])
    assert res.exit_code == 2 and "strictly between 0 and 1" in res.output
