"""Alert evaluation: conditions from the window sums, the state machine, silences,
acknowledgements, escalation and the notifications, with the state kept in the workspace.

Each rule yields one alert per group it watches (its ``by`` values become labels). An alert
moves as in Grafana's alerting: normal -> pending when the condition first holds -> firing
once it has held for the rule's pending period (``for``) -> normal (resolved) when it has not
held for ``keep_firing_for``. Firing and resolving notify the rule's contact points; a firing
alert nobody acknowledged within ``escalate.after`` is sent to the escalation contacts once.
A silence matching an alert's labels stops its notifications (they are recorded as silenced)
but not its evaluation.

The state (``alerts``) and everything sent (``alert_events``) are written in one transaction
after each run, so a restart continues where the last run stopped: an alert already firing is
not announced again, and one pending keeps its start. Sending comes before that write: a crash
between the two may send a notification twice, never lose one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, fields
from typing import ClassVar

import numpy as np
import pandas as pd

from mercator.errors import BadParameter, ConflictError, NotFoundError
from mercator.govern import record
from mercator.metrics import kpi
from mercator.monitor._contacts import send
from mercator.monitor._rules import Rule, RuleSet, parse_contact, parse_rule, parse_rules
from mercator.monitor._series import _ROWS, Sums, at, period_end, period_start, seconds, window_sums
from mercator.results import Finding, Result

#: An anomaly band needs at least this many earlier windows with a value.
MIN_REFERENCES = 3


def _span(s: float) -> str:
    s = int(s)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if s >= size and s % size == 0:
            n = s // size
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{s} seconds"


# -- conditions -----------------------------------------------------------------------------------
@dataclass
class Judged:
    """A rule's value and whether its condition holds, per group and tick, and the reason in words."""

    value: np.ndarray
    holds: np.ndarray
    reason: object  # (group index, tick index) -> str


