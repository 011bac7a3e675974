"""Alert rules and contact points, as declared in YAML (or the same as JSON through the API).

```yaml
rules:
  - name: spend_spike
    kind: change              # threshold | change | anomaly | no_data | broken_tracking | delivery | overspend
    metric: cost              # a KPI of mercator.metrics, or events.<name> (a count of events)
    where: {channel: search}  # equality filters on the source's columns
    by: [campaign]            # one alert per campaign (its value becomes a label)
    window: 1h                # the span each evaluation looks at, ending at the evaluation time
    above: 1.0                # change: +100% against the baseline
    baseline: 7d              # change, anomaly, delivery: the same window on each of the previous 7 days
    every: 5m                 # evaluation interval
    for: 10m                  # pending period: the condition holds this long before it fires
    keep_firing_for: 30m      # it keeps firing this long after the condition stops holding
    severity: critical        # critical, warning or info
    labels: {team: paid}
    notify: [oncall]          # contact points
    escalate: {after: 30m, to: [manager]}   # if nobody acknowledges it within 30 minutes
  - name: cut_overspend
    kind: overspend
    by: [campaign]
    budget: 1000
    action: {kind: budget, change: -0.3, limit: 0.2}   # an automated rule: see below
contacts:
  oncall: {type: webhook, url: "http://hooks.example/alerts"}
  team_chat: {type: slack, url: "https://hooks.slack.com/services/..."}
  manager: {type: email, to: [lead@example.com], smtp: "localhost:25", from: "mercator@example.com"}
  audit: {type: log}
```

The rule (what to watch), its state (``_alerts``) and where it is sent (the contact point) are
kept apart, as in Grafana's alerting. A rule with an ``action`` is an automated rule, as in the
ad platforms' own: each time one of its alerts fires it changes its campaign (``by`` or
``where`` must name the campaign) by ``change`` (relative: -0.3 cuts the budget by 30%), and
the change goes to the optimization log with the alert as evidence; above ``limit`` (default:
the log's limit for its kind) it waits there for a person's approval instead of applying. Every problem in a file is named with the rule and field
before anything is stored or evaluated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from mercator.config import load_spec, parse_duration
from mercator.errors import BadParameter
from mercator.metrics import kpi
from mercator.schema import table_spec

KINDS = ("threshold", "change", "anomaly", "no_data", "broken_tracking", "delivery", "overspend")
SEVERITIES = ("critical", "warning", "info")
CONTACT_TYPES = ("webhook", "slack", "email", "log")
#: The time column of each source a rule may watch (ad_performance: its date plus its hour).
SOURCES = {"ad_performance": "date", "events": "ts", "orders": "ts", "decisions": "ts", "loads": "started_at",
           "quarantine": "quarantined_at"}
_FIELDS = {"name", "kind", "metric", "source", "where", "by", "window", "every", "for", "keep_firing_for",
           "severity", "labels", "notify", "escalate", "above", "below", "baseline", "k", "min_clicks", "clicks",
           "conversions", "max_chance", "min_share", "budget", "budgets", "period", "tolerance", "min_elapsed", "max_age",
           "description", "action"}
#: The kinds of change an action makes (the optimization log's, less "other").
ACTION_KINDS = ("budget", "bid", "creative", "audience")


@dataclass(frozen=True)
class Action:
    """What an automated rule changes when one of its alerts fires: ``kind`` of its campaign's
    ``target`` by ``change`` (relative); above ``limit`` the change waits for approval."""

    kind: str
    change: float | None = None
    target: str | None = None
    limit: float | None = None



def parse_action(spec, where: str, rule_columns: set[str]) -> Action | None:
    if spec is None:
        return None
    if not isinstance(spec, dict):
        raise BadParameter(f"{where}: expected {{kind: budget, change: -0.3}}")
    unknown = sorted(set(spec) - {"kind", "change", "target", "limit"})
    if unknown:
        raise BadParameter(f"{where}: unknown field {unknown[0]!r} (fields: change, kind, limit, target)")
    kind = spec.get("kind")
    if kind not in ACTION_KINDS:
        raise BadParameter(f"{where}: kind must be one of {', '.join(ACTION_KINDS)}; got {kind!r}")
    change, limit = _number(spec.get("change"), f"{where}.change"), _number(spec.get("limit"), f"{where}.limit")
    if kind in ("budget", "bid") and (change is None or change <= -1 or change == 0):
        raise BadParameter(f"{where}: a {kind} action needs change, a relative move above -1 and not 0 (-0.3 cuts "
                           "by 30%)")
    if limit is not None and limit < 0:
        raise BadParameter(f"{where}: limit must be zero or more; got {limit}")
    if not rule_columns & {"campaign", "campaign_id"}:
        raise BadParameter(f"{where}: an action changes a campaign, so the rule must name it: by: [campaign] (or "
                           "campaign_id), or where: {campaign: ...}")
    return Action(kind=kind, change=change, target=None if spec.get("target") is None else str(spec["target"]),
                  limit=limit)


@dataclass(frozen=True)
class Rule:
    """One alert rule: what it watches, its condition, timing and routing."""

    name: str
    kind: str
    source: str
    metric: str | None = None
    where: tuple[tuple[str, str], ...] = ()
    by: tuple[str, ...] = ()
    window: float = 3600.0
    every: float = 300.0
    pending: float = 0.0
    keep_firing: float = 0.0
    severity: str = "warning"
    labels: tuple[tuple[str, str], ...] = ()
    notify: tuple[str, ...] = ()
    escalate_after: float | None = None
    escalate_to: tuple[str, ...] = ()
    above: float | None = None
    below: float | None = None
    baseline: float = 7 * 86400.0
    k: float = 4.0
    min_clicks: float = 20.0
    #: broken_tracking: fire when zero conversions from the window's clicks would happen with less
    #: than this probability at the usual rate (1e-6: evaluated every minute, about one false
    #: alarm in two years of clean data per rule; tests/monitor measures none in 30 days)
    max_chance: float = 1e-6
    clicks: str | None = None
    conversions: str | None = None
    min_share: float = 0.1
    budget: float | None = None
    budgets: tuple[tuple[str, float], ...] = ()
    period: str = "day"
    tolerance: float = 0.2
    min_elapsed: float = 0.25
    description: str = ""
    action: Action | None = None
    spec: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def metrics(self) -> tuple[str, ...]:
        """The metrics the rule needs summed per window."""
        if self.kind == "broken_tracking":
            return (self.clicks, self.conversions)  # type: ignore[return-value]
        if self.kind == "no_data":
            return ()
        return (self.metric,)  # type: ignore[return-value]

    @property
    def shift(self) -> float:
        """How far back each baseline window lies from the last: a day for windows under a day
        (the same time of day, so daily cycles do not alarm), otherwise the window itself."""
        return 86400.0 if self.window < 86400 else self.window

    @property
    def references(self) -> int:
        """How many earlier windows the baseline (or the anomaly band) is made of."""
        return max(1, int(self.baseline // self.shift))

    @property
    def step(self) -> int:
        """The bucket the engine sums over, in seconds: divides the window, the interval and the shift."""
        return max(1, math.gcd(int(self.window), int(self.every), int(self.shift)))


@dataclass(frozen=True)
class Contact:
    """A contact point: where notifications go."""

    name: str
    type: str
    url: str | None = None
    to: tuple[str, ...] = ()
    smtp: str = "localhost:25"
    sender: str = "mercator@localhost"
    username: str | None = None
    password_env: str | None = None
    starttls: bool = False

    def to_dict(self) -> dict:
        out = {"type": self.type}
        if self.url:
            out["url"] = self.url
        if self.type == "email":
            out.update(to=list(self.to), smtp=self.smtp, **{"from": self.sender}, starttls=self.starttls)
            if self.username:
                out.update(username=self.username, password_env=self.password_env)
        return out


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    contacts: dict[str, Contact]


def _pairs(value, where: str) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise BadParameter(f"{where}: expected a mapping such as {{campaign: summer}}")
    return tuple(sorted((str(k), str(v)) for k, v in value.items()))


def _names(value, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadParameter(f"{where}: expected a name or a list of names")
    return tuple(value)


def _number(value, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadParameter(f"{where}: expected a number; got {value!r}")
    return float(value)


def parse_rule(spec: dict, *, contacts: dict[str, Contact] | None = None) -> Rule:
    """One rule from its mapping, every problem named with the rule and field."""
    if not isinstance(spec, dict):
        raise BadParameter("rules: each rule must be a mapping with name, kind, ...")
    name = str(spec.get("name") or "").strip()
    where = f"rule {name or '(unnamed)'}"
    if not name:
        raise BadParameter(f"{where}: name is required")
    unknown = sorted(set(spec) - _FIELDS)
    if unknown:
        raise BadParameter(f"{where}: unknown field {unknown[0]!r} (fields: {', '.join(sorted(_FIELDS))})")
    kind = spec.get("kind")
    if kind not in KINDS:
        raise BadParameter(f"{where}: kind must be one of {', '.join(KINDS)}; got {kind!r}")
    metric = spec.get("metric")
    source = spec.get("source")
    if metric is not None:
        try:
            k = kpi(str(metric))
        except Exception:  # noqa: BLE001  (kpi names the known KPIs; say which rule asked)
            raise BadParameter(f"{where}: unknown metric {metric!r}; use a KPI of mercator.metrics (cost, clicks, "
                               "ctr, cvr, cpa, roas, ...) or events.<name>") from None
        if source is not None and source != k.table:
            raise BadParameter(f"{where}: metric {metric} is computed from {k.table}, not {source}")
        source = k.table
    source = source or "ad_performance"
    if source not in SOURCES:
        raise BadParameter(f"{where}: source must be one of {', '.join(SOURCES)}; got {source!r}")
    spec_cols = set(table_spec(source).column_names)
    filters, by = _pairs(spec.get("where"), f"{where}.where"), _names(spec.get("by"), f"{where}.by")
    for col in [c for c, _ in filters] + list(by):
        if col not in spec_cols:
            raise BadParameter(f"{where}: {source} has no column {col!r}")
    fields: dict = {}
    for key in ("above", "below", "k", "min_clicks", "max_chance", "min_share", "budget", "tolerance", "min_elapsed"):
        v = _number(spec.get(key), f"{where}.{key}")
        if v is not None:
            fields[key] = v
    window = parse_duration(spec.get("window", spec.get("max_age", "1h")), f"{where}.window")
    every = parse_duration(spec.get("every", "5m"), f"{where}.every")
    if window <= 0 or every <= 0:
        raise BadParameter(f"{where}: window and every must be longer than zero")
    default_metric = {"delivery": "impressions", "overspend": "cost"}.get(kind)
    if kind in ("threshold", "change", "anomaly") and metric is None:
        raise BadParameter(f"{where}: a {kind} rule needs a metric")
    if kind in ("threshold", "change") and "above" not in fields and "below" not in fields:
        raise BadParameter(f"{where}: a {kind} rule needs above or below")
    if kind == "overspend" and spec.get("budget") is None and not spec.get("budgets"):
        raise BadParameter(f"{where}: an overspend rule needs a budget (or budgets per group)")
    if kind in ("delivery", "overspend") and metric is None:
        metric = default_metric
    clicks = conversions = None
    if kind == "broken_tracking":
        clicks = spec.get("clicks") or ("events.click" if source == "events" else "clicks")
        conversions = spec.get("conversions") or ("events.purchase" if source == "events" else "conversions")
        for m in (clicks, conversions):
            if kpi(m).table != source:
                raise BadParameter(f"{where}: {m} is not computed from {source}")
    if kind in ("change", "delivery") and fields.get("above") is not None and fields["above"] <= -1:
        raise BadParameter(f"{where}: above is a relative change (1.0 = +100%); it must be above -1")
    period = spec.get("period", "day")
    if period not in ("day", "week", "month"):
        raise BadParameter(f"{where}: period must be day, week or month; got {period!r}")
    severity = spec.get("severity", "warning")
    if severity not in SEVERITIES:
        raise BadParameter(f"{where}: severity must be one of {', '.join(SEVERITIES)}; got {severity!r}")
    escalate = spec.get("escalate") or {}
    if not isinstance(escalate, dict) or (escalate and ("after" not in escalate or "to" not in escalate)):
        raise BadParameter(f"{where}.escalate: expected {{after: 30m, to: [contact]}}")
    notify = _names(spec.get("notify"), f"{where}.notify")
    escalate_to = _names(escalate.get("to"), f"{where}.escalate.to")
    if contacts is not None:
        for c in notify + escalate_to:
            if c not in contacts:
                raise BadParameter(f"{where}: unknown contact point {c!r} (contacts: "
                                   f"{', '.join(contacts) or 'none declared'})")
    budgets = spec.get("budgets") or {}
    if not isinstance(budgets, dict):
        raise BadParameter(f"{where}.budgets: expected a mapping of group value to budget")
    return Rule(name=name, kind=kind, source=source, metric=metric, where=filters, by=by, window=window, every=every,
                pending=parse_duration(spec.get("for", 0), f"{where}.for"),
                keep_firing=parse_duration(spec.get("keep_firing_for", 0), f"{where}.keep_firing_for"),
                severity=severity, labels=_pairs(spec.get("labels"), f"{where}.labels"), notify=notify,
                escalate_after=(parse_duration(escalate["after"], f"{where}.escalate.after") if escalate else None),
                escalate_to=escalate_to,
                baseline=parse_duration(spec.get("baseline", "7d"), f"{where}.baseline"),
                clicks=clicks, conversions=conversions, period=period,
                budgets=tuple(sorted((str(g), float(_number(v, f"{where}.budgets.{g}") or 0))
                                     for g, v in budgets.items())),
                description=str(spec.get("description") or ""),
                action=parse_action(spec.get("action"), f"{where}.action", {c for c, _ in filters} | set(by)),
                spec=dict(spec), **fields)


def parse_contact(name: str, spec: dict) -> Contact:
    where = f"contact {name}"
    if not isinstance(spec, dict):
        raise BadParameter(f"{where}: expected a mapping with a type")
    kind = spec.get("type")
    if kind not in CONTACT_TYPES:
        raise BadParameter(f"{where}: type must be one of {', '.join(CONTACT_TYPES)}; got {kind!r}")
    if kind in ("webhook", "slack") and not str(spec.get("url") or "").startswith(("http://", "https://")):
        raise BadParameter(f"{where}: a {kind} contact needs a url starting with http:// or https://")
    to = _names(spec.get("to"), f"{where}.to")
    if kind == "email" and not to:
        raise BadParameter(f"{where}: an email contact needs to: [addresses]")
    if "password" in spec:
        raise BadParameter(f"{where}: never write a password in the rules; name the environment variable that holds "
                           "it with password_env")
    return Contact(name=name, type=kind, url=spec.get("url"), to=to, smtp=str(spec.get("smtp", "localhost:25")),
                   sender=str(spec.get("from", "mercator@localhost")), username=spec.get("username"),
                   password_env=spec.get("password_env"), starttls=bool(spec.get("starttls", False)))


def parse_rules(spec: dict | str | Path) -> RuleSet:
    """Rules and contact points from a mapping, YAML text or a YAML file."""
    data = load_spec(spec, "alert rules")
    unknown = sorted(set(data) - {"rules", "contacts"})
    if unknown:
        raise BadParameter(f"alert rules: unknown section {unknown[0]!r} (sections: rules, contacts)")
    contacts_spec = data.get("contacts") or {}
    if not isinstance(contacts_spec, dict):
        raise BadParameter("alert rules: contacts must be a mapping of name to contact point")
    contacts = {str(n): parse_contact(str(n), c) for n, c in contacts_spec.items()}
    rules_spec = data.get("rules") or []
    if not isinstance(rules_spec, list):
        raise BadParameter("alert rules: rules must be a list")
    rules = tuple(parse_rule(r, contacts=contacts) for r in rules_spec)
    seen: set[str] = set()
    for r in rules:
        if r.name in seen:
            raise BadParameter(f"alert rules: two rules are named {r.name!r}")
        seen.add(r.name)
    return RuleSet(rules, contacts)
