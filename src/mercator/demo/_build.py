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
    from mercator.ingest import combine

    return ws, combine(results)