def judge(rule: Rule, s: Sums, ticks: np.ndarray) -> Judged:
    """The rule's condition at every tick, for every group (vectorized over both)."""
    end, start = ticks, ticks - int(rule.window)
    n, w = rule.references, _span(rule.window)

    def cur(part):
        return s.over(part, start, end)

    def refs(part):  # (groups, references, ticks)
        return np.stack([s.over(part, start - int(i * rule.shift), end - int(i * rule.shift))
                         for i in range(1, n + 1)], axis=1)

    earlier = f"the same {w} on the previous {n} day{'s' if n != 1 else ''}" if rule.shift == 86400 \
        else f"the previous {n} windows"
    with np.errstate(divide="ignore", invalid="ignore"):
        if rule.kind in ("threshold", "change", "anomaly"):
            k = kpi(rule.metric)
            v = k.from_parts(cur(k.num), None if k.den is None else cur(k.den)) * np.ones((len(s.groups), len(ticks)))
            above = np.inf if rule.above is None else rule.above
            below = -np.inf if rule.below is None else rule.below
            if rule.kind == "threshold":
                holds = (v > above) | (v < below)
                return Judged(v, holds, lambda g, j: f"{k.label} {k.format(v[g, j])} over the last {w}, "
                              + (f"above {k.format(rule.above)}" if v[g, j] > above else f"below {k.format(rule.below)}"))
            if rule.kind == "change":
                ref = k.from_parts(refs(k.num).sum(1) / n, None if k.den is None else refs(k.den).sum(1) / n)
                ref = ref * np.ones_like(v)
                rel = v / ref - 1
                holds = (ref > 0) & ((rel > above) | (rel < below))
                return Judged(v, holds, lambda g, j: f"{k.label} {k.format(v[g, j])} over the last {w}, "
                              f"{rel[g, j]:+.0%} against {k.format(ref[g, j])} over {earlier}")
            rv = k.from_parts(refs(k.num), None if k.den is None else refs(k.den)) * np.ones((len(s.groups), n,
                                                                                                 len(ticks)))
            valid = np.isfinite(rv).sum(1) >= MIN_REFERENCES
            med = np.nanmedian(np.where(np.isfinite(rv), rv, np.nan), axis=1) if n else np.full_like(v, np.nan)
            mad = np.nanmedian(np.abs(rv - med[:, None, :]), axis=1)
            scale = np.maximum(1.4826 * mad, 0.005 * np.abs(med))
            if not k.is_ratio:  # counts: at least Poisson's spread
                scale = np.maximum(scale, np.sqrt(np.maximum(med, 1.0)))
            lower, upper = np.maximum(med - rule.k * scale, 0), med + rule.k * scale
            holds = valid & ((v > upper) | (v < lower))
            return Judged(v, holds, lambda g, j: f"{k.label} {k.format(v[g, j])} over the last {w}, outside the "
                          f"expected band {k.format(lower[g, j])} to {k.format(upper[g, j])} (from {earlier})")
        if rule.kind == "no_data":
            rows = cur(_ROWS)
            seen = s.over(_ROWS, np.full_like(ticks, s.lo), start)
            holds = (rows == 0) & (seen > 0)
            where = "".join(f" {c}={v}" for c, v in rule.where)
            return Judged(rows, holds, lambda g, j: f"no rows in {rule.source}{where} for the last {w} (it sent "
                          f"{int(seen[g, j]):,} before)")
        if rule.kind == "broken_tracking":
            kc, kv = kpi(rule.clicks), kpi(rule.conversions)
            clicks, conv = cur(kc.num), cur(kv.num)
            p = refs(kv.num).sum(1) / refs(kc.num).sum(1)
            chance = np.power(np.clip(1 - p, 0, 1), clicks)
            holds = (clicks >= rule.min_clicks) & (conv == 0) & (p > 0) & (chance < rule.max_chance)
            return Judged(clicks, holds, lambda g, j: f"0 conversions from {int(clicks[g, j]):,} clicks in the last "
                          f"{w}; at the usual rate of {p[g, j]:.2%} that happens with probability "
                          f"{chance[g, j]:.1g}: conversion tracking may be broken")
        if rule.kind == "delivery":
            k = kpi(rule.metric)
            v, ref = cur(k.num), refs(k.num).sum(1) / n
            holds = (ref >= 1) & (v < rule.min_share * ref)
            return Judged(v, holds, lambda g, j: f"{k.label} {k.format(v[g, j])} over the last {w} against "
                          f"{k.format(ref[g, j])} over {earlier}: delivery has (nearly) stopped")
        # overspend
        k = kpi(rule.metric)
        ps = period_start(ticks, rule.period)
        pe = period_end(ps, rule.period)
        spent = s.over(k.num, ps, end)
        budgets = dict(rule.budgets)
        budget = np.array([budgets.get("/".join(g), rule.budget if rule.budget is not None else np.nan)
                           for g in s.groups], dtype=float)[:, None] * np.ones_like(spent)
        elapsed = (end - ps) / (pe - ps)
        projected = spent / np.maximum(elapsed, 1e-9)
        holds = (spent > budget) | ((elapsed >= rule.min_elapsed) & (projected > budget * (1 + rule.tolerance)))
        return Judged(spent, holds, lambda g, j: f"spent {k.format(spent[g, j])} of this {rule.period}'s budget "
                      f"{k.format(budget[g, j])} with {elapsed[j]:.0%} of the {rule.period} gone"
                      + (f"; on pace for {k.format(projected[g, j])}" if spent[g, j] <= budget[g, j] else ""))


