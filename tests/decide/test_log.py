"""The decision log loses nothing and repeats nothing: through rotation, a torn line, a second
sync, and a process killed with SIGKILL while it appends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

from mercator import Workspace
from mercator.decide._log import DecisionLog, into


def _record(i: int) -> dict:
    return {"decision_id": f"d{i}", "ts": (1_700_000_000 + i) * 1_000_000, "person_id": f"p{i % 7}",
            "policy": "hero", "policy_version": 1, "context": '{"device":"mobile"}', "context_hash": "abc",
            "eligible": "a,b",
            "arm": "a", "propensity": 0.5, "fallback_reason": None, "latency_ms": 0.1}


def test_every_decision_reaches_the_table_once(tmp_path):
    ws = Workspace(str(tmp_path / "w.duckdb"))
    log = DecisionLog(tmp_path / "log")
    for i in range(250):
        log.append(_record(i))
        if i == 100:
            log.rotate()
    with (log.folder / f"wal-{log._n:09d}.jsonl").open("ab") as f:
        f.write(b'{"decision_id": "torn", "ts": 17')  # a crash inside a write: no newline, no answer
    assert log.sync(into(ws)) == 250
    log.append(_record(3))  # the same decision again (a replayed segment): replaced, not added
    log.close()
    assert log.sync(into(ws)) == 1
    rows = ws.table("decisions").to_pandas()
    assert len(rows) == 250 and rows.decision_id.is_unique
    assert rows.set_index("decision_id").loc["d7", "context"] == '{"device":"mobile"}'
    assert str(rows.set_index("decision_id").loc["d7", "ts"]) == "2023-11-14 22:13:27"
    assert not list(log.folder.iterdir())
    ws.close()


def test_a_killed_process_loses_no_answered_decision(tmp_path):
    """A child appends decisions as fast as it can and prints each id after its append returns
    (the moment a server answers); it is killed with SIGKILL mid-stream. A new log on the same
    folder hands every printed decision to the table; at most the one in flight is extra."""
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(os.getcwd())!r})
        from tests.decide.test_log import _record
        from mercator.decide._log import DecisionLog
        log = DecisionLog({str(tmp_path / "log")!r}, interval=0.05)
        log.start()
        i = 0
        while True:
            log.append(_record(i))
            sys.stdout.write(f"d{{i}}\\n"); sys.stdout.flush()
            i += 1
    """)
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    answered = []
    deadline = time.time() + 60
    while len(answered) < 20_000 and time.time() < deadline:
        answered.append(child.stdout.readline().strip())
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    answered += [line.strip() for line in child.stdout.read().splitlines() if line.strip()]
    ws = Workspace(str(tmp_path / "w.duckdb"))
    log = DecisionLog(tmp_path / "log")
    log.sync(into(ws))
    logged = set(ws.table("decisions").decision_id.to_pyarrow().to_pylist())
    assert set(answered) <= logged
    assert len(logged) - len(answered) <= 1
    ws.close()
