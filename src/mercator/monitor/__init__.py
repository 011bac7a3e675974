"""Monitor: a campaign's life around the analyses. Objectives agreed and locked before launch,
early warnings, alert rules evaluated on a schedule with their state kept in the workspace,
notifications to webhooks, chat, e-mail and the log, and the optimization log of every change
to a live campaign.

docs/monitor.md describes the rules, contact points and objectives.
"""

from mercator.monitor._alerts import (
    AlertRules,
    MonitorRun,
    Silences,
    acknowledge,
    add_silence,
    list_alerts,
    list_rules,
    load_rules,
    run_monitor,
    save_rules,
)
from mercator.monitor._changes import (
    LIMITS,
    OptimizationLog,
    decide_change,
    list_changes,
    log_change,
)
from mercator.monitor._health import SystemHealth, system_health
from mercator.monitor._objectives import (
    Objectives,
    campaign_kpi,
    list_objectives,
    locked_version,
    set_objective,
    sign_objective,
)
from mercator.monitor._review import CampaignReview, Playbook, add_lesson, review, search_playbook
from mercator.monitor._rules import KINDS, Contact, Rule, RuleSet, parse_rules
from mercator.monitor._schedule import Scheduler
from mercator.monitor._warnings import EarlyWarnings, early_warnings

__all__ = [
    "KINDS", "LIMITS", "AlertRules", "CampaignReview", "Contact", "EarlyWarnings", "MonitorRun", "Objectives",
    "OptimizationLog", "Playbook", "Rule", "RuleSet", "Scheduler", "Silences", "SystemHealth", "acknowledge", "add_lesson", "add_silence",
    "campaign_kpi", "decide_change", "early_warnings", "list_alerts", "list_changes", "list_objectives",
    "list_rules", "load_rules", "locked_version", "log_change", "parse_rules", "review", "run_monitor",
    "save_rules", "search_playbook", "set_objective", "sign_objective", "system_health",
]