# -- state ----------------------------------------------------------------------------------------
@dataclass
class Alert:
    """One alert's state (a row of the ``alerts`` table)."""

    alert_id: str
    rule: str
    labels: dict
    severity: str
    state: str = "normal"
    value: float | None = None
    reason: str | None = None
    active_since: dt.datetime | None = None
    fired_at: dt.datetime | None = None
    last_true: dt.datetime | None = None
    resolved_at: dt.datetime | None = None
    evaluated_at: dt.datetime | None = None
    acked_by: str | None = None
    acked_at: dt.datetime | None = None
    escalated_at: dt.datetime | None = None

    def advance(self, rule: Rule, t: dt.datetime, holds: bool, value: float, reason) -> list[str]:
        """One evaluation at ``t``: the new state, and the events to notify."""
        events = []
        self.evaluated_at, self.value = t, (None if value is None or not np.isfinite(value) else float(value))
        if holds:
            self.last_true, self.reason = t, reason()
            if self.state == "normal":
                self.state, self.active_since = "pending", t
            if self.state == "pending" and (t - self.active_since).total_seconds() >= rule.pending:
                self.state, self.fired_at = "firing", t
                self.acked_by = self.acked_at = self.escalated_at = None
                events.append("firing")
        elif self.state == "pending":
            self.state, self.active_since = "normal", None
        elif self.state == "firing" and (self.last_true is None
                                         or (t - self.last_true).total_seconds() >= rule.keep_firing):
            self.state, self.resolved_at, self.active_since = "normal", t, None
            self.reason = f"resolved: the condition has not held since {self.last_true}"
            events.append("resolved")
        if (self.state == "firing" and rule.escalate_after is not None and self.acked_at is None
                and self.escalated_at is None and (t - self.fired_at).total_seconds() >= rule.escalate_after):
            self.escalated_at = t
            events.append("escalated")
        return events

    def note(self, event: str, t: dt.datetime) -> dict:
        """The notification of ``event`` as a JSON-safe dict (a webhook's body)."""
        iso = (lambda x: None if x is None else pd.Timestamp(x).isoformat())
        return {"status": event, "alert_id": self.alert_id, "rule": self.rule, "severity": self.severity,
                "labels": self.labels, "value": self.value, "reason": self.reason, "at": iso(t),
                "active_since": iso(self.active_since), "fired_at": iso(self.fired_at), "source": "mercator"}


_TIMES = ("active_since", "fired_at", "last_true", "resolved_at", "evaluated_at", "acked_at", "escalated_at")


def alert_id(rule: str, group: dict) -> str:
    if not group:
        return rule
    return f"{rule}:{hashlib.sha1(json.dumps(group, sort_keys=True).encode()).hexdigest()[:10]}"


def load_state(ws) -> dict[str, Alert]:
    names = [f.name for f in fields(Alert)]
    rows = ws.table("alerts").select(*names).to_pyarrow().to_pylist()  # nulls as None, times as datetimes
    out = {}
    for r in rows:
        r["labels"] = json.loads(r["labels"] or "{}")
        out[r["alert_id"]] = Alert(**r)
    return out


def _state_frame(alerts: list[Alert]) -> pd.DataFrame:
    cols = [f.name for f in fields(Alert)]
    df = pd.DataFrame({c: [getattr(a, c) for a in alerts] for c in cols}, columns=cols)
    df["labels"] = df["labels"].map(lambda d: json.dumps(d, sort_keys=True))
    return df.astype({c: "datetime64[us]" for c in _TIMES} | {"value": "float64"})


# -- silences -------------------------------------------------------------------------------------
def active_silences(ws) -> list[tuple[dt.datetime, dt.datetime, dict, str]]:
    """Every silence as (start, end, matchers, id), parsed once per run."""
    rows = ws.table("silences").select("starts_at", "ends_at", "matchers", "silence_id").to_pyarrow().to_pylist()
    return [(r["starts_at"], r["ends_at"], json.loads(r["matchers"]), r["silence_id"]) for r in rows]


def _silenced(silences: list, labels: dict, t: dt.datetime) -> str | None:
    for start, end, matchers, sid in silences:
        if start <= t < end and all(str(labels.get(k)) == str(v) for k, v in matchers.items()):
            return sid
    return None


