"""The public analyses of ``mercator.demo`` (the package re-exports them)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from mercator.demo._generate import DemoData, generate
from mercator.ingest import IngestResult, ingest
from mercator.workspace import Workspace


def write_demo_files(data: DemoData, folder: str | Path) -> dict[str, Path]:
    """Write each table as ``<folder>/<table>.parquet`` and the truth as ``truth.json``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, table in data.tables.items():
        path = folder / f"{name.lstrip('_')}.parquet"
        pq.write_table(table, path)
        paths[name] = path
    (folder / "truth.json").write_text(json.dumps(data.truth, indent=2, default=str), encoding="utf-8")
    return paths


def build_demo_workspace(path: str | Path = "demo/mercator-demo.duckdb", *, size: str = "default", seed: int = 7,
                         progress=None) -> tuple[Workspace, IngestResult]:
    """Create a fresh demo workspace at ``path`` (replacing an old one) and load the demo data."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for old in (path, Path(f"{path}.wal")):
        old.unlink(missing_ok=True)
    data = generate(size, seed)
    if progress:
        progress("generate", 1, 1)
    files = write_demo_files(data, path.parent / "demo-data")
    ws = Workspace(str(path))
    loadable = [(name, p) for name, p in files.items() if not name.startswith("_")]
    results = []
    for i, (name, p) in enumerate(loadable):
        results.append(ingest(ws, p, table=name))
        if progress:
            progress("load demo tables", i + 1, len(loadable))
    lock_push_objective(ws, data.truth["ad_performance"]["campaign_push"])
    if progress:
        progress("lock the campaign objective", 1, 1)
    from mercator.ingest import combine

    return ws, combine(results)


def lock_push_objective(ws: Workspace, push: dict) -> None:
    """The objective of the demo's campaign push, as its team would have set it: conversions 15%
    above the baseline of the four weeks before (10% acceptable), CPA no worse than 15% above,
    set a week before launch and signed by marketing and finance three days before."""
    import datetime as dt

    from mercator.metrics import Period
    from mercator.monitor import campaign_kpi, set_objective, sign_objective

    start, end = dt.date.fromisoformat(push["start"]), dt.date.fromisoformat(push["end"])
    days = (end - start).days + 1
    before = Period(start - dt.timedelta(days=days), start - dt.timedelta(days=1))
    conversions = campaign_kpi(ws, "conversions", push["campaign_id"], before)
    cpa = campaign_kpi(ws, "cpa", push["campaign_id"], before)
    set_at = dt.datetime.combine(start - dt.timedelta(days=7), dt.time(10))
    set_objective(ws, "search_push", kpi_name="conversions", target=round(conversions * 1.15),
                  threshold=round(conversions * 1.10), start=start, end=end, campaign=push["campaign_id"],
                  owner="paid search lead", guardrails={"cpa": round(cpa * 1.15, 2)}, roles=["marketing", "finance"],
                  author="demo", reason="four-week conversion push", at=set_at)
    for role, person in (("marketing", "maria"), ("finance", "fred")):
        sign_objective(ws, "search_push", role, person=person, at=set_at + dt.timedelta(days=4))
