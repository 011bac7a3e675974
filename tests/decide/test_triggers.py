"""Triggers: each condition finds exactly the people planted for it (hand-built orders and
events at a fixed clock), fires once per person per window, never for a person without the
purpose's consent, under the cap over all triggers; a failing webhook logs nothing and is
tried again on the next run."""

from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import pandas as pd
import pytest

from mercator.decide import parse_triggers, run_triggers, save_policy
from mercator.errors import BadParameter
from tests.conftest import ingest_text

NOW = dt.datetime(2026, 6, 10, 12, 0)


@pytest.fixture
def shop(duckdb_ws, tmp_path):
    ws = duckdb_ws
    ingest_text(ws, tmp_path, "customer_id,created_at,consent_marketing_email,consent_personalization\n"
                "c1,2026-01-01,true,true\nc2,2026-01-01,true,true\nc3,2026-01-01,false,false\n"
                "c4,2026-01-01,true,true\n", "customers")
    # first orders: c1 2 days ago, c3 3 days ago (no consent), c2 and c4 long ago
    ingest_text(ws, tmp_path, "order_id,customer_id,ts,revenue\no1,c1,2026-06-08 10:00,20\n"
                "o2,c2,2026-03-01 10:00,30\no3,c2,2026-06-09 10:00,30\no4,c3,2026-06-07 09:00,15\n"
                "o5,c4,2026-02-01 09:00,40\n", "orders")
    ingest_text(ws, tmp_path, "user_id,customer_id\nu1,c1\nu2,c2\nu3,c3\nu4,c4\n", "identities")
    # carts: u1 abandoned (2 days ago), u2 bought an hour later, u4 added an hour ago (still
    # within its 24 h), u3 abandoned but has no consent
    ingest_text(ws, tmp_path, "event_id,user_id,ts,event_name\n"
                "e1,u1,2026-06-08 09:00,add_to_cart\ne2,u2,2026-06-08 09:00,add_to_cart\n"
                "e3,u2,2026-06-08 10:00,purchase\ne4,u4,2026-06-10 11:00,add_to_cart\n"
                "e5,u3,2026-06-07 09:00,add_to_cart\n", "events")
    return ws


def test_conditions_find_the_planted_people_once_per_window_with_consent(shop, tmp_path):
    audience = tmp_path / "welcome.csv"
    rules = {"triggers": [
        {"name": "welcome", "when": {"first_purchase": "7d"}, "purpose": "marketing_email", "window": "30d",
         "action": {"audience": str(audience)}},
        {"name": "cart", "when": {"cart_abandoned": "24h", "lookback": "7d"}, "purpose": "marketing_email",
         "action": {"audience": str(tmp_path / "cart.csv")}}]}
    dry = run_triggers(shop, rules, now=NOW, dry_run=True)
    assert not audience.exists() and shop.count("decisions") == 0
    run = run_triggers(shop, rules, now=NOW)
    t = run.to_frame("triggers").set_index("trigger")
    assert t.loc["welcome", ["matched", "no_consent", "fired"]].tolist() == [2, 1, 1]  # c1; c3 has no consent
    assert t.loc["cart", ["matched", "no_consent", "fired"]].tolist() == [2, 1, 1]  # u1 -> c1; u3 -> c3 refused
    assert dry.to_frame("triggers").fired.tolist() == t.fired.tolist()
    fired = run.to_frame("fired")
    assert set(fired.person_id) == {"c1"} and list(pd.read_csv(audience).person_id) == ["c1"]
    assert audience.read_text().splitlines()[1].startswith("c1,welcome,")
    log = shop.table("decisions").to_pandas()
    assert sorted(log.policy) == ["trigger:cart", "trigger:welcome"] and set(log.person_id) == {"c1"}
    again = run_triggers(shop, rules, now=NOW + dt.timedelta(days=1)).to_frame("triggers").set_index("trigger")
    assert again.loc["welcome", ["already_fired", "fired"]].tolist() == [1, 0]
    assert len(audience.read_text().splitlines()) == 2  # nothing appended twice


