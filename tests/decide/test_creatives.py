"""The creative registry: versions with who and why, a status change keeps the rest, bad input
named; a policy's arm runs only while its creative is live and within its dates, and serves its
content; caps survive a server restart (the log is their memory)."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient

from mercator import Workspace
from mercator.decide import list_creatives, save_creative
from mercator.decide._policy import Decider, parse_policy
from mercator.errors import BadParameter, NotFoundError
from mercator.interfaces.api import create_app

POLICY = """
policy: hero
bandit: thompson
context: [device]
purpose: null
default: generic
caps:
  - {scope: arm, max: 1, window: 1d}
arms:
  - {id: summer}
  - {id: winter}
  - {id: generic}
"""


def test_versions_keep_the_history_and_a_status_change_keeps_the_rest(duckdb_ws):
    ws = duckdb_ws
    first = save_creative(ws, "summer", content="Summer sale: 20% off", channel="web", market="US",
                          segment="new", test_cycle="q3-banner", start="2026-06-01", end="2026-08-31",
                          author="ana", reason="launch")
    assert first.params == {"creative_id": "summer", "version": 1, "status": "draft"}
    save_creative(ws, "summer", status="live", author="ben", reason="approved")
    save_creative(ws, "winter", kind="offer", status="paused")
    history = list_creatives(ws, "summer").to_frame("creatives")
    assert list(history.version) == [2, 1] and list(history.status) == ["live", "draft"]
    latest = history.iloc[0]
    assert (latest.content, latest.channel, latest.test_cycle, latest.author) == (
        "Summer sale: 20% off", "web", "q3-banner", "ben")
    assert str(latest.end)[:10] == "2026-08-31"
    live = list_creatives(ws, status="live").to_frame("creatives")
    assert list(live.creative_id) == ["summer"]
    assert list(list_creatives(ws).to_frame("creatives").creative_id) == ["summer", "winter"]
    with pytest.raises(BadParameter, match="status must be one of"):
        save_creative(ws, "summer", status="on")
    with pytest.raises(BadParameter, match="end 2026-01-01 is before start 2026-06-01"):
        save_creative(ws, "summer", end="2026-01-01")
    with pytest.raises(BadParameter, match="start 'soon' is not a date"):
        save_creative(ws, "x", start="soon")
    with pytest.raises(NotFoundError, match="no creative 'nope'"):
        list_creatives(ws, "nope")


def test_an_arm_runs_only_while_its_creative_is_live_and_in_its_dates(duckdb_ws):
    ws = duckdb_ws
    save_creative(ws, "summer", status="live", content="S", start="2026-06-01", end="2026-06-30")
    save_creative(ws, "winter", status="paused", content="W")
    from mercator.decide._registry import live_creatives

    decider = Decider(parse_policy(POLICY.replace("caps:", "old:").replace("  - {scope", "  # ")),
                      creatives=live_creatives(ws), seed=0)
    june = dt.datetime(2026, 6, 30, 23, tzinfo=dt.UTC).timestamp()
    july = dt.datetime(2026, 7, 1, 0, 30, tzinfo=dt.UTC).timestamp()
    served = {decider.decide("p", {}, now=june)["arm"] for _ in range(200)}
    assert served == {"summer", "generic"}  # winter is paused; generic has no creative: always runs
    assert {decider.decide("p", {}, now=july)["arm"] for _ in range(50)} == {"generic"}  # summer ended
    assert decider.content == {"summer": "S", "winter": "W"}


def test_the_api_serves_content_and_caps_hold_after_a_restart(tmp_path):
    path = str(tmp_path / "w.duckdb")
    Workspace(path).close()
    with TestClient(create_app(path, sync_interval=3600)) as client:
        r = client.post("/v1/creatives", json={"creative_id": "summer", "content": "Summer sale", "status": "live",
                                               "author": "ana", "reason": "launch"})
        assert r.status_code == 200, r.text
        bad = client.post("/v1/creatives", json={"creative_id": "winter", "status": "on"})
        assert bad.status_code == 400 and "status must be one of" in bad.json()["detail"]
        assert client.post("/v1/policies", json={"spec": POLICY}).status_code == 200
        first = [client.post("/v1/decide", json={"policy": "hero", "person_id": "p1"}).json() for _ in range(3)]
        assert sorted(d["arm"] for d in first) == ["generic", "summer", "winter"]  # each arm once a day
        assert next(d for d in first if d["arm"] == "summer")["content"] == "Summer sale"
        listed = client.get("/v1/creatives", params={"status": "live"}).json()
        assert [row["creative_id"] for row in listed["tables"]["creatives"]] == ["summer"]
        assert client.get("/v1/creatives", params={"creative_id": "nope"}).status_code == 404
    with TestClient(create_app(path, sync_interval=3600)) as client:  # a restart: caps remembered
        again = client.post("/v1/decide", json={"policy": "hero", "person_id": "p1"}).json()
        assert again["reason"] == "every eligible arm is capped for this person: the default"
        other = client.post("/v1/decide", json={"policy": "hero", "person_id": "p2"}).json()
        assert other["reason"] == "chosen by the policy among the eligible arms"


def test_serving_state_reads_suppression_stock_and_scores_from_the_workspace(duckdb_ws, tmp_path):
    import pandas as pd

    from mercator.decide._policy import parse_policy
    from mercator.decide._service import serving_state
    from tests.conftest import ingest_text

    ws = duckdb_ws
    ws.replace("segment_members", pd.DataFrame({"segment_set": ["s1", "s1"], "customer_id": ["c1", "c2"],
                                                "segment": ["churned", "loyal"]}), on=["segment_set", "customer_id"])
    ingest_text(ws, tmp_path, "product_id,name,price,stock\nsku1,Mug,10,0\nsku2,Cup,8,5\n", "products")
    recs = tmp_path / "recs.csv"
    recs.write_text("customer_id,product_id,score\nc1,sku1,0.9\nc1,sku2,0.4\nc3,sku2,0.7\nc3,other,0.99\n")
    policy = parse_policy({"policy": "p", "bandit": "scores", "purpose": None, "suppress": ["churned"],
                           "scores": {"source": str(recs), "person": "customer_id", "arm": "product_id"},
                           "arms": [{"id": "sku1", "product": "sku1"}, {"id": "sku2", "product": "sku2"}]})
    state = serving_state(ws, policy)
    assert state["suppressed"] == {"c1"} and state["out_of_stock"] == {"sku1"}
    assert state["scores"] == {"c1": {"sku1": 0.9, "sku2": 0.4}, "c3": {"sku2": 0.7}}  # only the policy's arms
    d = Decider(policy, seed=0, **state)
    assert d.decide("c3", {})["arm"] == "sku2" and d.decide("c1", {})["fallback_reason"] == "suppressed: the default"
    bad = parse_policy({"policy": "p", "bandit": "scores", "purpose": None,
                        "scores": {"source": str(recs), "person": "who"}, "arms": [{"id": "sku1"}]})
    with pytest.raises(BadParameter, match="has no column\\(s\\) who"):
        serving_state(ws, bad)
