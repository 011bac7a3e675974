"""The dashboard's pages computed ahead of their views and kept in the workspace
(``dashboard_pages``): a view reads one row, so a page answers in milliseconds whatever the size
of the data, and the analyses behind it run once per change of the data, not once per viewer.

What a page shows depends on the workspace's data and on what Mercator itself records (loads,
the audit trail of objectives, rules and acknowledgements, alert events, decisions, saved
segments). :func:`data_version` summarizes those in a few row counts, which each engine answers
from its metadata; a page computed from an older version is stale. ``mercator dashboard
refresh`` (for cron, after loads) and ``mercator serve`` (on its schedule: every
``--refresh-interval`` seconds it recomputes the stale pages) bring them up to date; meanwhile a
view shows the stored page and the time it was computed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import pandas as pd

from mercator._periodic import Periodic
from mercator.results import Finding, Result, frame_records

log = logging.getLogger("mercator.dashboard")

#: The tables whose row counts change whenever something a page shows does.
WATCHED = ("loads", "audit", "alert_events", "alerts", "decisions", "segments", "experiments")


def _watched_rows(ws, name: str) -> int:
    t = ws.table(name)
    if name == "audit":  # the API's access entries (every request) change no page
        t = t.filter(~t.action.startswith("api."))
    return int(t.count().to_pyarrow().as_py())


def data_version(ws) -> str:
    """The state of what the pages show: the row counts of :data:`WATCHED` and the newest saved
    media-mix model (the budget page reads it)."""
    from mercator.interfaces.dashboard._pages import newest_model

    model = newest_model(ws)
    state = [_watched_rows(ws, t) for t in WATCHED] + [None if model is None else [model.name, model.stat().st_mtime_ns]]
    return hashlib.sha256(json.dumps(state).encode()).hexdigest()[:16]


def page_content(ws, page) -> dict:
    """What ``page`` shows, computed now: its sections (findings, figures and tables rendered to
    HTML) and the items its buttons act on (firing alerts, objectives awaiting sign-off)."""
    from mercator.govern import mask_result
    from mercator.interfaces.dashboard._pages import page_results
    from mercator.interfaces.report import section_parts

    # a page is stored once and shown to every role that may read: it never shows personal data
    # (person-level rows are the API's, masked there for roles without the right)
    results = [mask_result(r) for r in page_results(ws, page)]
    alerts = next((r.to_frame("alerts") for r in results if r.kind == "monitor_run"), None)
    firing = [] if alerts is None or alerts.empty else frame_records(alerts[alerts.state == "firing"])
    objectives = next((r.to_frame("objectives") for r in results if r.kind == "objectives"), None)
    drafts = [] if objectives is None or objectives.empty else \
        frame_records(objectives[objectives.status == "draft"])
    return {"sections": [section_parts(f"{page.id}-{i}", r.title, (r,)) for i, r in enumerate(results)],
            "firing": firing, "drafts": drafts, "tiles": kpi_tiles(results)}


#: The KPIs the overview shows as tiles, in order, with how each reads.
TILES = (("cost", "Spend", "{:,.0f}"), ("conversions", "Conversions", "{:,.0f}"),
         ("conversion_value", "Revenue", "{:,.0f}"), ("ctr", "CTR", "{:.2%}"), ("cvr", "CVR", "{:.2%}"),
         ("cpa", "CPA", "{:,.2f}"), ("roas", "ROAS", "{:.2f}"))


def kpi_tiles(results) -> list[dict]:
    """The overview's tiles: each KPI's total (the KPI overview) and, where live objectives target
    that KPI, their status, projected landing and target (the early warnings; the worst status first)."""
    totals = next((r.to_frame("totals") for r in results if r.kind == "kpi_overview"), None)
    if totals is None or totals.empty:
        return []
    goals = next((r.to_frame("objectives") for r in results if r.kind == "early_warnings"), pd.DataFrame())
    worst = {"off track": 0, "at risk": 1, "on track": 2}
    tiles = []
    for kpi, label, fmt in TILES:
        value = totals[kpi].iloc[0] if kpi in totals else None
        if value is None or pd.isna(value):
            continue
        mine = goals[goals.kpi == kpi] if len(goals) else goals
        objectives = [{"objective_id": g.objective_id, "status": g.overall,
                       "landing": None if pd.isna(g.landing) else fmt.format(g.landing),
                       "target": fmt.format(g.target)}
                      for g in sorted(mine.itertuples(), key=lambda g: worst.get(g.overall, 3))]
        tiles.append({"kpi": kpi, "label": label, "value": fmt.format(value), "objectives": objectives})
    return tiles


def stored_page(ws, page_id: str) -> tuple[dict, str, dt.datetime] | None:
    """The stored page: (content, the data version it was computed from, when), or None."""
    t = ws.table("dashboard_pages")
    rows = t.filter(t.page_id == page_id).select("content", "data_version", "generated_at").to_pyarrow().to_pylist()
    if not rows:
        return None
    return json.loads(rows[0]["content"]), rows[0]["data_version"], rows[0]["generated_at"]


def stored_versions(ws) -> dict[str, str]:
    """The data version each stored page was computed from, by page id."""
    rows = ws.table("dashboard_pages").select("page_id", "data_version").to_pyarrow().to_pylist()
    return {r["page_id"]: r["data_version"] for r in rows}


@dataclass(frozen=True)
class DashboardRefresh(Result):
    """The dashboard's pages brought up to date: per page, whether it was recomputed or already
    current, and how long computing it took."""

    kind = "dashboard_refresh"
    title = "Dashboard pages refreshed"
    display: ClassVar[dict[str, tuple[str, ...]]] = {"pages": ("page_id", "status", "seconds", "generated_at")}


def stale_pages(ws, pages, *, force: bool = False) -> tuple[str, list, list[str]]:
    """(the data version, the pages whose stored version is not it (all with ``force``), the ids
    of those already current)."""
    version = data_version(ws)
    have = stored_versions(ws)
    todo = [p for p in pages if force or have.get(p.id) != version]
    return version, todo, [p.id for p in pages if p not in todo]


def compute_page(ws, page, version: str) -> pd.DataFrame:
    """``page`` computed now, as the one row of ``dashboard_pages`` to store."""
    t0 = time.perf_counter()
    content = page_content(ws, page)
    return pd.DataFrame([{"page_id": page.id, "data_version": version,
                          "generated_at": pd.Timestamp.now(tz="UTC").tz_localize(None).floor("us"),
                          "seconds": round(time.perf_counter() - t0, 3),
                          "content": json.dumps(content, default=str)}]) \
        .astype({"generated_at": "datetime64[us]", "seconds": "float64"})


def summary(version: str, computed: list[pd.DataFrame], current: list[str]) -> DashboardRefresh:
    """The result of a refresh: per page, computed (with its seconds) or already current."""
    frame = pd.concat(computed, ignore_index=True) if computed else \
        pd.DataFrame({"page_id": [], "seconds": [], "generated_at": []})
    table = pd.concat([frame.drop(columns=["content", "data_version"], errors="ignore").assign(status="computed"),
                       pd.DataFrame({"page_id": current, "status": "current"})], ignore_index=True)
    slowest = frame.loc[frame.seconds.idxmax()] if len(frame) else None
    text = (f"{len(frame)} page(s) computed from data version {version}"
            + (f" in {frame.seconds.sum():,.1f} s (slowest: {slowest.page_id}, {slowest.seconds:,.1f} s)"
               if slowest is not None else "")
            + (f"; {len(current)} already current." if current else "."))
    return DashboardRefresh(tables={"pages": table[["page_id", "status", "seconds", "generated_at"]]},
                            findings=(Finding(text),), params={"data_version": version})


def refresh_dashboard(ws, page_ids: list[str] | None = None, *, force: bool = False,
                      progress: Callable[[str, int, int], None] | None = None) -> DashboardRefresh:
    """Compute the stale pages (``page_ids``: only those; ``force``: even current ones) and store
    each as it is done (the workspace must be open for writing; one transaction a page, so a view
    sees the old page or the new one)."""
    from mercator.errors import BadParameter
    from mercator.interfaces.dashboard._pages import BY_ID, PAGES

    unknown = sorted(set(page_ids or ()) - set(BY_ID))
    if unknown:
        raise BadParameter(f"no dashboard page {', '.join(unknown)}; the pages: {', '.join(BY_ID)}")
    pages = [BY_ID[i] for i in page_ids] if page_ids else [p for p in PAGES if p.stored]
    version, todo, current = stale_pages(ws, pages, force=force)
    computed = []
    for i, page in enumerate(todo):
        computed.append(compute_page(ws, page, version))
        ws.replace("dashboard_pages", computed[-1], on=["page_id"])
        if progress:
            progress("dashboard", i + 1, len(todo))
    return summary(version, computed, current)


class Refresher(Periodic):
    """``mercator serve``'s keeper of the pages: at start and every ``tick`` seconds it
    recomputes the stale pages (:meth:`run_once`)."""

    name = "mercator-dashboard"
    at_start = True
    log = log

    def step(self):
        return self.run_once()

    def run_once(self) -> DashboardRefresh | None:
        """Compute and store the stale pages, one page at a time: each on its own reading
        connection, then stored in one short write, so a load through the server waits for at
        most one page, not the whole refresh. None when every page is current."""
        from mercator.interfaces.dashboard._pages import PAGES

        with self.reading() as ws:
            version, todo, current = stale_pages(ws, [p for p in PAGES if p.stored])
        if not todo:
            return None
        computed = []
        for page in todo:
            if self._stop.is_set():
                break
            with self.reading() as ws:
                row = compute_page(ws, page, data_version(ws))
            with self.writing() as ws:
                ws.replace("dashboard_pages", row, on=["page_id"])
            computed.append(row)
        self.runs += 1
        return summary(version, computed, current)