# -- rules in the workspace -----------------------------------------------------------------------
@dataclass(frozen=True)
class AlertRules(Result):
    """The alert rules and contact points in the workspace."""

    kind = "monitor_rules"
    title = "Alert rules"
    headline = ("rules", "contacts")
    display: ClassVar[dict[str, tuple[str, ...]]] = {
        "rules": ("name", "version", "kind", "metric", "window", "every", "for", "severity", "notify", "status"),
        "contacts": ("name", "version", "type", "status")}


def _latest(ws) -> pd.DataFrame:
    t = ws.table("monitor_config")
    return t.order_by(["item", "name", t.version.desc()]).to_pandas().drop_duplicates(["item", "name"])


def load_rules(ws) -> RuleSet:
    """The active rules and contact points stored in the workspace."""
    rows = _latest(ws)
    rows = rows[rows.status == "active"]
    contacts = {r.name: parse_contact(r.name, json.loads(r.spec)) for r in rows[rows.item == "contact"].itertuples()}
    rules = tuple(parse_rule(json.loads(r.spec), contacts=contacts) for r in rows[rows.item == "rule"].itertuples())
    return RuleSet(rules, contacts)


def save_rules(ws, spec, *, replace: bool = False, author: str | None = None,
               reason: str | None = None) -> AlertRules:
    """Store the rules and contact points of ``spec`` (a mapping, YAML text or file): each one
    changed or new becomes a new version; with ``replace``, rules and contacts not in ``spec``
    are deleted (a version with status deleted). Checked whole before anything is written."""
    from mercator.config import load_spec

    data = load_spec(spec, "alert rules")
    known = load_rules(ws).contacts
    parsed = parse_rules({"rules": data.get("rules") or [], "contacts": {
        **{n: json.loads(json.dumps(c.to_dict())) for n, c in known.items()}, **(data.get("contacts") or {})}})
    items = [("contact", n, c) for n, c in (data.get("contacts") or {}).items()] + \
            [("rule", r["name"], r) for r in (data.get("rules") or [])]
    last = _latest(ws)
    now = pd.Timestamp.now(tz="UTC").tz_localize(None).floor("us")
    rows, changed = [], []
    for item, name, body in items:
        text = json.dumps(body, sort_keys=True, default=str)
        prev = last[(last.item == item) & (last.name == name)]
        if len(prev) and prev.spec.iloc[0] == text and prev.status.iloc[0] == "active":
            continue
        rows.append({"item": item, "name": name, "version": int(prev.version.iloc[0]) + 1 if len(prev) else 1,
                     "spec": text, "status": "active", "author": author, "reason": reason, "created_at": now})
        changed.append(f"{item} {name}")
    if replace:
        keep = {(i, n) for i, n, _ in items}
        for r in last[last.status != "deleted"].itertuples():
            if (r.item, r.name) not in keep:
                rows.append({"item": r.item, "name": r.name, "version": int(r.version) + 1, "spec": r.spec,
                             "status": "deleted", "author": author, "reason": reason, "created_at": now})
                changed.append(f"{r.item} {r.name} deleted")
    if rows:
        frame = pd.DataFrame(rows).astype({"created_at": "datetime64[us]"})
        with ws.transaction():
            ws.replace("monitor_config", frame, on=["item", "name", "version"])
            record(ws, "monitor.rules", None, actor=author, at=now.to_pydatetime(),
                   detail={"changed": changed, "reason": reason})
    res = list_rules(ws)
    text = (f"{len(changed)} change(s) saved: {', '.join(changed)}." if changed
            else "Nothing changed: every rule and contact point is stored as given.")
    return AlertRules(tables=res.tables, findings=(Finding(text, impact=1.0), *res.findings),
                      params={"changed": changed, "rules": len(parsed.rules)})


