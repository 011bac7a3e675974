"""The evaluator on a schedule, for ``mercator serve``: a thread that wakes every ``tick``
seconds and evaluates the rules whose interval has passed since it last evaluated them (each
rule at its own ``every``), on the workspace opened for writing only when some rule is due.
Errors are logged and the next tick tries again: a monitor that stops on one bad evaluation
is worse than none.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager

from mercator.errors import MercatorError

log = logging.getLogger("mercator.monitor")


class Scheduler:
    """Evaluates due alert rules every ``tick`` seconds until ``close``."""

    def __init__(self, reading: Callable[[], AbstractContextManager], writing: Callable[[], AbstractContextManager],
                 tick: float = 60.0) -> None:
        self.reading, self.writing, self.tick = reading, writing, tick
        self._last: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.runs = 0

    def start(self) -> None:
        if self.tick > 0 and self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="mercator-monitor", daemon=True)
            self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.wait(self.tick):
            try:
                self.run_due()
            except MercatorError as exc:
                log.warning("alert evaluation failed: %s", exc)
            except Exception:
                log.exception("alert evaluation failed")

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
