"""The API's access log: every request through FastAPI (routes and dashboard pages) leaves an
entry in the workspace's audit trail: who (the role and a fingerprint of the token, never the
token), what (method, path, query), and the answer's status.

A request costs one append to the audit trail's pending file (``mercator.govern.defer``), not a
write to the workspace: a write would take DuckDB's lock and change the file that the cached
reads are keyed on. Every ``tick`` seconds (and when the server stops) what waits is chained into
the trail in one transaction. The decision and feedback routes are not logged here: each decision
is already a row of the decisions table.
"""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path

from starlette.requests import Request

from mercator._periodic import Periodic
from mercator.errors import MercatorError
from mercator.govern import chain_pending, defer, pending_files, pending_path

#: Paths not logged: the health probe and the dashboard's static files.
QUIET = ("/healthz", "/dashboard/static/")


def actor(role: str | None, token: str | None, open_access: bool) -> str:
    """Who made a request, for the trail: ``open`` without access control, else the role and the
    first 12 hex digits of the token's SHA-256 (enough to tell tokens apart, useless to a thief)."""
    if open_access:
        return "open"
    if not token:
        return "anonymous"
    return f"{role or 'refused'}:{hashlib.sha256(token.encode()).hexdigest()[:12]}"


class AccessLog(Periodic):
    """Notes each request (:meth:`note`) and chains the notes into the audit trail every tick."""

    name = "mercator-access-log"

    def __init__(self, settings: Path, writing, tick: float = 60.0) -> None:
        super().__init__(None, writing, tick)
        self.settings = Path(settings)
        self.pending = pending_path(self.settings)

    def note(self, request: Request, status: int, who: str) -> None:
        path = request.url.path
        if path.startswith(QUIET):
            return
        defer(self.pending, {"ts": None, "actor": who, "action": "api.read" if request.method in ("GET", "HEAD")
                             else "api.call", "subject": path,
                             "detail": {"method": request.method, "query": request.url.query or None,
                                        "status": status}})

    def step(self) -> int:
        path, claimed = pending_files(self.settings)
        if not (path.exists() or claimed):
            return 0
        with self.writing() as ws:
            return chain_pending(ws)

    def close(self) -> None:
        super().close()
        with contextlib.suppress(MercatorError):  # held by another process: chained by its next writer
            self.step()