def list_rules(ws) -> AlertRules:
    rows = _latest(ws)
    rules = []
    for r in rows[rows.item == "rule"].itertuples():
        spec = json.loads(r.spec)
        rules.append({"name": r.name, "version": int(r.version), "status": r.status, "kind": spec.get("kind"),
                      "metric": spec.get("metric"), "window": spec.get("window", "1h"), "every": spec.get("every", "5m"),
                      "for": spec.get("for", 0), "severity": spec.get("severity", "warning"),
                      "notify": ",".join(spec.get("notify") or []), "author": r.author, "created_at": r.created_at})
    contacts = [{"name": r.name, "version": int(r.version), "status": r.status,
                 "type": json.loads(r.spec).get("type"), "author": r.author, "created_at": r.created_at}
                for r in rows[rows.item == "contact"].itertuples()]
    active = sum(r["status"] == "active" for r in rules)
    return AlertRules(tables={"rules": pd.DataFrame(rules, columns=["name", "version", "status", "kind", "metric",
                                                                    "window", "every", "for", "severity", "notify",
                                                                    "author", "created_at"]),
                              "contacts": pd.DataFrame(contacts, columns=["name", "version", "status", "type",
                                                                          "author", "created_at"])},
                      findings=(Finding(f"{active} active alert rule(s), {len(contacts)} contact point(s)."
                                        if rules else "No alert rules yet; save some with `mercator monitor rules "
                                        "set FILE`.", impact=0.5),))


# -- a run ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MonitorRun(Result):
    """One evaluation of the alert rules (or a replay of a stretch of time): the alerts' states
    and what was sent."""

    kind = "monitor_run"
    title = "Alerts"
    headline = ("alerts", "events")
    display: ClassVar[dict[str, tuple[str, ...]]] = {
        "alerts": ("rule", "state", "severity", "labels", "value", "reason", "fired_at"),
        "events": ("ts", "rule", "event", "contact", "status"),
        "changes": ("change_id", "status", "ts", "campaign", "kind", "after", "actor", "evidence")}


def _ticks(rule: Rule, now: int | None, start: int | None, end: int | None) -> np.ndarray:
    if start is None:
        return np.asarray([now - now % rule.step], dtype=np.int64)
    every = int(rule.every)
    first = start + (-start) % every
    return np.arange(first, end + 1, every, dtype=np.int64)


