"""Ingest benchmark: a 5M-row ad_performance CSV, validated load vs pandas.read_csv alone.

Run: make bench (or .venv/bin/python benchmarks/ingest.py [--rows N] [--repeat K]). Both
run in one process on the same file, alternating, K times each from a warm page cache;
the medians are compared. The file is generated once (seeded) into benchmarks/.data/.
Writes the figures to stdout as one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
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


def _time_pandas(csv: Path) -> float:
    t0 = time.perf_counter()
    df = pd.read_csv(csv)
    elapsed = time.perf_counter() - t0
    del df
    return elapsed


def _time_mercator(csv: Path) -> tuple[float, int, int]:
    from mercator import Workspace
    from mercator.ingest import ingest

    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(str(Path(tmp) / "bench.duckdb"))
        t0 = time.perf_counter()
        res = ingest(ws, csv, table="ad_performance")
        elapsed = time.perf_counter() - t0
        loaded = ws.count("ad_performance")
        ws.close()
    return elapsed, loaded, int(res.to_frame("loads")["rows_quarantined"].sum())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=5_000_000)
    ap.add_argument("--repeat", type=int, default=3, help="runs of each, alternating; the medians are compared")
    args = ap.parse_args()
    folder = Path(__file__).parent / ".data"
    folder.mkdir(exist_ok=True)
    csv = folder / f"ad_performance_{args.rows}.csv"
    if not csv.exists():
        make_csv(csv, args.rows)
    csv.read_bytes()  # both start from a warm page cache
    pandas_s, mercator_s = [], []
    for _ in range(args.repeat):
        pandas_s.append(_time_pandas(csv))
        elapsed, loaded, quarantined = _time_mercator(csv)
        mercator_s.append(elapsed)
    med_p, med_m = statistics.median(pandas_s), statistics.median(mercator_s)
    out = {"rows": args.rows, "file_mb": round(csv.stat().st_size / 1e6, 1),
           "pandas_read_csv_s": [round(x, 2) for x in pandas_s], "mercator_ingest_s": [round(x, 2) for x in mercator_s],
           "median_pandas_s": round(med_p, 2), "median_mercator_s": round(med_m, 2),
           "ratio_mercator_over_pandas": round(med_m / med_p, 2),
           "rows_loaded": loaded, "rows_quarantined": quarantined,
           "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
