"""Governance benchmark (issue 23): the consent filter's cost on a 1M-customer target list, and
retention over 50M events, on DuckDB.

Run: make bench, or .venv/bin/python benchmarks/govern.py [--customers N] [--events N] [--users N].

1. **Consent.** N customers (default 1M) with consent columns and 300k consent records (grants,
   withdrawals and GPC signals over time); a propensity model scores all N from a Parquet file
   and writes the list (``target score``, without TreeSHAP reasons). Side by side in the same
   run: the list without a consent check, and with ``--consent marketing_email`` (the one
   engine-side filter: newest record per person, the customers column as fallback). Target:
   the filter adds under 10%.
2. **Retention.** E events (default 50M, generated inside DuckDB as benchmarks/explore.py does)
   over about ten months; a policy keeps 13 months as of a date that puts about 40% of them past
   it. Side by side: DuckDB's own ``DELETE FROM events WHERE ts < cutoff`` (rolled back), and
   ``mercator govern retention --apply`` (the keyed delete of every table's expired rows, audited,
   in one transaction). Target: under a minute.

Prints one JSON line; exits non-zero when a target is missed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "passive")
sys.path.insert(0, str(Path(__file__).parent))

from explore import make_events


def bench_consent(folder: Path, n: int) -> dict:
    import numpy as np
    import pandas as pd

    from mercator.target import score_table, train_model
    from mercator.workspace import Workspace

    ws = Workspace(str(folder / "consent.duckdb"))
    ws.con.raw_sql(f"""
        INSERT INTO customers BY NAME
        SELECT 'c' || i AS customer_id, hash(i) % 3 > 0 AS consent_marketing_email, 1 AS _load_id
        FROM range({n}) t(i)""")
    ws.con.raw_sql(f"""
        INSERT INTO consents BY NAME
        SELECT 'c' || (hash(j) % {n}) AS customer_id,
               ['marketing_email', 'marketing_email', 'gpc'][CAST(j % 3 AS INTEGER) + 1] AS purpose,
               hash(j + 7) % 2 = 0 AS granted,
               TIMESTAMP '2026-01-01' + to_seconds(CAST(j AS BIGINT)) AS ts, 1 AS _load_id
        FROM range(300000) t(j)""")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20_000, 2))
    train = pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1], "y": (x.sum(axis=1) + rng.normal(0, 1, 20_000) > 0).astype(int)})
    model = train_model(None, train, "y", save_to=folder / "p.model").params["model_path"]
    people = folder / "people.parquet"
    pd.DataFrame({"customer_id": [f"c{i}" for i in range(n)], "x1": rng.normal(size=n),
                  "x2": rng.normal(size=n)}).to_parquet(people, index=False)
    times = {}
    for label, consent in (("without", None), ("with", "marketing_email"), ("without_again", None),
                           ("with_again", "marketing_email")):
        t0 = time.perf_counter()
        res = score_table(model, ws, str(people), folder / f"list_{label}.csv", id_col="customer_id",
                          consent=consent, reasons=False)
        times[label] = time.perf_counter() - t0
        if consent:
            kept = int(res.to_frame("summary")["rows"].iloc[0]) - int(res.to_frame("left_out")["rows"].sum())
    ws.close()
    without = min(times["without"], times["without_again"])
    with_ = min(times["with"], times["with_again"])
    return {"customers": n, "seconds_without_consent": round(without, 2), "seconds_with_consent": round(with_, 2),
            "overhead": round(with_ / without - 1, 3), "people_kept": kept}


def bench_retention(folder: Path, n: int, users: int) -> dict:
    from mercator.govern import retention
    from mercator.workspace import Workspace

    ws = Workspace(str(folder / "events.duckdb"))
    t0 = time.perf_counter()
    make_events(ws, n, users)
    gen = time.perf_counter() - t0
    now = dt.datetime(2026, 6, 1)
    cutoff = dt.datetime(2025, 5, 1)  # 13 months before now
    con = ws.engine.con
    con.raw_sql("BEGIN TRANSACTION")
    t0 = time.perf_counter()
    con.raw_sql(f"DELETE FROM events WHERE ts < TIMESTAMP '{cutoff:%Y-%m-%d %H:%M:%S}'")
    peer = time.perf_counter() - t0
    con.raw_sql("ROLLBACK")
    t0 = time.perf_counter()
    res = retention(ws, now=now, apply=True)
    ours = time.perf_counter() - t0
    deleted = int(res.to_frame("tables").set_index("table").loc["events", "deleted"])
    left = ws.count("events")
    ws.close()
    assert left + deleted == n
    return {"events": n, "deleted": deleted, "generate_seconds": round(gen, 1),
            "duckdb_delete_where_seconds": round(peer, 2), "mercator_retention_seconds": round(ours, 2),
            "ratio": round(ours / peer, 2)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--events", type=int, default=50_000_000)
    ap.add_argument("--users", type=int, default=5_000_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        consent = bench_consent(folder, args.customers)
        keep = bench_retention(folder, args.events, args.users)
    out = {"benchmark": "govern", "consent": consent, "retention": keep,
           "targets": {"consent_overhead_under_10pct": consent["overhead"] < 0.10,
                       "retention_under_60s": keep["mercator_retention_seconds"] < 60}}
    print(json.dumps(out))
    if not all(out["targets"].values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
