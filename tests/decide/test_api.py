"""The decision routes of `mercator serve`: a policy saved through the API is served at once;
every answered decision is logged exactly once and rejected requests are not; bad requests get
a problem document naming the field; feedback is learned within the attribution window."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from mercator import Workspace
from mercator.interfaces.api import create_app

POLICY = """
policy: hero
bandit: thompson
floor: 0.02
context: [device, hour]
purpose: null
default: generic
arms:
  - {id: summer, when: {device: [mobile]}}
  - {id: winter}
  - {id: generic}
"""


@pytest.fixture
def served(tmp_path):
    path = str(tmp_path / "w.duckdb")
    Workspace(path).close()
    with TestClient(create_app(path, sync_interval=3600)) as client:
        yield client, path


def test_decisions_are_served_logged_once_and_learned(served):
    client, path = served
    saved = client.post("/v1/policies", json={"spec": POLICY, "author": "ana", "reason": "launch"})
    assert saved.status_code == 200, saved.text
    assert saved.json()["params"]["version"] == 1
    answered = []
    for i in range(300):
        r = client.post("/v1/decide", json={"policy": "hero", "person_id": f"p{i % 9}",
                                             "context": {"device": "mobile" if i % 2 else "desktop", "hour": 10}})
        assert r.status_code == 200, r.text
        answered.append(r.json())
    first = answered[0]
    assert set(first) == {"decision_id", "policy", "version", "arm", "content", "propensity", "reason", "eligible"}
    assert first["eligible"] == ["winter", "generic"] and 0.02 <= first["propensity"] <= 1
    learned = client.post("/v1/feedback", json={"decision_id": first["decision_id"], "reward": 1})
    assert learned.json()["status"] == "learned"
    again = client.post("/v1/feedback", json={"decision_id": first["decision_id"], "reward": 1})
    assert again.json()["status"].startswith("not learned")
    bad = [client.post("/v1/decide", json={"policy": "hero", "context": {"colour": "red"}}),
           client.post("/v1/decide", json={"policy": "nope"}),
           client.post("/v1/decide", content=b"{not json"),
           client.post("/v1/decide", json={"policy": 3}),
           client.post("/v1/decide", json={"policy": "hero", "extra": 1}),
           client.post("/v1/feedback", json={"decision_id": "x", "reward": "high"})]
    assert [b.status_code for b in bad] == [422, 404, 422, 422, 422, 422]
    assert bad[0].json()["errors"][0]["where"] == "body.context.colour"
    assert bad[3].json()["detail"] == "body.policy: must be text"
    assert all(b.headers["content-type"] == "application/problem+json" for b in bad)
    listed = client.get("/v1/policies").json()
    row = listed["tables"]["policies"][0]
    assert (row["policy"], row["version"], row["status"], row["author"]) == ("hero", 1, "live", "ana")
    client.__exit__(None, None, None)  # shutdown hands the logs to the workspace
    ws = Workspace(path, read_only=True)
    logged = ws.table("decisions").to_pandas()
    assert sorted(logged.decision_id) == sorted(a["decision_id"] for a in answered)
    assert ws.count("rewards") == 2
    ws.close()


def test_the_summary_route_equals_the_command_line(served):
    """After a server hands its log over, `GET /v1/decide/summary` serves what `mercator decide
    summary --json` prints."""
    import json

    from typer.testing import CliRunner

    from mercator.interfaces.cli import app

    client, path = served
    client.post("/v1/policies", json={"spec": POLICY})
    for i in range(50):
        d = client.post("/v1/decide", json={"policy": "hero", "context": {"device": "mobile"}}).json()
        client.post("/v1/feedback", json={"decision_id": d["decision_id"], "reward": i % 2})
    client.__exit__(None, None, None)
    cli = CliRunner().invoke(app, ["decide", "summary", "--workspace", path, "--json"])
    assert cli.exit_code == 0, cli.output
    with TestClient(create_app(path, sync_interval=3600)) as again:
        api = again.get("/v1/decide/summary").json()
    assert api == json.loads(cli.stdout) and api["params"]["decisions"] == 50