def test_the_cap_over_all_triggers_and_a_decision_as_the_action(shop):
    save_policy(shop, {"policy": "nudge", "bandit": "thompson", "purpose": "personalization",
                       "arms": [{"id": "a"}, {"id": "b"}]})
    rules = {"cap": {"max": 1, "window": "7d"}, "triggers": [
        {"name": "welcome", "when": {"first_purchase": "7d"}, "action": {"decide": "nudge"}},
        {"name": "cart", "when": {"cart_abandoned": "24h"}, "action": {"decide": "nudge"}}]}
    run = run_triggers(shop, rules, now=NOW)
    t = run.to_frame("triggers").set_index("trigger")
    # no purpose: everyone matched; c1 and c3 had their one action of the week from welcome
    assert t.loc["welcome", ["matched", "fired"]].tolist() == [2, 2]
    assert t.loc["cart", ["matched", "capped", "fired"]].tolist() == [2, 2, 0]
    log = shop.table("decisions").to_pandas()
    chosen = log[log.policy == "nudge"].set_index("person_id")
    assert chosen.loc["c1", "arm"] in {"a", "b"}
    assert chosen.loc["c3", "fallback_reason"] == "no consent to personalization: the default"


class _Hook(BaseHTTPRequestHandler):
    bodies: ClassVar[list] = []
    status = 500

    def do_POST(self):
        length = int(self.headers["content-length"])
        type(self).bodies.append(json.loads(self.rfile.read(length)))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_failing_webhook_logs_nothing_and_is_tried_again(shop):
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/hook"
        rules = {"triggers": [{"name": "welcome", "when": {"first_purchase": "7d"}, "purpose": "marketing_email",
                               "action": {"webhook": url}}]}
        failed = run_triggers(shop, rules, now=NOW)
        assert failed.to_frame("triggers").failed.tolist() == [1] and shop.count("decisions") == 0
        assert "answered 500" in failed.findings[0].text and len(_Hook.bodies) == 3  # three tries
        _Hook.status = 200
        sent = run_triggers(shop, rules, now=NOW)
        assert sent.to_frame("triggers").fired.tolist() == [1] and shop.count("decisions") == 1
        body = _Hook.bodies[-1]
        assert body["trigger"] == "welcome" and [p["person_id"] for p in body["people"]] == ["c1"]
    finally:
        server.shutdown()


@pytest.mark.parametrize(("rules", "message"), [
    ({"triggers": []}, "a list of triggers"),
    ({"triggers": [{"name": "x", "when": {"clicks": 3}, "action": {"webhook": "u"}}]}, "exactly one of score"),
    ({"triggers": [{"name": "x", "when": {"first_purchase": "soon"}, "action": {"webhook": "u"}}]},
     r"trigger x.when.first_purchase: 'soon' is not a duration"),
    ({"triggers": [{"name": "x", "when": {"first_purchase": "7d"}, "action": {"email": "u"}}]},
     "action needs exactly one of webhook"),
    ({"triggers": [{"name": "x", "when": {"score": "m", "above": "high"}, "action": {"webhook": "u"}}]},
     "needs above"),
])
def test_bad_rules_say_where(rules, message):
    with pytest.raises(BadParameter, match=message):
        parse_triggers(rules)


def test_serve_runs_the_triggers_on_a_schedule(shop, tmp_path):
    """`mercator serve --triggers FILE`: each run reads the file again and fires what is due,
    once per person per window however often it runs; a bad file is named before it starts."""
    import contextlib

    from mercator.decide import TriggerSchedule

    audience = tmp_path / "welcome.csv"
    rules = tmp_path / "triggers.yaml"
    rules.write_text(f"triggers:\n  - name: welcome\n    when: {{first_purchase: 3650d}}\n"
                     f"    purpose: marketing_email\n    window: 3650d\n    action: {{audience: {audience}}}\n")
    ctx = contextlib.nullcontext(shop)
    schedule = TriggerSchedule(rules, lambda: ctx, lambda: ctx, tick=0)
    first = schedule.step().to_frame("triggers").iloc[0]
    assert first.fired == 3  # c1, c2 and c4 consent; c3 does not
    again = schedule.step().to_frame("triggers").iloc[0]
    assert again.fired == 0 and again.already_fired == 3 and schedule.runs == 2
    rules.write_text("triggers: []\n")
    with pytest.raises(BadParameter, match="triggers: expected a mapping with a list of triggers"):
        TriggerSchedule(rules, lambda: ctx, lambda: ctx)
