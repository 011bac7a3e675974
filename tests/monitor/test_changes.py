"""The optimization log: changes by people and automated rules, linked to the locked objective,
held for approval above the automated limit, append-only and in the audit trail (issue 22,
item 5)."""

from __future__ import annotations

import datetime as dt

import pytest

from mercator.errors import BadParameter, ConflictError, NotFoundError
from mercator.govern import audit_trail
from mercator.monitor import decide_change, list_changes, log_change, set_objective, sign_objective
from mercator.workspace import Workspace


@pytest.fixture
def ws(tmp_path):
    w = Workspace(tmp_path / "log.duckdb")
    set_objective(w, "spring", kpi_name="cpa", target=15, start="2026-03-01", end="2026-03-31", campaign="spring_sale",
                  roles=["finance"])
    sign_objective(w, "spring", "finance", person="fred")
    yield w
    w.close()


def test_changes_link_to_the_objective_and_automated_ones_above_the_limit_wait(ws):
    day = dt.datetime(2026, 3, 10, 9)
    by_hand = log_change(ws, "spring_sale", "budget", actor="ana", reason="CPA below target", before=1000, after=1500,
                         target="paid_search", evidence="finding: CPA 12.4 against 15", at=day)
    assert by_hand.params["status"] == "applied" and by_hand.params["objective_id"] == "spring"
    small = log_change(ws, "spring_sale", "bid", actor="rule:bid_learner", reason="mobile bids up", before=1.0,
                       after=1.25, automated=True, evidence="decision d-123", at=day)
    assert small.params["status"] == "applied"  # 25% is within the bid limit of 30%
    big = log_change(ws, "spring_sale", "budget", actor="rule:pacing", reason="reallocate", before=1000, after=1400,
                     automated=True, evidence="alert spend_spike:13bec0f6cd", at=day)
    assert big.params["status"] == "pending" and "above the automated limit of 20%" in big.findings[0].text
    outside = log_change(ws, "other", "creative", actor="ana", reason="paused", target="cr7",
                         at=dt.datetime(2026, 4, 2))
    assert outside.params["objective_id"] is None

    approved = decide_change(ws, big.params["change_id"], by="fred", reason="agreed in stand-up")
    assert approved.params["status"] == "approved"
    with pytest.raises(ConflictError, match="only a change waiting for approval"):
        decide_change(ws, big.params["change_id"], by="fred", approve=False)
    with pytest.raises(ConflictError):
        decide_change(ws, by_hand.params["change_id"], by="fred")
    with pytest.raises(NotFoundError):
        decide_change(ws, "nope", by="fred")

    log = list_changes(ws, objective_id="spring").to_frame("changes")
    assert list(log[log.change_id == big.params["change_id"]].status) == ["approved", "pending"]  # both kept
    assert len(log) == 4
    assert list_changes(ws).findings[0].text == "4 change(s): 2 by automated rules; 0 waiting for approval."
    assert list_changes(ws, status="pending").to_frame("changes").empty
    trail = audit_trail(ws, action="change")
    assert trail.params["intact"] and len(trail.to_frame()) == 5


def test_a_change_needs_a_kind_an_actor_and_a_reason(ws):
    with pytest.raises(BadParameter, match="kind must be one of"):
        log_change(ws, "spring_sale", "price", actor="ana", reason="x")
    with pytest.raises(BadParameter, match="who made it"):
        log_change(ws, "spring_sale", "budget", actor="", reason="x")


def test_an_automated_rule_logs_its_change_with_the_alert_as_evidence(tmp_path, caplog):
    """An overspend rule with an action: when its alert fires, the budget cut goes to the log;
    a 30% cut is above the 20% limit, so it waits for approval; a 10% cut applies. The same
    run again neither fires nor logs twice (the alert's state is kept)."""
    import pandas as pd

    from mercator.demo._stream import stream
    from mercator.monitor import parse_rules, run_monitor

    ads, _, _ = stream(dt.date(2026, 1, 1), 10, seed=3, incidents=False)
    w = Workspace(tmp_path / "act.duckdb")
    w.replace("ad_performance", ads, on=["date", "hour", "campaign"])
    noon = dt.datetime(2026, 1, 9, 12)
    day = ads[(ads.date == noon.date()) & (ads.hour < 12)]
    spent = day.groupby("campaign").cost.sum()
    rules = parse_rules({"rules": [
        {"name": "cut_alpha", "kind": "overspend", "by": ["campaign"], "budgets": {"alpha": spent["alpha"] * 0.9},
         "window": "1h", "every": "1h", "action": {"kind": "budget", "change": -0.3}, "notify": ["audit"]},
        {"name": "trim_beta", "kind": "overspend", "where": {"campaign": "beta"}, "budget": spent["beta"] * 0.9,
         "window": "1h", "every": "1h", "action": {"kind": "budget", "change": -0.1, "target": "beta daily"}}],
        "contacts": {"audit": {"type": "log"}}})
    with caplog.at_level("WARNING", logger="mercator.monitor"):
        res = run_monitor(w, rules, now=noon)
    changes = res.to_frame("changes").set_index("campaign")
    alerts = res.to_frame("alerts")
    alerts = alerts[alerts.state == "firing"].set_index("rule")
    assert changes.loc["alpha", "status"] == "pending" and changes.loc["beta", "status"] == "applied"
    assert changes.loc["alpha", "evidence"] == alerts.loc["cut_alpha", "alert_id"]
    assert changes.loc["beta", "target"] == "beta daily" and float(changes.loc["beta", "after"]) == 0.9
    assert changes.automated.all() and set(changes.actor) == {"rule cut_alpha", "rule trim_beta"}
    assert any("waits for approval" in f.text for f in res.findings)
    sent = [r.getMessage() for r in caplog.records if "cut_alpha" in r.getMessage()]
    assert sent and f"Change {changes.loc['alpha', 'change_id']} (budget to 0.7 x the current): pending" in sent[0]
    again = run_monitor(w, rules, now=noon)
    assert "changes" not in again.tables
    log = list_changes(w).to_frame("changes")
    assert len(log) == 2 and pd.Series(log.status).tolist().count("pending") == 1
    w.close()


@pytest.mark.parametrize(("action", "message"), [
    ({"kind": "budget"}, "a budget action needs change"),
    ({"kind": "pause"}, "kind must be one of budget, bid, creative, audience"),
    ({"kind": "budget", "change": -0.3, "when": "now"}, "unknown field 'when'"),
])
def test_bad_actions_are_named(action, message):
    from mercator.monitor import parse_rules

    with pytest.raises(BadParameter, match=message):
        parse_rules({"rules": [{"name": "x", "kind": "overspend", "budget": 1, "by": ["campaign"], "action": action}]})
    with pytest.raises(BadParameter, match="the rule must name it"):
        parse_rules({"rules": [{"name": "x", "kind": "overspend", "budget": 1,
                                "action": {"kind": "budget", "change": -0.3}}]})
