"""Alert rules against a replayed 30-day stream with planted incidents (issue 22).

The truth is the stream's: ``mercator.demo._stream`` plants a spend spike, a CTR drop, 30
minutes of zero conversions while clicks continue, and a source that stops sending, each at a
known time. Every alert must fire within its interval + pending period + 10 s of the moment
its rule can see the incident (at once for a change in what was sent; once the window lies
inside it for an absence), reach a webhook receiver and a local SMTP server (aiosmtpd), and the
same stream without incidents must fire nothing. State, silences, keep-firing, escalation and
acknowledgement run on a controllable clock (``now``).
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mercator.demo._stream import stream
from mercator.errors import BadParameter, ConflictError
from mercator.monitor import (
    acknowledge,
    add_silence,
    list_alerts,
    parse_rules,
    run_monitor,
    save_rules,
)
from mercator.workspace import Workspace

START = dt.date(2026, 1, 1)
REPLAY = (dt.datetime(2026, 1, 8), dt.datetime(2026, 2, 7))  # 30 days after a week of history
SLACK = 10  # seconds


class Receiver:
    """A webhook receiver and an SMTP server on loopback, recording what they get."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.posts: list[dict] = []
        self.mails: list[str] = []
        posts = self.posts

        class Hook(BaseHTTPRequestHandler):
            def do_POST(self):
                posts.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        mails = self.mails

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                mails.append(envelope.content.decode("utf-8", "replace"))
                return "250 OK"

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.smtp = Controller(Handler(), hostname="127.0.0.1", port=port)
        self.smtp.start()
        self.url = f"http://127.0.0.1:{self.http.server_port}/hook"
        self.smtp_address = f"127.0.0.1:{port}"

    def clear(self) -> None:
        self.posts.clear()
        self.mails.clear()

    def close(self) -> None:
        self.http.shutdown()
        self.smtp.stop()


@pytest.fixture(scope="module")
def receiver():
    r = Receiver()
    yield r
    r.close()


def rules_yaml(receiver: Receiver, **extra) -> str:
    spike = {"name": "spend_spike", "kind": "change", "metric": "cost", "by": ["campaign"], "window": "1h",
             "above": 1.0, "every": "5m", "for": "10m", "severity": "critical", "notify": ["hook", "mail"],
             **extra.get("spend_spike", {})}
    return json.dumps({
        "contacts": {"hook": {"type": "webhook", "url": receiver.url},
                     "chat": {"type": "slack", "url": receiver.url},
                     "mail": {"type": "email", "to": ["oncall@example.com"], "smtp": receiver.smtp_address,
                              "from": "mercator@example.com"},
                     "log": {"type": "log"}},
        "rules": [spike,
                  {"name": "ctr_drop", "kind": "change", "metric": "ctr", "by": ["campaign"], "window": "1h",
                   "below": -0.4, "every": "5m", "for": "10m", "notify": ["hook", "mail"],
                   **extra.get("ctr_drop", {})},
                  {"name": "tracking", "kind": "broken_tracking", "source": "events", "where": {"source": "web"},
                   "window": "10m", "every": "1m", "for": "2m", "severity": "critical", "notify": ["chat", "mail"]},
                  {"name": "app_silent", "kind": "no_data", "source": "events", "where": {"source": "app"},
                   "window": "15m", "every": "1m", "notify": ["hook", "log"]}]})


def _workspace(path, incidents: bool, seed: int):
    ads, events, truth = stream(START, 37, seed=seed, incidents=incidents)
    ws = Workspace(path)
    ws.replace("ad_performance", ads, on=["date", "hour", "campaign"])
    ws.replace("events", events, on=["event_id"])
    return ws, truth


@pytest.fixture(scope="module")
def incident_ws(tmp_path_factory):
    ws, truth = _workspace(tmp_path_factory.mktemp("monitor") / "stream.duckdb", True, 1)
    yield ws, truth
    ws.close()


def _reset(ws) -> None:
    for t in ("alerts", "alert_events", "silences", "monitor_config"):
        ws.con.raw_sql(f"DELETE FROM {t}")


