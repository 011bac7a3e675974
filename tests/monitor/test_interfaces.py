"""The monitor through the command line and the API: an edit after lock is refused (exit 2 in
the CLI, 409 in the API), rules and alerts round-trip, bad requests get problem documents,
and the server's scheduler evaluates due rules."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from mercator.demo._stream import stream
from mercator.interfaces.api import create_app
from mercator.interfaces.cli import app
from mercator.workspace import Workspace

RULES = {"contacts": {"log": {"type": "log"}},
         "rules": [{"name": "spend_spike", "kind": "change", "metric": "cost", "by": ["campaign"], "window": "1h",
                    "above": 1.0, "every": "5m", "notify": ["log"]}]}


@pytest.fixture(scope="module")
def path(tmp_path_factory):
    ads, _, truth = stream(dt.date(2026, 1, 1), 20, seed=5)
    p = tmp_path_factory.mktemp("monitor-if") / "ws.duckdb"
    with Workspace(p) as ws:
        ws.replace("ad_performance", ads, on=["date", "hour", "campaign"])
    return str(p), truth


def _cli(*args):
    res = CliRunner().invoke(app, list(args))
    return res.exit_code, res.stdout, res.stderr


def test_cli_objective_lock_refuses_edit_and_json_is_one_document(path):
    p, _ = path
    w = ("--workspace", p)
    code, out, _ = _cli("objective", "set", "cli_goal", "--kpi", "cpa", "--target", "15", "--threshold", "18",
                        "--start", "2026-01-15", "--end", "2026-01-20", "--campaign", "alpha", "--guardrail",
                        "ctr=0.015", "--roles", "marketing", "--json", *w)
    assert code == 0, out
    doc = json.loads(out)
    assert doc["kind"] == "objectives" and doc["params"]["status"] == "draft" and doc["params"]["baseline"] > 0
    code, out, _ = _cli("objective", "sign", "cli_goal", "--role", "marketing", "--person", "ana", "--json", *w)
    assert code == 0 and json.loads(out)["params"]["locked"]
    code, out, err = _cli("objective", "set", "cli_goal", "--kpi", "cpa", "--target", "12", "--start", "2026-01-15",
                          "--end", "2026-01-20", *w)
    assert code == 2 and "cannot be edited" in err and "Traceback" not in err
    code, out, _ = _cli("audit", "--subject", "cli_goal", "--json", *w)
    assert json.loads(out)["params"]["intact"]


def test_cli_monitor_run_replay_and_alerts(path, tmp_path):
    p, truth = path
    rules = tmp_path / "rules.yaml"
    rules.write_text(json.dumps(RULES))
    spike = truth["spend_spike"]["start"]
    code, out, _ = _cli("monitor", "run", "--rules", str(rules), "--from", (spike - dt.timedelta(hours=2)).isoformat(),
                        "--to", (spike + dt.timedelta(hours=2)).isoformat(), "--dry-run", "--json", "--workspace", p)
    assert code == 0, out
    doc = json.loads(out)
    events = doc["tables"]["events"]
    assert [e["event"] for e in events] == ["firing", "resolved"]
    assert {e["status"] for e in events} == {"recorded"}
    code, out, _ = _cli("monitor", "alerts", "--json", "--workspace", p)
    assert code == 0 and {a["rule"] for a in json.loads(out)["tables"]["alerts"]} == {"spend_spike"}
    code, _, err = _cli("monitor", "run", "--now", "yesterday", "--workspace", p)
    assert code == 2 and "--now 'yesterday' is not a time" in err


def test_api_objectives_409_rules_alerts_ack_silence_and_problems(path):
    p, truth = path
    with TestClient(create_app(p, sync_interval=3600, monitor_interval=0)) as c:
        body = {"objective_id": "api_goal", "kpi": "roas", "target": 4.0, "threshold": 3.5, "start": "2026-01-15",
                "end": "2026-01-20", "campaign": "beta", "roles": ["marketing", "finance"]}
        r = c.post("/v1/objectives", json=body)
        assert r.status_code == 200 and r.json()["params"]["status"] == "draft"
        for role in ("marketing", "finance"):
            r = c.post("/v1/objectives/api_goal/signoff", json={"role": role, "person": role[:3]})
        assert r.json()["params"]["locked"]
        r = c.post("/v1/objectives", json={**body, "target": 5.0})
        assert r.status_code == 409 and r.headers["content-type"] == "application/problem+json"
        assert "cannot be edited" in r.json()["detail"]
        r = c.post("/v1/objectives", json={**body, "target": 5.0, "propose": True})
        assert r.json()["params"]["status"] == "proposed"
        assert c.get("/v1/objectives", params={"objective_id": "api_goal"}).json()["tables"]["objectives"][0][
            "version"] == 2
        # bad requests: problem documents, never a 500
        assert c.post("/v1/objectives", json={**body, "kpi": "reach"}).status_code == 400
        assert c.post("/v1/objectives", json={**body, "colour": "red"}).status_code == 422
        assert c.post("/v1/objectives/nope/signoff", json={"role": "finance"}).status_code == 404
        assert c.post("/v1/alert-rules", json={"rules": [{"name": "x", "kind": "nope"}]}).status_code == 400

        assert c.post("/v1/alert-rules", json={**RULES, "author": "ana"}).status_code == 200
        assert c.get("/v1/alert-rules").json()["tables"]["rules"][0]["name"] == "spend_spike"
        fired_at = (truth["spend_spike"]["start"] + dt.timedelta(minutes=5)).isoformat()
        run = c.post("/v1/monitor/run", json={"now": fired_at}).json()
        assert run["params"]["firing"] == 1
        alert = next(a for a in c.get("/v1/alerts", params={"state": "firing"}).json()["tables"]["alerts"])
        r = c.post(f"/v1/alerts/{alert['alert_id']}/ack", json={"by": "ana"})
        assert r.status_code == 200 and r.json()["tables"]["alerts"][0]["acked_by"] == "ana"
        assert c.post("/v1/alerts/nope/ack", json={"by": "ana"}).status_code == 404
        r = c.post("/v1/silences", json={"matchers": {"campaign": "beta"}, "duration": "2h"})
        assert r.status_code == 200
        assert len(c.get("/v1/silences").json()["tables"]["silences"]) == 1
        assert c.post("/v1/silences", json={"matchers": {}, "duration": "2h"}).status_code == 422
        # the optimization log: an automated change above its limit waits; approval is its own entry
        r = c.post("/v1/changes", json={"campaign": "beta", "kind": "budget", "actor": "rule:pacing",
                                        "reason": "reallocate", "before": 100, "after": 150, "automated": True})
        change = r.json()["params"]
        assert change["status"] == "pending"
        assert c.post(f"/v1/changes/{change['change_id']}/approve", json={"by": "fred"}).json()["params"][
            "status"] == "approved"
        assert c.post(f"/v1/changes/{change['change_id']}/approve", json={"by": "fred"}).status_code == 409
        assert c.post("/v1/changes", json={"campaign": "beta", "kind": "price", "actor": "a",
                                           "reason": "b"}).status_code == 400
        assert len(c.get("/v1/changes", params={"campaign": "beta"}).json()["tables"]["changes"]) == 2
        # the review judges the locked version 1 (target 4.0), archived beside the workspace
        r = c.post("/v1/reviews/beta")
        assert r.status_code == 200, r.text
        doc = r.json()
        assert doc["tables"]["objectives"][0]["target"] == 4.0 and doc["params"]["archive"]
        assert c.post("/v1/reviews/nobody").status_code == 404
        assert c.post("/v1/playbook", json={"campaign": "beta", "what": "ROAS held at 4"}).status_code == 200
        assert len(c.get("/v1/playbook", params={"text": "roas"}).json()["tables"]["lessons"]) == 1
        assert c.get("/v1/monitor/health").json()["kind"] == "system_health"
        assert c.get("/v1/audit").json()["params"]["intact"]


def test_the_server_scheduler_evaluates_due_rules_once_per_interval(path):
    from mercator.monitor import Scheduler

    p, _truth = path
    with TestClient(create_app(p, sync_interval=3600, monitor_interval=0)) as c:
        c.post("/v1/alert-rules", json=RULES)
        sched: Scheduler = c.app.state.monitor
        first = sched.run_due(now=1_000_000.0)
        assert first is not None and first.params["rules"] == 1
        assert sched.run_due(now=1_000_000.0 + 60) is None  # every 5m: not due after a minute
        assert sched.run_due(now=1_000_000.0 + 300) is not None
