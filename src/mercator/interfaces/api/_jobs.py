"""Background jobs for long work (a media-mix fit, model training, the report, forecasts).

Each job runs in its own process, so it can be cancelled (the process is ended) and never
holds the server's threads; a write the server must share with its reads (a load) runs in a
thread of the server on its writing connection instead (see ``_server``). Its state is a JSON file in the jobs folder (beside a DuckDB
workspace: ``<workspace>.jobs/``), written by the job as it goes: status, the step it is on,
and the result's ``to_dict()`` at the end. So a job survives a page reload, and its record a
restart of the server (jobs that were running when a server stopped are marked so). At most
``max_running`` run at once; the others wait in order.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import json
import logging
import multiprocessing
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager as ContextManager
from pathlib import Path
from typing import Any

from mercator.errors import NotFoundError
from mercator.frames import tables_only

log = logging.getLogger("mercator.api")

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
FINISHED = (DONE, FAILED, CANCELLED)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _write(path: Path, record: dict) -> None:
    tmp = path.with_suffix(f".{os.getpid()}-{threading.get_ident()}.tmp")  # one per writer
    tmp.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    tmp.replace(path)  # atomic: a reader never sees half a record


class _Cancelled(Exception):
    """Raised at a job's next progress step once it is cancelled."""


def _run(file: Path, target: str, params: dict, open_workspace: Callable[[], ContextManager],
         guard: Callable[[], ContextManager] = contextlib.nullcontext,
         cancelled: Callable[[], bool] = lambda: False) -> None:
    """Run ``target(ws, params, progress)`` and record its outcome in ``file``. ``guard`` is
    held while the record is written and ``cancelled`` read under it, so a cancelled job
    never overwrites the record its cancel wrote."""
    from mercator.interfaces.api._problems import message, status_of

    record = json.loads(file.read_text(encoding="utf-8"))

    def progress(step: str, done: int | None = None, total: int | None = None) -> None:
        with guard():
            if cancelled():
                raise _Cancelled
            record["progress"] = {"step": step, "done": done, "total": total}
            _write(file, record)

    try:
        module, name = target.split(":")
        run = getattr(importlib.import_module(module), name)
        with tables_only(), open_workspace() as ws:  # a request names tables, not the server's files
            result = run(ws, params, progress)
        record.update(status=DONE, result=result.to_dict(), finished=_now())
    except Exception as exc:  # recorded as a problem document; the trace stays in the server's log
        status, kind = status_of(exc)
        if not cancelled():
            log.exception("job %s failed", record["id"])
        record.update(status=FAILED, finished=_now(),
                      problem={"type": f"https://mercator.dev/problems/{kind}", "status": status,
                               "title": "Job failed", "detail": message(exc)})
    with guard():
        if not cancelled():
            _write(file, record)


def _child(path: str, target: str, params: dict, workspace: str, read_only: bool, wait: float) -> None:
    """A job's own process, on its own connection to the workspace."""
    from mercator.workspace import Workspace

    _run(Path(path), target, params, lambda: Workspace(workspace, read_only=read_only, wait=wait))


class _InServer(threading.Thread):
    """A job run in the server's process, on the server's writing connection, so the server's
    reads go on while it writes (a load). Cancelling stops the statement it is running and
    the job at its next progress step; its transaction rolls back."""

    def __init__(self, path: Path, target: str, params: dict, writing: Callable[[], ContextManager],
                 guard: threading.Lock) -> None:
        super().__init__(daemon=True, name=f"job-{path.stem}")
        self.exitcode: int | None = None
        self._cancelled = threading.Event()
        self._ws = None
        self._args = (path, target, params, writing, guard)

    def run(self) -> None:
        path, target, params, writing, guard = self._args

        @contextlib.contextmanager
        def open_workspace() -> Iterator:
            with writing() as ws:
                self._ws = ws
                try:
                    yield ws
                finally:
                    self._ws = None

        _run(path, target, params, open_workspace, guard=lambda: guard, cancelled=self._cancelled.is_set)
        self.exitcode = 0

    def terminate(self) -> None:
        self._cancelled.set()
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(Exception):
                ws.engine.interrupt()