#: When each rule can first see its incident, after the incident's start: a change in what was
#: sent at once; an absence once the rule's window lies inside it.
VISIBLE_AFTER = {"spend_spike": ("spend_spike", 0), "ctr_drop": ("ctr_drop", 0),
                 "tracking_break": ("tracking", 600), "source_stop": ("app_silent", 900)}
TIMING = {"spend_spike": (300, 600), "ctr_drop": (300, 600), "tracking": (60, 120), "app_silent": (60, 0)}


def test_each_planted_incident_fires_in_time_and_reaches_webhook_and_smtp(incident_ws, receiver):
    ws, truth = incident_ws
    _reset(ws)
    receiver.clear()
    res = run_monitor(ws, parse_rules(rules_yaml(receiver)), start=REPLAY[0], end=REPLAY[1])
    ev = res.to_frame("events")
    fired = ev[ev.event == "firing"].drop_duplicates("rule").set_index("rule").ts
    assert set(fired.index) == {r for r, _ in VISIBLE_AFTER.values()}, ev
    for incident, (rule, after) in VISIBLE_AFTER.items():
        visible = truth[incident]["start"] + dt.timedelta(seconds=after)
        every, pending = TIMING[rule]
        latency = (fired[rule].to_pydatetime() - visible).total_seconds()
        assert 0 <= latency <= every + pending + SLACK, (rule, fired[rule], visible)
    # each alert fired once, and the ones that ended resolved after their incident ended
    assert (ev[ev.event == "firing"].groupby("rule").alert_id.nunique() == 1).all()
    resolved = ev[ev.event == "resolved"].drop_duplicates("rule").set_index("rule").ts
    assert set(resolved.index) == {"spend_spike", "ctr_drop", "tracking"}
    # delivered: webhook JSON (and the Slack-shaped text) and e-mail, nothing failed
    assert (ev.status == "sent").all(), ev[ev.status != "sent"]
    hooks = [p for p in receiver.posts if "rule" in p]
    assert {p["rule"] for p in hooks if p["status"] == "firing"} == {"spend_spike", "ctr_drop", "app_silent"}
    spike = next(p for p in hooks if p["rule"] == "spend_spike" and p["status"] == "firing")
    assert spike["labels"]["campaign"] == "alpha" and spike["severity"] == "critical"
    assert "+" in spike["reason"] and spike["at"].startswith(fired["spend_spike"].isoformat()[:16])
    assert any(p.get("text", "").startswith("[FIRING] critical: tracking") for p in receiver.posts)
    subjects = [m for m in receiver.mails if "Subject: [FIRING]" in m]
    assert {r for r in ("spend_spike", "ctr_drop", "tracking") if any(r in m for m in subjects)} == \
        {"spend_spike", "ctr_drop", "tracking"}


def test_the_same_stream_without_incidents_fires_nothing(tmp_path, receiver):
    ws, _ = _workspace(tmp_path / "clean.duckdb", False, 2)
    res = run_monitor(ws, parse_rules(rules_yaml(receiver)), start=REPLAY[0], end=REPLAY[1], notify=False)
    ev = res.to_frame("events")
    assert ev.empty, ev
    ws.close()


def test_state_is_kept_so_a_restart_neither_refires_nor_forgets(incident_ws, receiver, tmp_path):
    ws, truth = incident_ws
    _reset(ws)
    receiver.clear()
    save_rules(ws, rules_yaml(receiver), author="ana", reason="launch")
    spike = truth["spend_spike"]["start"]
    first = run_monitor(ws, now=spike + dt.timedelta(minutes=5))  # pending from here
    alerts = first.to_frame("alerts")
    assert set(zip(alerts.rule, alerts.state, strict=True)) == {("spend_spike", "pending"), ("spend_spike", "normal"),
                                                               ("ctr_drop", "normal"), ("tracking", "normal"),
                                                               ("app_silent", "normal")}
    ws.close()
    with Workspace(ws.location) as again:  # a restart: only the workspace remembers
        fired = run_monitor(again, now=spike + dt.timedelta(minutes=15))
        assert list(fired.to_frame("events").event) == ["firing", "firing"]  # hook and mail
        later = run_monitor(again, now=spike + dt.timedelta(minutes=20))
        assert later.to_frame("events").empty  # still firing, not announced again
        assert later.params["firing"] == 1
        done = run_monitor(again, now=spike + dt.timedelta(minutes=65))
        assert set(done.to_frame("events").event) == {"resolved"}
        listed = list_alerts(again)
        assert set(listed.to_frame("events").event) == {"firing", "resolved"}
    # hand the module's workspace back open for the tests after this one
    incident_ws[0].__init__(ws.location)


