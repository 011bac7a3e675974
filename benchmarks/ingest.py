"""Ingest benchmark: a 5M-row ad_performance CSV, validated load vs pandas.read_csv alone.

Run: make bench (or .venv/bin/python benchmarks/ingest.py [--rows N]). Both run in one
process on the same file, one after the other; the file is generated once (seeded) into
benchmarks/.data/. Writes the figures to stdout as one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

os.environ.setdefault("OMP_WAIT_POLICY", "passive")


def make_csv(path: Path, rows: int, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    days = np.datetime64("2022-01-01") + rng.integers(0, 730, rows).astype("timedelta64[D]")
    imp = rng.poisson(2000, rows)
    clicks = rng.binomial(imp, 0.02)
    table = pa.table({
        "date": days.astype(str), "platform": rng.choice(["google_ads", "meta", "tiktok"], rows),
        "channel": rng.choice(["paid_search", "paid_social", "display", "video"], rows),
        "campaign_id": np.char.add("cmp", rng.integers(0, 500, rows).astype(str)),
        "ad_id": np.arange(rows).astype(str),  # unique key per row
        "device": rng.choice(["desktop", "mobile", "tablet"], rows), "country": rng.choice(["US", "GB", "DE"], rows),
        "impressions": imp, "clicks": clicks, "cost": np.round(clicks * rng.lognormal(0, 0.3, rows), 2),
        "conversions": rng.binomial(clicks, 0.05), "conversion_value": np.round(rng.gamma(2, 30, rows), 2),
    })
    pacsv.write_csv(table, path)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=5_000_000)
    args = ap.parse_args()
    folder = Path(__file__).parent / ".data"
    folder.mkdir(exist_ok=True)
    csv = folder / f"ad_performance_{args.rows}.csv"
    if not csv.exists():
        make_csv(csv, args.rows)
    from mercator import Workspace
    from mercator.ingest import ingest

    t0 = time.perf_counter()
    df = pd.read_csv(csv)
    t_pandas = time.perf_counter() - t0
    del df
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(str(Path(tmp) / "bench.duckdb"))
        t0 = time.perf_counter()
        res = ingest(ws, csv, table="ad_performance")
        t_mercator = time.perf_counter() - t0
        loaded = ws.count("ad_performance")
        ws.close()
    out = {"rows": args.rows, "file_mb": round(csv.stat().st_size / 1e6, 1), "pandas_read_csv_s": round(t_pandas, 2),
           "mercator_ingest_s": round(t_mercator, 2), "ratio_mercator_over_pandas": round(t_mercator / t_pandas, 2),
           "rows_loaded": loaded, "rows_quarantined": int(res.to_frame("loads")["rows_quarantined"].sum()),
           "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
