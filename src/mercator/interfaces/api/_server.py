"""The server's hold on the workspace: connections opened per request and closed by a
context manager, a readers-writer lock within the process, and a cache of results.

The rule (docs/api.md): DuckDB lets one process write a file, or several read it. The server
keeps no connection open between requests, so the command line can still load and write while
``mercator serve`` runs (each waits up to ``--wait`` seconds for the other). Within the
server, reads share the file and a write waits for them. Results of read routes are cached
by route, parameters and the state of the workspace file (its size and modification time), so
a cached read answers without opening the workspace, and while a load holds the file the last
result for the same parameters is served, marked ``X-Mercator-Stale: 1``.
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mercator.errors import WorkspaceBusyError


class _ReadersWriter:
    """Many readers or one writer (within this process)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writing = False

    @contextlib.contextmanager
    def read(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._writing)
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    @contextlib.contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._writing and self._readers == 0)
            self._writing = True
        try:
            yield
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()


@dataclass
class Server:
    """What every route shares: where the workspace is and how to reach it."""

    workspace: str
    wait: float = 10.0
    cache_size: int = 128
    _lock: _ReadersWriter = field(default_factory=_ReadersWriter)
    _cache: OrderedDict = field(default_factory=OrderedDict)
    _cache_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def is_duckdb(self) -> bool:
        return not self.workspace.startswith("spark")

    def state(self) -> tuple:
        """What changes when the workspace does: the DuckDB file's and its WAL's size and
        modification time (Spark: nothing to stat, so no caching)."""
        if not self.is_duckdb:
            return ()
        path = Path(self.workspace.removeprefix("duckdb://"))
        return tuple((p.stat().st_size, p.stat().st_mtime_ns) if p.exists() else None
                     for p in (path, path.with_name(path.name + ".wal")))

    @contextlib.contextmanager
    def open(self, *, read_only: bool = True, sandbox: bool = False):
        """The workspace for one request, closed when it ends (an error never leaves it locked)."""
        from mercator.workspace import Workspace

        with (self._lock.read() if read_only else self._lock.write()), \
                Workspace(self.workspace, read_only=read_only, wait=self.wait, sandbox=sandbox) as ws:
            yield ws

    def cached(self, key: tuple) -> Any | None:
        """The cached answer under ``key`` if the workspace has not changed since (cheap: two
        stat calls and a lookup, so the event loop answers it without a worker thread)."""
        if not self.is_duckdb:
            return None
        state = self.state()
        with self._cache_lock:
            hit = self._cache.get(key)
            if hit is not None and hit[0] == state:
                self._cache.move_to_end(key)
                return hit[1]
        return None

    def run(self, key: tuple | None, analysis: Callable, *, read_only: bool = True,
            sandbox: bool = False) -> tuple[Any, bool]:
        """``analysis(ws)`` on the workspace, cached under ``key`` (None: not cached). Returns
        what it returned and whether that is stale (served from the cache while the file is held)."""
        if key is None or not self.is_duckdb:
            with self.open(read_only=read_only, sandbox=sandbox) as ws:
                return analysis(ws), False
        state = self.state()
        with self._cache_lock:
            hit = self._cache.get(key)
            if hit is not None and hit[0] == state:
                self._cache.move_to_end(key)
                return hit[1], False
        try:
            with self.open(read_only=read_only) as ws:
                result = analysis(ws)
        except WorkspaceBusyError:
            if hit is not None:
                return hit[1], True
            raise
        with self._cache_lock:
            self._cache[key] = (state, result)
            self._cache.move_to_end(key)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return result, False
