"""Retention (issue 23, item 3) on a controllable clock: rows older than each table's period
are counted by the dry run, deleted by --apply (exactly those, nothing else), the counts go to
the audit trail, and the settings file overrides a period. The truth is the hand-set stamps."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from mercator.errors import ConfigError
from mercator.govern import audit_trail, retention
from mercator.interfaces.cli import app

NOW = dt.datetime(2026, 6, 1, 12, 0)


def _events(ws):
    # one event per month back from NOW: 13 months keeps 2025-05-01 12:00 onwards
    ts = [NOW - pd.DateOffset(months=m) - pd.Timedelta(hours=1) for m in range(20)]
    ws.replace("events", pd.DataFrame({"event_id": [f"e{i}" for i in range(len(ts))], "user_id": "u",
                                       "event_name": "page_view", "ts": ts}).astype({"ts": "datetime64[us]"}),
               on=["event_id"])
    q = pd.DataFrame({"load_id": 1, "table_name": "orders", "source_file": "o.csv", "source_row": range(2, 12),
                      "reason": "bad_number", "quarantined_at": [NOW - dt.timedelta(days=d) for d in range(0, 50, 5)]})
    ws.replace("quarantine", q.astype({"quarantined_at": "datetime64[us]"}),
               on=["table_name", "source_file", "source_row", "reason"])


def test_dry_run_counts_apply_deletes_exactly_the_expired_rows(duckdb_ws):
    ws = duckdb_ws
    _events(ws)
    dry = retention(ws, now=NOW).to_frame("tables").set_index("table")
    # events 13, 14, ... 19 months back (each an hour before the month mark) are past 13 months
    assert dry.loc["events", "expired"] == 7 and dry.loc["events", "rows"] == 20
    assert dry.loc["quarantine", "expired"] == 3  # 35, 40 and 45 days back; 30 days back is on the cutoff
    assert ws.count("events") == 20  # a dry run deletes nothing
    done = retention(ws, now=NOW, apply=True)
    assert done.to_frame("tables").set_index("table").loc["events", "deleted"] == 7
    left = ws.table("events").to_pandas()
    assert left.ts.min() >= NOW - pd.DateOffset(months=13) and len(left) == 13
    assert retention(ws, now=NOW).params["expired"] == 0  # again: nothing left to remove
    entry = audit_trail(ws, action="govern.retention").to_frame("entries").iloc[0]
    assert json.loads(entry.detail) == {"events": 7, "quarantine": 3}


def test_the_settings_file_overrides_a_period_and_bad_ones_are_named(duckdb_ws):
    ws = duckdb_ws
    _events(ws)
    with ws.config.path.open("a") as f:
        f.write('\n[retention]\nevents = "90d"\nquarantine = "never"\n')
    t = retention(ws, now=NOW).to_frame("tables").set_index("table")
    assert t.loc["events", "expired"] == 17 and t.loc["quarantine", "expired"] == 0
    with ws.config.path.open("a") as f:
        f.write('ad_spend = "1y"\n')
    with pytest.raises(ConfigError, match="'ad_spend', which is not a table with a time column"):
        retention(ws, now=NOW)


def test_cli_retention_json(duckdb_ws, tmp_path):
    _events(duckdb_ws)
    path = str(duckdb_ws.location).removeprefix("duckdb://")
    duckdb_ws.close()
    res = CliRunner().invoke(app, ["govern", "retention", "--now", "2026-06-01T12:00", "--json", "--workspace", path])
    assert res.exit_code == 0, res.stdout
    doc = json.loads(res.stdout)
    assert doc["kind"] == "retention" and doc["params"]["expired"] == 10