class Jobs:
    """The server's job queue."""

    def __init__(self, folder: Path, workspace: str, *, max_running: int = 1, wait: float = 60.0,
                 writing: Callable[[], ContextManager] | None = None) -> None:
        self.folder = folder
        self.writing = writing  # the server's writing workspace, for jobs run in the server
        self.workspace = workspace
        self.max_running = max_running
        self.wait = wait
        self._procs: dict[str, multiprocessing.Process | _InServer] = {}
        self._queue: list[tuple[str, str, dict, bool, bool]] = []
        self._lock = threading.Lock()
        self._ctx = multiprocessing.get_context("spawn")  # a clean interpreter: no threads or locks inherited
        folder.mkdir(parents=True, exist_ok=True)
        for f in folder.glob("*.json"):  # jobs a previous server left unfinished
            rec = json.loads(f.read_text(encoding="utf-8"))
            if rec.get("status") not in FINISHED:
                rec.update(status=FAILED, finished=_now(), problem={
                    "status": 503, "title": "Job interrupted", "detail": "the server stopped before the job ended; "
                    "submit it again"})
                _write(f, rec)

    def _path(self, job_id: str) -> Path:
        if not job_id.isalnum():
            raise NotFoundError(f"no job {job_id!r}")
        return self.folder / f"{job_id}.json"

    def submit(self, kind: str, target: str, params: dict[str, Any], *, read_only: bool = True,
               in_server: bool = False) -> dict:
        """Queue ``target`` ("module:function", called as ``function(ws, params, progress)``);
        ``in_server``: run it in the server on its writing connection (a load)."""
        job_id = uuid.uuid4().hex[:16]
        record = {"id": job_id, "kind": kind, "params": params, "status": QUEUED, "created": _now(),
                  "progress": None}
        _write(self._path(job_id), record)
        with self._lock:
            self._queue.append((job_id, target, params, read_only, in_server))
        self._start_waiting()
        return self.get(job_id)

    def _start_waiting(self) -> None:
        with self._lock:
            self._reap()
            while self._queue and len(self._procs) < self.max_running:
                job_id, target, params, read_only, in_server = self._queue.pop(0)
                path = self._path(job_id)
                rec = json.loads(path.read_text(encoding="utf-8"))
                if rec["status"] != QUEUED:
                    continue
                rec.update(status=RUNNING, started=_now())
                _write(path, rec)
                proc: multiprocessing.Process | _InServer
                if in_server and self.writing is not None:
                    proc = _InServer(path, target, params, self.writing, self._lock)
                else:
                    proc = self._ctx.Process(target=_child, args=(str(path), target, params, self.workspace,
                                                                  read_only, self.wait))
                    # not a daemon: a job may start its own workers (statsforecast, LightGBM);
                    # the server ends its jobs on shutdown
                proc.start()
                self._procs[job_id] = proc
                threading.Thread(target=self._watch, args=(job_id, proc), daemon=True).start()

    def _watch(self, job_id: str, proc: multiprocessing.Process | _InServer) -> None:
        proc.join()
        path = self._path(job_id)
        with self._lock:  # a cancel in progress holds it: its record is not overwritten here
            rec = json.loads(path.read_text(encoding="utf-8"))
            if rec["status"] == RUNNING:  # ended without recording: killed or crashed
                rec.update(status=FAILED, finished=_now(), problem={
                    "status": 500, "title": "Job failed",
                    "detail": f"the job's process ended with code {proc.exitcode}"})
                _write(path, rec)
        self._start_waiting()

    def _reap(self) -> None:
        for job_id in [j for j, p in self._procs.items() if not p.is_alive()]:
            del self._procs[job_id]

    def get(self, job_id: str) -> dict:
        path = self._path(job_id)
        if not path.exists():
            raise NotFoundError(f"no job {job_id!r}")
        return json.loads(path.read_text(encoding="utf-8"))

    def list(self) -> list[dict]:
        recs = [json.loads(f.read_text(encoding="utf-8")) for f in self.folder.glob("*.json")]
        return sorted(({k: r.get(k) for k in ("id", "kind", "status", "created", "finished", "progress")}
                       for r in recs), key=lambda r: r["created"], reverse=True)

    def cancel(self, job_id: str) -> dict:
        rec = self.get(job_id)
        if rec["status"] in FINISHED:
            return rec
        with self._lock:
            proc = self._procs.pop(job_id, None)
            if proc is not None:
                proc.terminate()  # the job's writes are transactions: ending it leaves the workspace as it was
                if not isinstance(proc, _InServer):  # a thread never writes its record once cancelled
                    proc.join(5)
            rec = self.get(job_id)  # as the job left it, then marked
            rec.update(status=CANCELLED, finished=_now())
            _write(self._path(job_id), rec)
        self._start_waiting()
        return self.get(job_id)

    def shutdown(self) -> None:
        with self._lock:
            procs = list(self._procs.items())
        for job_id, proc in procs:
            proc.terminate()
            proc.join(5)
            rec = self.get(job_id)
            if rec["status"] == RUNNING:
                rec.update(status=CANCELLED, finished=_now())
                _write(self._path(job_id), rec)


def jobs_folder(workspace: str) -> Path:
    """``<workspace file>.jobs`` beside a DuckDB workspace; ``./mercator-spark/jobs`` for Spark."""
    return beside(workspace, "jobs")


def beside(workspace: str, name: str) -> Path:
    """The server's folder ``name`` for ``workspace``: ``<workspace file>.<name>`` beside a DuckDB
    workspace, ``$MERCATOR_SPARK_HOME/<name>`` (default ``./mercator-spark``) for Spark."""
    if workspace.startswith("spark"):
        return Path(os.environ.get("MERCATOR_SPARK_HOME", "mercator-spark")) / name
    path = Path(workspace.removeprefix("duckdb://"))
    return path.with_name(f"{path.name}.{name}")
