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


# -- entries that wait: readers, the API's access log ------------------------------------------

def _actions(ws) -> list[str]:
    return ws.table("audit").order_by("seq").action.to_pyarrow().to_pylist()


def test_a_reader_leaves_its_entry_for_the_next_writer_which_chains_it_once(tmp_path):
    """A read-only workspace cannot write: its entry (a model trained, a list exported) waits in
    the pending file; the next writer chains it. A crash after the commit that left the claimed
    file behind does not chain it twice (its ref is known)."""
    from mercator import Workspace
    from mercator.govern import pending_files, waiting

    path = str(tmp_path / "ws.duckdb")
    Workspace(path).close()
    with Workspace(path, read_only=True) as ro:
        assert record(ro, "model.train", "m1", detail={"rows": 10}) is None
        assert ro.audit_deferred == 1 and waiting(ro) == 1
    pending = pending_files(path + ".toml")[0]
    kept = pending.read_bytes()
    with Workspace(path) as ws:
        assert _actions(ws) == ["model.train"] and waiting(ws) == 0
        assert verify_audit(ws).params["intact"]
    pending.with_name(pending.name + ".123").write_bytes(kept)  # as a crash before the delete leaves it
    with Workspace(path) as ws:
        assert _actions(ws) == ["model.train"] and waiting(ws) == 0


def test_entries_deferred_while_another_process_chains_are_each_chained_once(tmp_path):
    """Writers append under the file's lock while a chainer claims the file by renaming it:
    every entry ends in the trail exactly once (none written to a file already read)."""
    import threading

    from mercator import Workspace
    from mercator.govern import chain_pending, defer, pending_path

    path = str(tmp_path / "ws.duckdb")
    ws = Workspace(path)
    target = pending_path(ws)

    def write(who: int) -> None:
        for i in range(150):
            defer(target, {"actor": f"w{who}", "action": "api.read", "subject": f"/v1/{i}", "detail": {"i": i}})

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    chained = 0
    while any(t.is_alive() for t in threads):
        chained += chain_pending(ws)
    chained += chain_pending(ws)
    rows = ws.table("audit").to_pandas()
    assert chained == len(rows) == 600
    assert rows.groupby("actor").size().to_dict() == {f"w{w}": 150 for w in range(4)}
    assert verify_audit(ws).params["intact"]
    ws.close()


def test_every_api_request_is_audited_with_a_fingerprint_never_the_token(tmp_path, monkeypatch):
    from fastapi.testclient import TestClient

    from mercator.interfaces.api import create_app

    token = "viewer-token-0123456789"
    monkeypatch.setenv("MERCATOR_ACCESS_TOKENS", f"viewer:{token},admin:admin-token-0123456789")
    path = str(tmp_path / "ws.duckdb")
    from mercator import Workspace

    Workspace(path).close()
    app = create_app(path, monitor_interval=0, audit_interval=0)
    with TestClient(app) as client:
        assert client.get("/v1/tables", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        assert client.get("/v1/tables").status_code == 401
        assert client.post("/v1/objectives", json={}, headers={"Authorization": f"Bearer {token}"}).status_code == 403
        client.get("/healthz")
    # the server chained what waited when it stopped
    with Workspace(path, read_only=True) as ws:
        rows = ws.table("audit").order_by("seq").to_pandas()
    assert list(rows.action) == ["api.read", "api.read", "api.call"]
    assert list(rows.subject) == ["/v1/tables", "/v1/tables", "/v1/objectives"]
    assert [json.loads(d)["status"] for d in rows.detail] == [200, 401, 403]
    fingerprint = rows.actor.iloc[0]
    assert fingerprint.startswith("viewer:") and len(fingerprint) == len("viewer:") + 12
    assert rows.actor.iloc[1] == "anonymous" and rows.actor.iloc[2] == fingerprint
    assert not rows.astype(str).apply(lambda c: c.str.contains(token)).any().any()


def test_a_model_trained_and_a_list_exported_from_the_cli_are_audited(tmp_path):
    """`target train` and `--output` run on a read-only workspace; the CLI chains what they left
    when it ends."""
    import numpy as np
    import pandas as pd

    from mercator import Workspace

    rng = np.random.default_rng(3)
    x = rng.normal(size=600)
    data = tmp_path / "leads.csv"
    pd.DataFrame({"lead_id": [f"l{i}" for i in range(600)], "x": x, "z": rng.normal(size=600),
                  "y": (x + rng.normal(size=600) > 0).astype(int)}).to_csv(data, index=False)
    path = str(tmp_path / "ws.duckdb")
    Workspace(path).close()
    model, out = tmp_path / "m.mercator-model", tmp_path / "train.csv"
    res = CliRunner().invoke(app, ["target", "train", "--table", str(data), "--label", "y", "--exclude", "lead_id",
                                   "--model-out", str(model), "--workspace", path, "--output", str(out)])
    assert res.exit_code == 0, res.output
    with Workspace(path, read_only=True) as ws:
        rows = ws.table("audit").order_by("seq").to_pandas()
    assert list(rows.action) == ["model.train", "export"]
    trained, exported = (json.loads(d) for d in rows.detail)
    assert trained["path"] == str(model) and trained["source"] == str(data)
    assert rows.subject.iloc[1] == str(out) and exported["what"] == "target_model"