def test_keep_firing_escalation_acknowledgement_and_silences_on_a_controllable_clock(incident_ws, receiver):
    ws, truth = incident_ws
    _reset(ws)
    receiver.clear()
    spec = rules_yaml(receiver, spend_spike={"keep_firing_for": "30m", "escalate": {"after": "20m", "to": ["chat"]}},
                      ctr_drop={"escalate": {"after": "20m", "to": ["chat"]}})
    save_rules(ws, spec)
    spike = truth["spend_spike"]["start"]

    def at(minutes, start=spike):
        return run_monitor(ws, now=start + dt.timedelta(minutes=minutes)).to_frame("events")

    at(5)
    assert set(at(15).event) == {"firing"}
    assert at(30).empty
    esc = at(35)  # 20 minutes after firing, nobody acknowledged: the escalation contact is told once
    assert list(esc.event) == ["escalated"] and list(esc.contact) == ["chat"]
    assert at(40).empty
    # the condition holds last at 15:00 (the spiked hour's row is in the window); keep-firing
    # holds the alert 30 minutes after that
    assert at(60).empty and at(65).empty and at(85).empty
    assert set(at(90).event) == {"resolved"}

    # acknowledged in time: no escalation
    drop = truth["ctr_drop"]["start"]
    at(5, drop)
    at(15, drop)
    alert_id = list_alerts(ws, state="firing").to_frame("alerts").alert_id.iloc[0]
    acknowledge(ws, alert_id, by="ana", comment="looking", at_time=drop + dt.timedelta(minutes=20))
    assert at(40, drop).empty
    resolved = list_alerts(ws, state="normal").to_frame("alerts").alert_id.iloc[0]
    with pytest.raises(ConflictError, match="not firing"):
        acknowledge(ws, resolved, by="ana")

    # silenced: evaluated and recorded, nobody notified
    broken = truth["tracking_break"]["start"]
    add_silence(ws, {"rule": "tracking"}, duration="2h", starts=broken, author="ana", comment="planned tag change")
    receiver.clear()
    run_monitor(ws, start=broken, end=broken + dt.timedelta(minutes=20))
    ev = list_alerts(ws, rule="tracking").to_frame("events")
    assert set(ev[ev.event == "firing"].status) == {"silenced"}
    assert not [m for m in receiver.mails + [json.dumps(p) for p in receiver.posts] if "tracking" in m]


def test_anomaly_band_flags_the_planted_incidents_and_nothing_else(incident_ws):
    """Hourly cost against the band of the same hour on the previous 7 days: the spike (alpha's
    cost tripled) and the CTR drop (beta's clicks, so its cost, halved) are outside it; no other
    hour of the 30 days is."""
    ws, truth = incident_ws
    rules = parse_rules({"rules": [{"name": "cost_band", "kind": "anomaly", "metric": "cost", "by": ["campaign"],
                                    "window": "1h", "every": "1h", "k": 6}]})
    res = run_monitor(ws, rules, start=REPLAY[0], end=REPLAY[1], save=False)
    campaign = {r.alert_id: json.loads(r.labels)["campaign"] for r in res.to_frame("alerts").itertuples()}
    ev = res.to_frame("events")
    fired = ev[ev.event == "firing"]
    hour = dt.timedelta(hours=1)
    windows = {"alpha": truth["spend_spike"], "beta": truth["ctr_drop"]}
    for ts, alert in zip(fired.ts, fired.alert_id, strict=True):
        t, w = ts.to_pydatetime(), windows[campaign[alert]]
        assert w["start"] < t <= w["end"] + hour, (t, campaign[alert])
    assert {campaign[a] for a in fired.alert_id} == {"alpha", "beta"}
    assert fired.ts.min().to_pydatetime() == truth["spend_spike"]["start"] + hour  # at the first look


