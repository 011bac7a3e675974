"""A process killed in the middle of a load leaves the workspace exactly as it was."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from mercator import Workspace
from mercator.ingest import ingest


def test_kill_during_load_leaves_workspace_unchanged(tmp_path):
    db = tmp_path / "ws.duckdb"
    first = tmp_path / "first.csv"
    first.write_text("order_id,ts,revenue\n" + "".join(f"o{i},2024-01-01,{i}\n" for i in range(100)))
    with Workspace(str(db)) as ws:
        ingest(ws, first, table="orders")
        before = {t: ws.count(t) for t in ("orders", "quarantine", "loads")}
        snapshot = ws.table("orders").order_by("order_id").to_pandas()
    second = tmp_path / "second.csv"
    second.write_text("order_id,ts,revenue\n" + "".join(f"n{i},2024-01-02,{i}\n" for i in range(5000))
                      + "o1,2024-01-01,999\nbad,not-a-date,1\n")
    env = {**os.environ, "MERCATOR_TEST_HOLD": "commit"}
    proc = subprocess.Popen([sys.executable, "-m", "mercator.interfaces.cli", "ingest", str(second), "--table", "orders",
                             "--workspace", str(db)], env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            text=True)
    deadline = time.time() + 120
    line = ""
    while time.time() < deadline:
        line = proc.stderr.readline()
        if "MERCATOR_HOLDING commit" in line or proc.poll() is not None:
            break
    assert "MERCATOR_HOLDING commit" in line, "the load never reached the point before commit"
    proc.send_signal(signal.SIGKILL)  # every write of the load is done, nothing committed
    proc.wait(timeout=30)
    with Workspace(str(db)) as ws:
        assert {t: ws.count(t) for t in ("orders", "quarantine", "loads")} == before
        assert ws.table("orders").order_by("order_id").to_pandas().equals(snapshot)
