"""The tables of the activation and watching layers, declared like every canonical table:
decide's decision log, policies, creatives and rewards; monitor's objectives, sign-offs, alert
rules and state, silences, optimization log and playbook; the dashboard's computed pages;
govern's audit trail.

Kept apart from ``_tables`` (the data that is loaded and analysed) because these tables hold
what Mercator itself records; ``_tables.TABLES`` lists both, in the docs' order.
"""

from __future__ import annotations

from mercator.schema._model import Column, TableSpec

C = Column

OBJECTIVES = TableSpec(
    name="objectives",
    description="Campaign goals (mercator.monitor), every version kept: the KPI, its target and acceptable "
                "threshold, the dates, owner and guardrails, the baseline from history with its interval, the roles "
                "that must sign off, and, once they all have, when it was locked and the hash of what was locked. A "
                "locked version never changes; a later one is a proposal, and the review judges the locked one.",
    columns=(
        C("objective_id", "string", "Objective id.", nullable=False),
        C("version", "int64", "Version, from 1.", min=1),
        C("campaign", "string", "Campaign the goal belongs to (ad_performance's campaign or campaign_id)."),
        C("kpi", "string", "Primary KPI (a KPI of mercator.metrics: cpa, roas, conversions, ...).", nullable=False),
        C("target", "float64", "Target value of the KPI over the date range."),
        C("threshold", "float64", "Acceptable value: worse than this is off track."),
        C("start", "date", "First day."),
        C("end", "date", "Last day."),
        C("owner", "string", "Who answers for the goal."),
        C("guardrails", "string", "Guardrail KPIs as JSON ({kpi: limit}); a guardrail breached is off track."),
        C("budget", "float64", "Budget over the date range (spend pace is judged against it).", unit="currency",
          min=0),
        C("baseline", "float64", "The KPI over the same number of days before the start."),
        C("baseline_low", "float64", "Lower end of the baseline's 95% interval (bootstrap over days)."),
        C("baseline_high", "float64", "Upper end of the baseline's 95% interval."),
        C("roles", "string", "Roles that must sign off, comma-separated (marketing, sales, finance)."),
        C("status", "string", "draft (awaiting sign-off), locked, or proposed (a change to a locked goal).",
          allowed=("draft", "locked", "proposed")),
        C("spec_hash", "string", "SHA-256 of the goal's terms (what sign-off agrees to and the lock seals)."),
        C("locked_at", "timestamp", "When the goal was locked, UTC."),
        C("author", "string", "Who wrote this version."),
        C("reason", "string", "Why."),
        C("created_at", "timestamp", "When, UTC."),
    ),
    key=("objective_id", "version"),
    time_column="start",
)

SIGNOFFS = TableSpec(
    name="signoffs",
    description="Sign-offs of objectives: which role agreed to which version's terms, who and when.",
    columns=(
        C("objective_id", "string", "Objective id.", nullable=False),
        C("version", "int64", "The version signed.", nullable=False),
        C("role", "string", "The role signing (marketing, sales, finance...).", nullable=False),
        C("person", "string", "Who signed."),
        C("spec_hash", "string", "The hash of the terms signed."),
        C("comment", "string", "Comment."),
        C("signed_at", "timestamp", "When, UTC.", nullable=False),
    ),
    key=("objective_id", "version", "role"),
    time_column="signed_at",
)

MONITOR_CONFIG = TableSpec(
    name="monitor_config",
    description="Alert rules and contact points of mercator.monitor, every version kept (a change is a new "
                "version; a deletion is a version with status deleted).",
    columns=(
        C("item", "string", "rule or contact.", nullable=False, allowed=("rule", "contact")),
        C("name", "string", "Its name.", nullable=False),
        C("version", "int64", "Version, from 1.", nullable=False, min=1),
        C("spec", "string", "The rule or contact point as JSON.", nullable=False),
        C("status", "string", "active, paused or deleted.", nullable=False, allowed=("active", "paused", "deleted")),
        C("author", "string", "Who made the change."),
        C("reason", "string", "Why."),
        C("created_at", "timestamp", "When, UTC.", nullable=False),
    ),
    key=("item", "name", "version"),
    time_column="created_at",
)