def run_monitor(ws, rules: RuleSet | None = None, *, now: dt.datetime | None = None, start: dt.datetime | None = None,
                end: dt.datetime | None = None, notify: bool = True, save: bool = True) -> MonitorRun:
    """Evaluate every rule once at ``now`` (default: the current time), or, with ``start`` and
    ``end``, at every interval of each rule in between (a replay: the same evaluations cron or the
    server would have made, in time order, each seeing only the rows stamped before it).

    ``notify``: send to the contact points (otherwise notifications are recorded as not sent:
    a dry run). ``save``: keep the alerts' state and the events in the workspace.
    """
    rules = rules if rules is not None else load_rules(ws)
    if (start is None) != (end is None):
        raise BadParameter("a replay needs both start and end")
    now_s = seconds(now or dt.datetime.now(dt.UTC).replace(tzinfo=None))
    start_s, end_s = (None, None) if start is None else (seconds(start), seconds(end))
    if start_s is not None and end_s < start_s:
        raise BadParameter(f"replay: end {end} is before start {start}")
    state = load_state(ws)
    silences = active_silences(ws)
    pending: list[tuple[dt.datetime, dict, Rule]] = []  # (time, the alert as it was then, its rule)
    touched: dict[str, Alert] = {}
    of_rule: dict[str, set[str]] = defaultdict(set)
    for aid, a in state.items():
        of_rule[a.rule].add(aid)
    groups_of: dict[tuple, list[Rule]] = defaultdict(list)
    for rule in rules.rules:
        groups_of[(rule.source, rule.where, rule.by)].append(rule)
    for same in groups_of.values():
        ticks_of = [_ticks(rule, now_s, start_s, end_s) for rule in same]
        same = [r for r, t in zip(same, ticks_of, strict=True) if len(t)]
        ticks_of = [t for t in ticks_of if len(t)]
        if not same:
            continue
        sums = window_sums(ws, same, ticks_of)
        for rule, ticks in zip(same, ticks_of, strict=True):
            judged = judge(rule, sums, ticks)
            times = [at(t) for t in ticks]
            labels_base = {"rule": rule.name, "severity": rule.severity, **dict(rule.labels)}
            known = set(of_rule[rule.name])
            for g, group in enumerate(sums.groups):
                glabels = dict(zip(rule.by, group, strict=True))
                aid = alert_id(rule.name, glabels)
                known.discard(aid)
                alert = state.get(aid) or Alert(aid, rule.name, {**labels_base, **glabels}, rule.severity)
                alert.labels, alert.severity = {**labels_base, **glabels}, rule.severity
                holds, value = judged.holds[g], judged.value[g]
                for j, t in enumerate(times):
                    if alert.state == "normal" and not holds[j]:
                        alert.evaluated_at, alert.value = t, float(value[j]) if np.isfinite(value[j]) else None
                        continue
                    for event in alert.advance(rule, t, bool(holds[j]), value[j],
                                               lambda g=g, j=j, judged=judged: judged.reason(g, j)):
                        pending.append((t, alert.note(event, t), rule))
                state[aid] = touched[aid] = alert
            for aid in known:  # a group that sent nothing in the whole window: its condition does not hold
                alert = state[aid]
                for t in times:
                    for event in alert.advance(rule, t, False, np.nan, lambda: ""):
                        pending.append((t, alert.note(event, t), rule))
                touched[aid] = alert
    changes = _act(ws, pending, rules) if save else []  # before sending: the notification carries the change
    events = _dispatch(pending, rules, silences, notify)
    frame = _state_frame(list(touched.values()))
    ev = pd.DataFrame(events, columns=["ts", "alert_id", "rule", "event", "contact", "status", "detail"]) \
        .astype({"ts": "datetime64[us]"})
    if save and (len(frame) or len(ev)):
        with ws.transaction():
            if len(frame):
                ws.replace("alerts", frame, on=["alert_id"])
            if len(ev):
                ws.replace("alert_events", ev.drop_duplicates(["ts", "alert_id", "event", "contact"]),
                           on=["ts", "alert_id", "event", "contact"])
    firing = frame[frame.state == "firing"] if len(frame) else frame
    when = (f"from {at(start_s)} to {at(end_s)}" if start_s is not None else f"at {at(now_s)}")
    sent = int((ev.status == "sent").sum()) if len(ev) else 0
    failed = ev[ev.status == "failed"] if len(ev) else ev
    findings = [Finding(f"{len(rules.rules)} rule(s) evaluated {when}: {len(firing)} alert(s) firing, "
                        f"{int((frame.state == 'pending').sum()) if len(frame) else 0} pending; {sent} notification(s) "
                        f"sent" + (f", {len(failed)} failed" if len(failed) else "") + ".", impact=1.0)]
    for a in firing.itertuples():
        findings.append(Finding(f"FIRING {a.severity} {a.rule} {_label_text(a.labels)}since {a.fired_at}: {a.reason}.",
                                value=a.value, impact=0.9 if a.severity == "critical" else 0.6))
    for f in failed.drop_duplicates("contact").itertuples():
        findings.append(Finding(f"Sending to {f.contact} failed: {f.detail}.", impact=0.8))
    findings.extend(c.findings[0] for c in changes)
    order = {"firing": 0, "pending": 1, "normal": 2}
    shown = frame.sort_values(["state", "rule"], key=lambda c: c.map(order) if c.name == "state" else c) \
        if len(frame) else frame
    tables = {"alerts": shown.reset_index(drop=True), "events": ev}
    if changes:
        tables["changes"] = pd.concat([c.to_frame("changes") for c in changes], ignore_index=True)
    return MonitorRun(tables=tables,
                      findings=tuple(findings),
                      params={"at": at(now_s) if start_s is None else None, "start": start, "end": end,
                              "rules": len(rules.rules), "firing": len(firing), "notified": bool(notify)})