def test_delivery_and_overspend_on_hand_counted_data(tmp_path):
    ads, _, _ = stream(START, 10, seed=3, incidents=False)
    ads.loc[(ads.campaign == "beta") & (ads.date == dt.date(2026, 1, 9)) & (ads.hour >= 10), "impressions"] = 0
    ws = Workspace(tmp_path / "ads.duckdb")
    ws.replace("ad_performance", ads, on=["date", "hour", "campaign"])
    alpha_day = ads[(ads.campaign == "alpha") & (ads.date == dt.date(2026, 1, 9))]
    noon = dt.datetime(2026, 1, 9, 12)
    spent = alpha_day[alpha_day.hour < 12].cost.sum()
    rules = parse_rules({"rules": [
        {"name": "stopped", "kind": "delivery", "by": ["campaign"], "window": "1h", "every": "1h"},
        # a budget the morning's spend is on pace to beat by more than 20%, but has not spent yet
        {"name": "pace", "kind": "overspend", "by": ["campaign"], "budgets": {"alpha": spent * 1.5},
         "period": "day", "window": "1h", "every": "1h"},
        {"name": "over", "kind": "overspend", "by": ["campaign"], "budgets": {"alpha": spent * 0.9},
         "period": "day", "window": "1h", "every": "1h"}]})
    res = run_monitor(ws, rules, now=noon, save=False)
    alerts = res.to_frame("alerts").set_index("alert_id")
    firing = alerts[alerts.state == "firing"]
    by_rule = {(r, json.loads(lab).get("campaign")) for r, lab in zip(firing.rule, firing.labels, strict=True)}
    assert by_rule == {("stopped", "beta"), ("pace", "alpha"), ("over", "alpha")}
    over = firing[firing.rule == "over"].iloc[0]
    assert over.value == pytest.approx(spent, rel=1e-9)
    assert "on pace" not in over.reason and "on pace for" in firing[firing.rule == "pace"].reason.iloc[0]
    ws.close()


@pytest.mark.parametrize(("spec", "message"), [
    ({"rules": [{"name": "x", "kind": "spike", "metric": "cost"}]}, "rule x: kind must be one of"),
    ({"rules": [{"name": "x", "kind": "change", "metric": "cost"}]}, "rule x: a change rule needs above or below"),
    ({"rules": [{"name": "x", "kind": "threshold", "metric": "cpx", "above": 1}]}, "rule x: unknown metric 'cpx'"),
    ({"rules": [{"name": "x", "kind": "threshold", "metric": "cost", "above": 1, "window": "soon"}]},
     "rule x.window: 'soon' is not a duration"),
    ({"rules": [{"name": "x", "kind": "threshold", "metric": "cost", "above": 1, "by": ["colour"]}]},
     "rule x: ad_performance has no column 'colour'"),
    ({"rules": [{"name": "x", "kind": "threshold", "metric": "cost", "above": 1, "notify": ["pager"]}]},
     "rule x: unknown contact point 'pager'"),
    ({"contacts": {"m": {"type": "email", "to": ["a@b.c"], "password": "hunter2"}}}, "never write a password"),
    ({"contacts": {"h": {"type": "webhook"}}}, "contact h: a webhook contact needs a url"),
])
def test_bad_rules_are_named_with_rule_and_field(spec, message):
    with pytest.raises(BadParameter, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_rules(spec)


def test_rules_are_versioned_and_audited(tmp_path, receiver):
    from mercator.govern import audit_trail

    ws = Workspace(tmp_path / "rules.duckdb")
    first = save_rules(ws, rules_yaml(receiver), author="ana", reason="launch")
    assert len(first.params["changed"]) == 8
    again = save_rules(ws, rules_yaml(receiver), author="ana")
    assert again.params["changed"] == []
    changed = save_rules(ws, rules_yaml(receiver, ctr_drop={"below": -0.3}), author="bo", reason="tighter")
    assert changed.params["changed"] == ["rule ctr_drop"]
    rules = changed.to_frame("rules").set_index("name")
    assert rules.version["ctr_drop"] == 2 and rules.version["spend_spike"] == 1
    trail = audit_trail(ws, action="monitor")
    assert trail.params["intact"] and len(trail.to_frame()) == 2
    ws.close()