ALERTS = TableSpec(
    name="alerts",
    description="The state of every alert (one per rule and label set): normal, pending or firing, since when, the "
                "last value, acknowledgement and escalation. Kept so a restart neither re-fires nor forgets.",
    columns=(
        C("alert_id", "string", "Rule name and a digest of the labels.", nullable=False),
        C("rule", "string", "The rule.", nullable=False),
        C("labels", "string", "The alert's labels as JSON (the rule's, and the group it watches)."),
        C("severity", "string", "critical, warning or info."),
        C("state", "string", "normal, pending or firing.", nullable=False, allowed=("normal", "pending", "firing")),
        C("value", "float64", "The value at the last evaluation."),
        C("reason", "string", "The condition in words, with the values, at the last evaluation."),
        C("active_since", "timestamp", "When the condition started to hold (pending from), UTC."),
        C("fired_at", "timestamp", "When it started firing, UTC."),
        C("last_true", "timestamp", "The last evaluation at which the condition held, UTC."),
        C("resolved_at", "timestamp", "When it last stopped firing, UTC."),
        C("evaluated_at", "timestamp", "The last evaluation, UTC."),
        C("acked_by", "string", "Who acknowledged the firing alert."),
        C("acked_at", "timestamp", "When, UTC."),
        C("escalated_at", "timestamp", "When it was escalated to the second contact, UTC."),
    ),
    key=("alert_id",),
    time_column="evaluated_at",
)

ALERT_EVENTS = TableSpec(
    name="alert_events",
    description="What happened to alerts and what was sent: firing, resolved, escalated, acknowledged, silenced; "
                "per contact point, sent or failed (append-only).",
    columns=(
        C("ts", "timestamp", "When (the evaluation time), UTC.", nullable=False),
        C("alert_id", "string", "The alert.", nullable=False),
        C("rule", "string", "The rule."),
        C("event", "string", "firing, resolved, escalated or acknowledged.", nullable=False),
        C("contact", "string", "The contact point notified (empty: none)."),
        C("status", "string", "sent, failed, silenced or recorded.", nullable=False),
        C("detail", "string", "The message, or why sending failed."),
    ),
    key=("ts", "alert_id", "event", "contact"),
    time_column="ts",
)

SILENCES = TableSpec(
    name="silences",
    description="Silences: alerts whose labels match are evaluated as usual but notify nobody between start and "
                "end.",
    columns=(
        C("silence_id", "string", "Silence id.", nullable=False),
        C("matchers", "string", "Labels to match as JSON ({label: value}; rule and severity are labels too).",
          nullable=False),
        C("starts_at", "timestamp", "From, UTC.", nullable=False),
        C("ends_at", "timestamp", "Until, UTC.", nullable=False),
        C("author", "string", "Who."),
        C("comment", "string", "Why."),
        C("created_at", "timestamp", "When, UTC.", nullable=False),
    ),
    key=("silence_id",),
    time_column="starts_at",
)

