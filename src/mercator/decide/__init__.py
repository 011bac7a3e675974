"""Decide: choose content, offers and bids in real time under rules, caps and consent, learn from
the feedback with bandits, log every decision durably, and judge a candidate policy on the log
before it ships (docs/decide.md)."""

from mercator.decide._analysis import (
    DecisionSummary,
    PolicyEvaluation,
    SimulationResult,
    evaluate_policy,
    logged_decisions,
    simulate,
    summarize_decisions,
)
from mercator.decide._bandits import POLICIES, Bandit
from mercator.decide._budget import BudgetAllocator, Guardrails, parse_caps
from mercator.decide._budget_analysis import BudgetSimulation, simulate_budget
from mercator.decide._policy import ContextError, Decider, Policy, parse_policy
from mercator.decide._registry import (
    CreativeVersions,
    PolicyVersions,
    list_creatives,
    list_policies,
    live_policies,
    load_policy,
    save_creative,
    save_policy,
)
from mercator.decide._service import DecisionService, learn_from_log
from mercator.decide._triggers import TriggerRun, TriggerSchedule, parse_triggers, run_triggers

__all__ = [
    "POLICIES",
    "Bandit",
    "BudgetAllocator",
    "BudgetSimulation",
    "ContextError",
    "CreativeVersions",
    "Decider",
    "DecisionService",
    "DecisionSummary",
    "Guardrails",
    "Policy",
    "PolicyEvaluation",
    "PolicyVersions",
    "SimulationResult",
    "TriggerRun",
    "TriggerSchedule",
    "evaluate_policy",
    "learn_from_log",
    "list_creatives",
    "list_policies",
    "live_policies",
    "load_policy",
    "logged_decisions",
    "parse_caps",
    "parse_policy",
    "parse_triggers",
    "run_triggers",
    "save_creative",
    "save_policy",
    "simulate",
    "simulate_budget",
    "summarize_decisions",
]