def _act(ws, pending, rules: RuleSet) -> list:
    """The automated rules' changes: one per alert that fired, to the optimization log (waiting
    for approval above the action's limit), with the alert as the evidence; each is added to its
    alert's notification (``change``), so the receiver can apply it."""
    from mercator.monitor._changes import log_change

    out = []
    for t, note, rule in sorted(pending, key=lambda p: p[0]):
        a = rule.action
        if a is None or note["status"] != "firing":
            continue
        where = {**dict(rule.where), **note["labels"]}
        campaign = where.get("campaign") or where.get("campaign_id")
        move = {} if a.change is None else {"before": 1.0, "after": round(1.0 + a.change, 6)}
        res = log_change(ws, str(campaign), a.kind, actor=f"rule {rule.name}", automated=True, limit=a.limit,
                         reason=f"alert {rule.name} fired: {note['reason']}", evidence=note["alert_id"],
                         target=a.target or (f"{a.kind} (multiple of the current)" if move else None), at=t, **move)
        row = res.to_frame("changes").iloc[0]
        note["change"] = {"change_id": row.change_id, "status": row.status, "campaign": row.campaign,
                          "kind": row.kind, "target": row.target, "before": row.before, "after": row.after}
        out.append(res)
    return out


def _label_text(labels: str) -> str:
    d = json.loads(labels) if isinstance(labels, str) else labels
    extra = {k: v for k, v in d.items() if k not in ("rule", "severity")}
    return f"({', '.join(f'{k}={v}' for k, v in extra.items())}) " if extra else ""


def _dispatch(pending, rules: RuleSet, silences: list, notify: bool) -> list[dict]:
    """Send every notification in time order; one row per contact (or one when there is none)."""
    rows = []
    for t, note, rule in sorted(pending, key=lambda p: p[0]):
        event = note["status"]
        targets = rule.escalate_to if event == "escalated" else rule.notify
        silence = _silenced(silences, note["labels"], t)
        base = {"ts": t, "alert_id": note["alert_id"], "rule": note["rule"], "event": event}
        if not targets:
            rows.append({**base, "contact": "", "status": "recorded", "detail": note["reason"]})
            continue
        for name in targets:
            if silence is not None:
                rows.append({**base, "contact": name, "status": "silenced", "detail": f"silence {silence}"})
            elif not notify:
                rows.append({**base, "contact": name, "status": "recorded", "detail": "dry run: not sent"})
            else:
                failure = send(rules.contacts[name], note)
                rows.append({**base, "contact": name, "status": "failed" if failure else "sent",
                             "detail": failure or note["reason"]})
    return rows


# -- people: acknowledge, silence, list -----------------------------------------------------------
def acknowledge(ws, alert_id_: str, *, by: str, comment: str | None = None,
                at_time: dt.datetime | None = None) -> MonitorRun:
    """Acknowledge a firing alert: it stops escalating (it keeps firing until it resolves)."""
    if not by:
        raise BadParameter("acknowledge: say who acknowledges (by)")
    state = load_state(ws)
    alert = state.get(alert_id_)
    if alert is None:
        raise NotFoundError(f"no alert {alert_id_!r}; `mercator monitor alerts` lists them")
    if alert.state != "firing":
        raise ConflictError(f"alert {alert_id_} is {alert.state}, not firing; only a firing alert is acknowledged")
    t = pd.Timestamp(at_time or dt.datetime.now(dt.UTC).replace(tzinfo=None)).floor("us").to_pydatetime()
    alert.acked_by, alert.acked_at = by, t
    ev = pd.DataFrame([{"ts": t, "alert_id": alert.alert_id, "rule": alert.rule, "event": "acknowledged",
                        "contact": "", "status": "recorded", "detail": f"by {by}" + (f": {comment}" if comment else "")}]
                      ).astype({"ts": "datetime64[us]"})
    with ws.transaction():
        ws.replace("alerts", _state_frame([alert]), on=["alert_id"])
        ws.replace("alert_events", ev, on=["ts", "alert_id", "event", "contact"])
        record(ws, "alert.ack", alert.alert_id, actor=by, at=t, detail={"comment": comment})
    return MonitorRun(tables={"alerts": _state_frame([alert]), "events": ev},
                      findings=(Finding(f"{by} acknowledged {alert.alert_id} at {t}; it will not escalate.",
                                        impact=1.0),), params={"alert_id": alert.alert_id})