OPTIMIZATIONS = TableSpec(
    name="optimizations",
    description="The optimization log: every change to a live campaign (budget, bid, creative, audience), by a person "
                "or an automated rule, with who, when, why and the evidence, linked to its objective. Append-only: an "
                "approval or a rejection is a row of its own.",
    columns=(
        C("change_id", "string", "Change id.", nullable=False),
        C("status", "string", "applied, pending (an automated change above its limit, waiting for approval), "
          "approved or rejected.", nullable=False, allowed=("applied", "pending", "approved", "rejected")),
        C("ts", "timestamp", "When, UTC.", nullable=False),
        C("campaign", "string", "The campaign changed.", nullable=False),
        C("objective_id", "string", "The locked objective it serves (found by campaign and date when not given)."),
        C("kind", "string", "budget, bid, creative, audience or other.", nullable=False,
          allowed=("budget", "bid", "creative", "audience", "other")),
        C("target", "string", "What was changed (a channel, a segment, a creative id)."),
        C("before", "string", "The value before."),
        C("after", "string", "The value after."),
        C("size", "float64", "The relative size of the change (|after / before - 1|), where both are numbers."),
        C("actor", "string", "Who: a person, or the automated rule's name."),
        C("automated", "boolean", "Made by an automated rule."),
        C("reason", "string", "Why."),
        C("evidence", "string", "The evidence: an alert id, a finding, a decision id."),
    ),
    key=("change_id", "status"),
    time_column="ts",
)

PLAYBOOK = TableSpec(
    name="playbook",
    description="Lessons from post-campaign reviews, as structured entries later objectives and reports can search: "
                "what was learned, where it holds, the effect and the evidence.",
    columns=(
        C("lesson_id", "string", "Lesson id.", nullable=False),
        C("campaign", "string", "The campaign reviewed."),
        C("objective_id", "string", "The objective it was judged against."),
        C("what", "string", "What was learned.", nullable=False),
        C("where", "string", "Where it holds: a channel, segment, market or creative."),
        C("effect", "string", "The effect measured, with its interval."),
        C("evidence", "string", "The evidence: the review's archive, an experiment, a finding."),
        C("author", "string", "Who recorded it."),
        C("created_at", "timestamp", "When, UTC.", nullable=False),
    ),
    key=("lesson_id",),
    time_column="created_at",
)

DASHBOARD_PAGES = TableSpec(
    name="dashboard_pages",
    description="The dashboard's pages computed ahead of their views (`mercator dashboard refresh`, and `mercator "
                "serve` after each change): what each page shows, rendered, with the version of the data it was "
                "computed from, so that a view reads one row instead of running the page's analyses.",
    columns=(
        C("page_id", "string", "The page (overview, trends, funnel, ...).", nullable=False),
        C("data_version", "string", "The state of the workspace the page was computed from.", nullable=False),
        C("generated_at", "timestamp", "When it was computed, UTC.", nullable=False),
        C("seconds", "float64", "How long computing it took.", min=0),
        C("content", "string", "The page as JSON: its sections (findings, figures, tables as HTML) and the items "
                               "its buttons act on.", nullable=False),
    ),
    key=("page_id",),
    time_column="generated_at",
)

AUDIT = TableSpec(
    name="audit",
    description="The audit trail: every governed change (objectives signed and locked, rules changed, alerts "
                "acknowledged...), append-only and hash-chained: each entry's hash covers the previous one's, so a "
                "row edited or removed behind Mercator's back breaks the chain (`mercator audit verify`).",
    columns=(
        C("seq", "int64", "Position in the trail, from 1.", nullable=False, min=1),
        C("ts", "timestamp", "When, UTC.", nullable=False),
        C("actor", "string", "Who (a person, or the automated rule)."),
        C("action", "string", "What was done (objective.lock, rule.save, alert.ack, ...).", nullable=False),
        C("subject", "string", "What it was done to (an objective id, a rule name...)."),
        C("detail", "string", "The evidence as JSON (hashes, values, reasons)."),
        C("prev_hash", "string", "The previous entry's hash (empty for the first)."),
        C("hash", "string", "SHA-256 of the previous hash and this entry's fields.", nullable=False),
    ),
    key=("seq",),
    time_column="ts",
)

