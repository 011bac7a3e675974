"""The audit trail's verification (issue 23, item 6): each kind of tampering is detected, by the
chain (an entry updated, deleted, inserted or moved) or by the head kept outside the database
(a truncated tail, a chain rebuilt); a rolled-back transaction leaves the head alone; the CLI
exits 1 when the trail was tampered with."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from mercator.govern import entry_hash, record, verify_audit
from mercator.govern._audit import head_path
from mercator.interfaces.cli import app


@pytest.fixture
def trail(duckdb_ws):
    for i in range(6):
        record(duckdb_ws, "test.step", f"s{i}", actor="ana", detail={"i": i})
    assert verify_audit(duckdb_ws).params["intact"]
    return duckdb_ws


def _sql(ws, text):
    ws.engine.con.raw_sql(text)


@pytest.mark.parametrize(("tamper", "broken", "says"), [
    ("UPDATE audit SET actor = 'mallory' WHERE seq = 3", 3, "broken at entry 3"),
    ("DELETE FROM audit WHERE seq = 4", 4, "broken at entry 4"),
    (("UPDATE audit SET seq = seq + 1 WHERE seq >= 3; INSERT INTO audit (seq, ts, actor, action, subject, detail, "
     "prev_hash, hash) SELECT 3, ts, 'mallory', 'test.step', 'x', '{}', prev_hash, hash FROM audit WHERE seq = 2"),
     3, "broken at entry 3"),
    ("UPDATE audit SET seq = CASE seq WHEN 2 THEN 5 WHEN 5 THEN 2 ELSE seq END", 2, "broken at entry 2"),
    ("DELETE FROM audit WHERE seq >= 5", None, "2 entries were cut off the end"),
])
def test_each_kind_of_tampering_is_detected(trail, tamper, broken, says):
    _sql(trail, tamper)
    res = verify_audit(trail)
    assert not res.params["intact"] and res.params["broken_at"] == broken
    assert says in res.findings[0].text, res.findings[0].text


def test_a_chain_rebuilt_from_some_entry_on_is_caught_by_the_head(trail):
    """Rewrite entry 6 and recompute its hash so every link holds: only the head can tell."""
    row = trail.table("audit").order_by("seq").to_pandas().iloc[-1]
    forged = entry_hash(row.prev_hash, 6, row.ts, "mallory", row.action, row.subject, row.detail)
    _sql(trail, f"UPDATE audit SET actor = 'mallory', hash = '{forged}' WHERE seq = 6")
    res = verify_audit(trail)
    assert res.params["broken_at"] is None and not res.params["intact"]
    assert "the chain was rebuilt" in res.findings[0].text


def test_the_head_moves_only_when_the_transaction_commits(trail):
    before = json.loads(head_path(trail).read_text())
    with pytest.raises(RuntimeError), trail.transaction():
        record(trail, "test.step", "never")
        raise RuntimeError("the load failed")
    assert json.loads(head_path(trail).read_text()) == before and verify_audit(trail).params["intact"]
    with trail.transaction():
        record(trail, "test.step", "kept")
    assert json.loads(head_path(trail).read_text())["seq"] == before["seq"] + 1


def test_cli_verify_exits_1_on_tampering(trail):
    path = trail.location.removeprefix("duckdb://")
    _sql(trail, "DELETE FROM audit WHERE seq = 6")
    trail.close()
    res = CliRunner().invoke(app, ["govern", "verify", "--json", "--workspace", path])
    assert res.exit_code == 1 and json.loads(res.stdout)["params"]["intact"] is False
