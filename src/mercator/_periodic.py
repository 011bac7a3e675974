"""A background job of ``mercator serve`` that wakes every ``tick`` seconds (the alert
evaluator, the dashboard's refresh). Errors are logged and the next tick tries again: a job that
stops on one bad run is worse than none."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager

from mercator.errors import MercatorError


class Periodic:
    """Calls :meth:`step` every ``tick`` seconds in a daemon thread (0: never), first at start
    when ``at_start``; ``reading()`` and ``writing()`` open the workspace for it."""

    name = "mercator-periodic"
    at_start = False
    log = logging.getLogger("mercator")

    def __init__(self, reading: Callable[[], AbstractContextManager], writing: Callable[[], AbstractContextManager],
                 tick: float = 60.0) -> None:
        self.reading, self.writing, self.tick = reading, writing, tick
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.runs = 0

    def step(self):
        raise NotImplementedError

    def start(self) -> None:
        """Start the thread (again after a close: an app's lifespan can run more than once)."""
        if self.tick > 0 and self._thread is None:
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
            self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _loop(self) -> None:
        if not self.at_start and self._stop.wait(self.tick):
            return
        while not self._stop.is_set():
            try:
                self.step()
            except MercatorError as exc:  # the workspace busy or not there yet: try at the next tick
                self.log.warning("%s failed: %s", self.name, exc)
            except Exception:
                self.log.exception("%s failed", self.name)
            self._stop.wait(self.tick)