@dataclass(frozen=True)
class Silences(Result):
    """Silences: which alerts notify nobody, until when, and why."""

    kind = "silences"
    title = "Silences"
    display: ClassVar[dict[str, tuple[str, ...]]] = {
        "silences": ("silence_id", "matchers", "starts_at", "ends_at", "author", "comment")}


def add_silence(ws, matchers: dict, *, duration: str | float = "1h", starts: dt.datetime | None = None,
                author: str | None = None, comment: str | None = None) -> Silences:
    """Silence the alerts whose labels match every ``matchers`` pair, from ``starts`` (default now)
    for ``duration``."""
    from mercator.config import parse_duration

    if not matchers or not isinstance(matchers, dict):
        raise BadParameter("silence: give at least one label to match, such as rule=spend_spike")
    length = parse_duration(duration, "silence duration")
    begin = pd.Timestamp(starts or dt.datetime.now(dt.UTC).replace(tzinfo=None)).floor("us")
    sid = hashlib.sha1(f"{sorted(matchers.items())}{begin}{author}".encode()).hexdigest()[:12]
    row = pd.DataFrame([{"silence_id": sid, "matchers": json.dumps(matchers, sort_keys=True), "starts_at": begin,
                         "ends_at": begin + pd.Timedelta(seconds=length), "author": author, "comment": comment,
                         "created_at": pd.Timestamp.now(tz="UTC").tz_localize(None).floor("us")}]) \
        .astype({"starts_at": "datetime64[us]", "ends_at": "datetime64[us]", "created_at": "datetime64[us]"})
    with ws.transaction():
        ws.replace("silences", row, on=["silence_id"])
        record(ws, "alert.silence", sid, actor=author, detail={"matchers": matchers, "until": str(row.ends_at[0]),
                                                               "comment": comment})
    return Silences(tables={"silences": row}, findings=(Finding(
        f"Silence {sid}: alerts matching {json.dumps(matchers)} notify nobody from {begin} to {row.ends_at[0]}.",
        impact=1.0),), params={"silence_id": sid})


def list_alerts(ws, *, state: str | None = None, rule: str | None = None, events: int = 50) -> MonitorRun:
    """The alerts' current state (firing first) and the latest events."""
    t = ws.table("alerts")
    if state is not None:
        t = t.filter(t.state == state)
    if rule is not None:
        t = t.filter(t.rule == rule)
    frame = t.to_pandas()
    order = {"firing": 0, "pending": 1, "normal": 2}
    frame = frame.sort_values(["state", "rule"], key=lambda c: c.map(order) if c.name == "state" else c) \
        .drop(columns=["_load_id"], errors="ignore").reset_index(drop=True)
    e = ws.table("alert_events")
    if rule is not None:
        e = e.filter(e.rule == rule)
    ev = e.order_by(e.ts.desc()).limit(events).to_pandas().drop(columns=["_load_id"], errors="ignore")
    firing = frame[frame.state == "firing"]
    findings = [Finding(f"{len(firing)} alert(s) firing, {int((frame.state == 'pending').sum())} pending, "
                        f"{int((frame.state == 'normal').sum())} normal.", impact=1.0)]
    for a in firing.itertuples():
        ack = f" acknowledged by {a.acked_by}" if isinstance(a.acked_by, str) else " not acknowledged"
        findings.append(Finding(f"FIRING {a.severity} {a.rule} {_label_text(a.labels)}since {a.fired_at},{ack}: "
                                f"{a.reason}.", value=a.value, impact=0.9 if a.severity == "critical" else 0.6))
    return MonitorRun(tables={"alerts": frame, "events": ev}, findings=tuple(findings),
                      params={"state": state, "rule": rule})
