"""The evaluator on a schedule, for ``mercator serve``: a thread that wakes every ``tick``
seconds and evaluates the rules whose interval has passed since it last evaluated them (each
rule at its own ``every``), on the workspace opened for writing only when some rule is due.
Errors are logged and the next tick tries again: a monitor that stops on one bad evaluation
is worse than none.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import AbstractContextManager

from mercator._periodic import Periodic

log = logging.getLogger("mercator.monitor")


class Scheduler(Periodic):
    """Evaluates due alert rules every ``tick`` seconds until ``close``."""

    name = "mercator-monitor"
    log = log

    def __init__(self, reading: Callable[[], AbstractContextManager], writing: Callable[[], AbstractContextManager],
                 tick: float = 60.0) -> None:
        super().__init__(reading, writing, tick)
        self._last: dict[str, float] = {}

    def step(self):
        return self.run_due()

    def run_due(self, now: float | None = None):
        """Evaluate the rules that are due (all of them the first time); the run's result, or None."""
        from mercator.monitor._alerts import load_rules, run_monitor
        from mercator.monitor._rules import RuleSet

        now = time.time() if now is None else now
        with self.reading() as ws:
            rules = load_rules(ws)
        due = tuple(r for r in rules.rules if now - self._last.get(r.name, -float("inf")) >= r.every)
        if not due:
            return None
        with self.writing() as ws:
            result = run_monitor(ws, RuleSet(due, rules.contacts))
        for r in due:
            self._last[r.name] = now
        self.runs += 1
        return result
