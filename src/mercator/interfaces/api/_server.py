"""The server's hold on the workspace: connections opened per request and closed by a
context manager, one writing connection shared by the reads while the server itself writes,
and a cache of results.

The rule (docs/api.md): DuckDB lets one process write a file, or several read it.

- Between writes the server keeps no connection open, so the command line can read, load and
  write while ``mercator serve`` runs (each waits up to ``--wait`` seconds for the other).
- A write the server runs itself (``POST /v1/ingest``, a saved segmentation, an experiment's
  registration; ``mercator ingest`` goes through a running server) opens the one writing
  connection. For as long as it lasts, every read uses a cursor of that connection and sees
  what is committed (DuckDB's MVCC), so reads stay available during a load.
- A write by another process holds the file. Meanwhile the last result for the same
  parameters is served, marked ``X-Mercator-Stale: 1``, and a read without one is answered
  503 with Retry-After.

Results of read routes are cached by route, parameters and the state of the workspace file
(its size and modification time), so a cached read answers without opening the workspace.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mercator.errors import WorkspaceBusyError
from mercator.frames import tables_only

if TYPE_CHECKING:
    from mercator.workspace import Workspace


class _Access:
    """Within the server: readers on their own read-only connections, or, while the server
    writes, on cursors of its one writing connection. Switching between the two waits for
    the readers in flight (DuckDB refuses read-only and writing connections to one file in
    one process) and holds new ones back for that moment."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._switching = False
        self._shared: Workspace | None = None
        self._writer = threading.Lock()  # one write at a time

    @contextlib.contextmanager
    def read(self) -> Iterator[Workspace | None]:
        """A reader's turn: the shared writing workspace, or None (open your own)."""
        with self._cond:
            self._cond.wait_for(lambda: not self._switching)
            self._readers += 1
            shared = self._shared
        try:
            yield shared
        finally:
            with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    def _switch(self, to: Callable[[], Workspace | None]) -> Workspace | None:
        with self._cond:
            self._cond.wait_for(lambda: not self._switching)
            self._switching = True
            try:
                self._cond.wait_for(lambda: self._readers == 0)
                self._shared = to()
                return self._shared
            finally:
                self._switching = False
                self._cond.notify_all()

    @contextlib.contextmanager
    def write(self, open_writing: Callable[[], Workspace]) -> Iterator[Workspace]:
        """The writing workspace, shared with the readers until the write ends."""
        with self._writer:
            ws = self._switch(open_writing)
            assert ws is not None
            try:
                yield ws
            finally:
                self._switch(lambda: None)  # readers on its cursors finish first
                ws.close()


@dataclass
class Server:
    """What every route shares: where the workspace is and how to reach it."""

    workspace: str
    wait: float = 10.0
    ingest_root: Path = field(default_factory=Path.cwd)  # files a load through the API may read
    cache_size: int = 128
    _access: _Access = field(default_factory=_Access)
    _cache: OrderedDict = field(default_factory=OrderedDict)
    _cache_lock: threading.Lock = field(default_factory=threading.Lock)
    _kept: dict = field(default_factory=dict)

    @property
    def is_duckdb(self) -> bool:
        return not self.workspace.startswith("spark")

    def state(self) -> tuple:
        """What changes when the workspace does: the DuckDB file's and its WAL's size and
        modification time (Spark: nothing to stat, so no caching). One ``stat`` call per file:
        the decision route asks on every request."""
        if not self.is_duckdb:
            return ()
        files = self.__dict__.get("_files")
        if files is None:
            path = Path(self.workspace.removeprefix("duckdb://"))
            files = self.__dict__["_files"] = (str(path), str(path.with_name(path.name + ".wal")))
        out = []
        for f in files:
            try:
                st = os.stat(f)
                out.append((st.st_size, st.st_mtime_ns))
            except FileNotFoundError:
                out.append(None)
        return tuple(out)

    @contextlib.contextmanager
    def open(self, *, read_only: bool = True, sandbox: bool = False) -> Iterator[Workspace]:
        """The workspace for one request, closed when it ends (an error never leaves it locked)."""
        from mercator.workspace import Workspace

        if not read_only:
            with self.writing() as ws:
                yield ws
            return
        with self._access.read() as shared:
            if shared is None:
                with Workspace(self.workspace, read_only=True, wait=self.wait, sandbox=sandbox) as ws:
                    yield ws
            elif sandbox:  # the sandbox's settings are the database's, and the writer's is open
                raise WorkspaceBusyError("the server is writing to the workspace (a load); SQL queries run again "
                                         "when it ends")
            else:
                with shared.cursor() as ws:
                    yield ws

    @contextlib.contextmanager
    def writing(self) -> Iterator[Workspace]:
        """The workspace opened for writing by the server; reads share it until the write ends."""
        from mercator.workspace import Workspace

        if not self.is_duckdb:
            with Workspace(self.workspace, wait=self.wait) as ws:
                yield ws
            return
        with self._access.write(lambda: Workspace(self.workspace, wait=self.wait)) as ws:
            yield ws

    def keep(self, key: tuple, compute: Callable[[], Any], *, also: tuple = ()) -> Any:
        """``compute()``, kept in memory until the workspace (or ``also``: the state of other
        things it depends on, such as a model file's modification time) changes. For what a
        route needs on every request (a fitted model, the set of customers who consented)."""
        state = (self.state(), also)
        with self._cache_lock:
            hit = self._kept.get(key)
        if hit is not None and hit[0] == state and self.is_duckdb:
            return hit[1]
        value = compute()
        with self._cache_lock:
            self._kept[key] = (state, value)
        return value

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
        what it returned and whether that is stale (served from the cache while the file is held).
        A request names workspace tables, never files on the server's machine (``tables_only``)."""
        with tables_only():
            return self._run(key, analysis, read_only=read_only, sandbox=sandbox)

    def _run(self, key: tuple | None, analysis: Callable, *, read_only: bool, sandbox: bool) -> tuple[Any, bool]:
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