DECISIONS = TableSpec(
    name="decisions",
    description="Every recommendation and action, with its evidence and model versions (the decision log).",
    columns=(
        C("decision_id", "string", "Decision id.", nullable=False),
        C("ts", "timestamp", "When it was recorded, UTC.", nullable=False),
        C("kind", "string", "recommendation or action."),
        C("action", "string", "What to do or what was done."),
        C("expected_impact", "string", "Expected impact with its interval, as JSON."),
        C("evidence", "string", "Evidence as JSON."),
        C("model_versions", "string", "Models and versions behind it, as JSON."),
        C("person_id", "string", "The person decided for (a customer or user id; pseudonymous)."),
        C("policy", "string", "The decision policy (mercator.decide)."),
        C("policy_version", "int64", "Its version."),
        C("context", "string", "The request's context as JSON (the keys the policy declares)."),
        C("context_hash", "string", "A digest of the context."),
        C("eligible", "string", "The arms that were eligible, comma-separated."),
        C("arm", "string", "The arm chosen."),
        C("propensity", "float64", "The probability the policy chose that arm with.", unit="ratio", min=0, max=1),
        C("fallback_reason", "string", "Why the default was served instead of the policy's choice (empty if not)."),
        C("latency_ms", "float64", "Time to decide, in milliseconds.", unit="ms", min=0),
    ),
    key=("decision_id",),
    time_column="ts",
)

POLICIES = TableSpec(
    name="policies",
    description="Decision policies of mercator.decide, every version kept: the YAML, its status, who changed it and "
                "why (the registry and its change log).",
    columns=(
        C("policy", "string", "Policy name.", nullable=False),
        C("version", "int64", "Version, from 1.", nullable=False, min=1),
        C("spec", "string", "The policy as YAML (arms, eligibility, caps, bandit, floor, default).", nullable=False),
        C("status", "string", "draft, live, paused or retired.", nullable=False,
          allowed=("draft", "live", "paused", "retired")),
        C("author", "string", "Who made the change."),
        C("reason", "string", "Why."),
        C("created_at", "timestamp", "When, UTC.", nullable=False),
    ),
    key=("policy", "version"),
    time_column="created_at",
)

CREATIVES = TableSpec(
    name="creatives",
    description="The creative registry of mercator.decide: every version of every creative or offer that can be "
                "shown (its content, where and to whom, its status and test cycle, who changed it and why). A "
                "policy's arm with the same id serves the live version's content, and only while it is live and "
                "within its dates.",
    columns=(
        C("creative_id", "string", "Creative id (an arm of a policy, or an offer id of the offers table).",
          nullable=False),
        C("version", "int64", "Version, from 1.", nullable=False, min=1),
        C("kind", "string", "creative or offer.", nullable=False, allowed=("creative", "offer")),
        C("name", "string", "Name."),
        C("content", "string", "What is shown: text, a URL or JSON; returned by POST /v1/decide."),
        C("channel", "string", "Channel it runs on (web, email, app, display...)."),
        C("market", "string", "Market (country or region)."),
        C("segment", "string", "Segment it is made for."),
        C("status", "string", "draft, live, paused or retired.", nullable=False,
          allowed=("draft", "live", "paused", "retired")),
        C("test_cycle", "string", "The test it belongs to (an experiment id or a test name)."),
        C("start", "date", "First day it may run (empty: no start)."),
        C("end", "date", "Last day it may run (empty: no end)."),
        C("author", "string", "Who made the change."),
        C("reason", "string", "Why."),
        C("created_at", "timestamp", "When, UTC.", nullable=False),
    ),
    key=("creative_id", "version"),
    time_column="created_at",
)

REWARDS = TableSpec(
    name="rewards",
    description="Feedback on decisions: the reward each earned, joined to the decision log by decision id.",
    columns=(
        C("decision_id", "string", "The decision rewarded.", nullable=False),
        C("ts", "timestamp", "When the reward was recorded, UTC.", nullable=False),
        C("reward", "float64", "The reward (1 for a click or a purchase, 0 for none, or a value)."),
    ),
    key=("decision_id", "ts"),
    time_column="ts",
)
