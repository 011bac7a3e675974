"""The workspace file and its neighbours (issue 17, items 4, 8, 10 and 13): what may be
opened as a workspace, waiting for a lock, a query that can only read, a private key file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from mercator import Workspace
from mercator.errors import ConfigError, WorkspaceError
from mercator.interfaces.cli import app

runner = CliRunner()


@pytest.fixture
def loaded(tmp_path):
    ws = str(tmp_path / "w.duckdb")
    p = tmp_path / "orders.csv"
    p.write_text("order_id,ts,revenue\no1,2024-01-01,5\no2,2024-01-02,7\no3,yesterday,1\n")
    assert runner.invoke(app, ["ingest", str(p), "--table", "orders", "-w", ws]).exit_code == 0
    return ws


# -- item 4: only a DuckDB database (or a new path) is a workspace -------------------------------

def test_a_data_file_or_folder_is_refused_as_workspace(tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("order_id,ts,revenue\n" + "".join(f"o{i},2024-01-01,1\n" for i in range(10)))
    before = data.read_bytes()
    res = runner.invoke(app, ["ingest", str(data), "--table", "orders", "-w", str(data)])
    assert res.exit_code == 2 and "is not a DuckDB database" in res.output and "data.csv" in res.output
    assert data.read_bytes() == before  # untouched
    for target in (tmp_path, tmp_path / "empty.duckdb"):
        if target.suffix:
            target.write_bytes(b"")
        with pytest.raises(WorkspaceError, match="folder|not a DuckDB database"):
            Workspace(str(target))
    with pytest.raises(WorkspaceError, match="folder .* does not exist"):
        Workspace(str(tmp_path / "no" / "such" / "w.duckdb"))


# -- item 8: wait for a held lock, say who holds it -----------------------------------------------

def _hold(path: str, seconds: float, read_only: bool = False) -> subprocess.Popen:
    code = (f"import duckdb, sys, time; c = duckdb.connect({path!r}, read_only={read_only}); "
            f"print('held', flush=True); time.sleep({seconds})")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_readers_and_writers_wait_for_a_held_lock_and_name_the_holder(loaded, tmp_path):
    holder = _hold(loaded, 3)
    try:
        t0 = time.monotonic()
        res = runner.invoke(app, ["--wait", "30", "tables", "-w", loaded, "--json"])
        assert res.exit_code == 0, res.output
        assert time.monotonic() - t0 >= 1.5  # it waited for the holder to finish
        assert f"held by process {holder.pid}" in res.stderr and "duckdb.connect" in res.stderr
        assert json.loads(res.stdout)["kind"] == "tables"
    finally:
        holder.wait(timeout=30)
    reader = _hold(loaded, 3, read_only=True)  # a reader in another process: an ingest waits too
    try:
        p = tmp_path / "more.csv"
        p.write_text("order_id,ts,revenue\no9,2024-01-09,1\n")
        res = runner.invoke(app, ["--wait", "30", "ingest", str(p), "--table", "orders", "-w", loaded])
        assert res.exit_code == 0, res.output
    finally:
        reader.wait(timeout=30)
    holder = _hold(loaded, 20)
    try:
        res = runner.invoke(app, ["--wait", "0.5", "query", "select 1", "-w", loaded])
        assert res.exit_code == 2 and f"in use by process {holder.pid}" in res.output
    finally:
        holder.kill()
        holder.wait()


def test_lock_hint_only_when_a_lock_is_held(tmp_path):
    for args in (["tables"], ["query", "select 1"], ["quarantine"]):
        res = runner.invoke(app, [*args, "-w", str(tmp_path / "missing.duckdb")])
        assert res.exit_code == 2 and "does not exist" in res.output and "mercator init" in res.output
        assert "in use" not in res.output and "another process" not in res.output
    assert not (tmp_path / "missing.duckdb").exists()  # a reader never creates a workspace


def test_tables_and_quarantine_open_read_only(loaded):
    """While another process reads the file (a shared, read-only lock), only read-only opens
    succeed: tables and quarantine must be among them."""
    reader = _hold(loaded, 10, read_only=True)
    try:
        for args in (["tables"], ["quarantine"], ["query", "select count(*) n from orders"]):
            res = runner.invoke(app, ["--wait", "0", *args, "-w", loaded, "--json"])
            assert res.exit_code == 0, (args, res.output)
    finally:
        reader.kill()
        reader.wait()


# -- item 10: query reads, and reads only the workspace ------------------------------------------

def test_query_refuses_everything_but_one_select(loaded, tmp_path):
    key_file = loaded + ".toml"
    other = tmp_path / "other.duckdb"
    with Workspace(str(other)) as ws:
        ws.engine.con.raw_sql("INSERT INTO orders (order_id, ts) VALUES ('x', TIMESTAMP '2024-01-01')")
    leak = tmp_path / "leak.csv"
    attacks = {
        f"select 1; COPY (select * from read_text('{key_file}')) TO '{leak}'": "2 statements",
        f"select 1; ATTACH '{other}' AS v; DELETE FROM v.orders": "3 statements",
        "select * from read_csv('/etc/passwd')": "reads files",
        "select * from read_text('/etc/passwd')": "reads files",
        f"select * from '{key_file}'": "does not exist",  # no replacement scan for .toml: not a table
        f"select * from '{leak.with_suffix('.parquet')}'": "reads files",
        "INSTALL httpfs": "not a SELECT",
        "DELETE FROM orders": "not a SELECT",
        "PRAGMA version": "not a SELECT",
    }
    for sql, why in attacks.items():
        res = runner.invoke(app, ["query", sql, "-w", loaded])
        assert res.exit_code == 2 and why in res.output.replace("\n", " "), (sql, res.output)
    assert not leak.exists()
    with Workspace(str(other), read_only=True) as ws:
        assert ws.count("orders") == 1
    ok = runner.invoke(app, ["query", "with t as (select revenue from orders) select sum(revenue) s from t",
                             "-w", loaded, "--json"])
    assert json.loads(ok.stdout)["tables"]["rows"] == [{"s": 12.0}]


# -- item 13: the key file is private from its first byte ----------------------------------------

def test_key_file_is_created_private_and_refused_when_readable(tmp_path, monkeypatch):
    monkeypatch.delenv("MERCATOR_PSEUDONYMIZATION_KEY", raising=False)
    created = []
    real_open = os.open

    def spy(path, flags, mode=0o777, *a, **kw):
        if str(path).endswith(".toml"):
            created.append(mode)
        return real_open(path, flags, mode, *a, **kw)

    monkeypatch.setattr(os, "open", spy)
    with Workspace(str(tmp_path / "w.duckdb")):
        pass
    assert created == [0o600]  # the mode is given when the file is created, not set afterwards
    toml = tmp_path / "w.duckdb.toml"
    assert toml.stat().st_mode & 0o777 == 0o600
    toml.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        Workspace(str(tmp_path / "w.duckdb"))
    res = runner.invoke(app, ["tables", "-w", str(tmp_path / "w.duckdb")])
    assert res.exit_code == 2 and "permissions are 644" in res.output
