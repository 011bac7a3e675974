"""Explore, diagnose and funnel benchmark on DuckDB (issue 3).

Run: make bench, or .venv/bin/python benchmarks/explore.py [--ad-rows N] [--events N] [--part ads|funnel|all].

- explore + diagnose over N ad_performance rows (default 10M: 730 days x 4 channels x 200
  campaigns x 3 devices x 5 countries, 800 creatives, a planted mobile CVR drop);
- a 5-step funnel over N events (default 50M; 5M users).

Data is generated inside DuckDB (SQL over range()), so generation is not what is measured.
Peers, in the same run: pandas doing the same aggregation (explore's part sums by day and
device) and the same funnel algorithm (per-step merge and per-user minimum) on frames
already in memory; their load from DuckDB is not counted. The funnel counts must agree.
Prints one JSON line with wall times, ratios and peak RSS (ru_maxrss of this process: the
pandas peers run after Mercator, so the figure bounds both; Mercator's own peak is printed
before the peers run).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import pandas as pd

STEPS = ["page_view", "view_item", "add_to_cart", "begin_checkout", "purchase"]


def _rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def make_ads(ws, rows: int) -> None:
    """rows ad rows; the key (date, campaign, creative, device, country) is unique per row."""
    ws.con.raw_sql(f"""
        INSERT INTO ad_performance BY NAME
        WITH g AS (SELECT i, i % 730 AS d, (i // 730) % 200 AS c, (i // 146000) % 3 AS v,
                          (i // 438000) % 5 AS k, (i // 2190000) AS rep FROM range({rows}) t(i))
        SELECT DATE '2024-01-01' + CAST(d AS INTEGER) AS date, 'google_ads' AS platform,
               ['paid_search','paid_social','display','video'][c % 4 + 1] AS channel,
               'cmp' || c AS campaign_id, 'cr' || (c * 4 + rep % 4) || '_' || rep AS creative_id,
               ['desktop','mobile','tablet'][v + 1] AS device, ['US','GB','DE','FR','ES'][k + 1] AS country,
               CAST(1000 + 500 * random() AS BIGINT) AS impressions,
               CAST(20 + 10 * random() AS BIGINT) AS clicks, round(15 + 10 * random(), 2) AS cost,
               CAST(floor((CASE WHEN v = 1 AND d >= 511 THEN 0.2 ELSE 1.0 END) * 2 * random()) AS BIGINT)
                   AS conversions,
               round(60 * random(), 2) AS conversion_value, 1 AS _load_id
        FROM g""")


def make_events(ws, n: int, users: int) -> None:
    """n events of users users; each step is reached by a falling share of users, in order."""
    ws.con.raw_sql(f"""
        INSERT INTO events BY NAME
        SELECT 'e' || i AS event_id, 'u' || (i % {users}) AS user_id,
               TIMESTAMP '2025-01-01' + to_seconds(CAST((i // {users}) * 3600 + (hash(i) % 3000) AS BIGINT))
                   + to_days(CAST(hash(i % {users}) % 300 AS INTEGER)) AS ts,
               CASE WHEN i // {users} < 4 THEN 'page_view'
                    WHEN i // {users} < 6 THEN 'view_item'
                    WHEN (i // {users}) = 6 AND hash(i % {users} + 1) % 2 = 0 THEN 'add_to_cart'
                    WHEN (i // {users}) = 7 AND hash(i % {users} + 1) % 4 = 0 THEN 'begin_checkout'
                    WHEN (i // {users}) = 8 AND hash(i % {users} + 1) % 8 = 0 THEN 'purchase'
                    ELSE 'scroll' END AS event_name,
               ['desktop','mobile','tablet'][CAST(hash(i % {users}) % 3 AS INTEGER) + 1] AS device, 1 AS _load_id
        FROM range({n}) t(i)""")


def bench_ads(ws, rows: int) -> dict:
    from mercator.diagnose import diagnose
    from mercator.explore import explore
    from mercator.metrics import part_frame

    t0 = time.perf_counter()
    make_ads(ws, rows)
    gen = time.perf_counter() - t0
    t0 = time.perf_counter()
    ex = explore(ws)
    t_explore = time.perf_counter() - t0
    t0 = time.perf_counter()
    dg = diagnose(ws, "cvr", "2025-05-26:2025-06-22")
    t_diagnose = time.perf_counter() - t0
    t0 = time.perf_counter()
    ours = part_frame(ws, ["cvr", "cpa"], by=["device"], grain="day")
    t_parts = time.perf_counter() - t0
    rss_mercator = _rss_gb()
    df = ws.table("ad_performance").select("date", "device", "clicks", "conversions", "cost").to_pandas()
    t0 = time.perf_counter()
    theirs = df.groupby(["device", "date"], as_index=False)[["clicks", "conversions", "cost"]].sum()
    t_pandas = time.perf_counter() - t0
    assert len(theirs) == len(ours) and int(theirs["conversions"].sum()) == int(ours["conversions"].sum())
    del df
    return {"ad_rows": rows, "generate_s": round(gen, 1), "explore_s": round(t_explore, 2),
            "diagnose_s": round(t_diagnose, 2), "explore_findings": len(ex.findings),
            "diagnose_top": dg.findings[0].text, "part_sums_by_day_device_s": round(t_parts, 3),
            "pandas_groupby_same_s": round(t_pandas, 3), "ratio_part_sums_to_pandas": round(t_parts / t_pandas, 2),
            "peak_rss_gb_mercator": round(rss_mercator, 2)}


def _pandas_funnel(e: pd.DataFrame, window_s: int) -> list[int]:
    """The same algorithm as mercator.diagnose.funnel, in pandas: the peer."""
    first = e[e.event_name == STEPS[0]].groupby("user_id", as_index=False)["ts"].min().rename(columns={"ts": "t0"})
    cur, prev, counts = first, "t0", [len(first)]
    for i, step in enumerate(STEPS[1:], start=1):
        ev = e.loc[e.event_name == step, ["user_id", "ts"]]
        j = cur[list(dict.fromkeys(["user_id", "t0", prev]))].merge(ev, on="user_id")
        j = j[(j.ts >= j[prev]) & (j.ts <= j.t0 + pd.Timedelta(seconds=window_s))]
        nxt = j.groupby("user_id", as_index=False)["ts"].min().rename(columns={"ts": f"t{i}"})
        cur = cur.merge(nxt, on="user_id")
        prev = f"t{i}"
        counts.append(len(cur))
    return counts


def bench_funnel(ws, n: int, users: int) -> dict:
    from mercator.diagnose import funnel

    t0 = time.perf_counter()
    make_events(ws, n, users)
    gen = time.perf_counter() - t0
    t0 = time.perf_counter()
    f = funnel(ws, STEPS, window="7d")
    t_funnel = time.perf_counter() - t0
    rss_mercator = _rss_gb()
    ours = f.to_frame("steps")["users"].tolist()
    e = ws.table("events").select("user_id", "ts", "event_name").to_pandas()
    e["event_name"] = e["event_name"].astype("category")
    t0 = time.perf_counter()
    theirs = _pandas_funnel(e, 7 * 86400)
    t_pandas = time.perf_counter() - t0
    assert ours == theirs, (ours, theirs)
    return {"events": n, "users": users, "generate_s": round(gen, 1), "funnel_5_steps_s": round(t_funnel, 2),
            "pandas_same_funnel_s": round(t_pandas, 2), "ratio_funnel_to_pandas": round(t_funnel / t_pandas, 2),
            "funnel_users": ours, "peak_rss_gb_mercator": round(rss_mercator, 2)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ad-rows", type=int, default=10_000_000)
    ap.add_argument("--events", type=int, default=50_000_000)
    ap.add_argument("--users", type=int, default=5_000_000)
    ap.add_argument("--part", choices=["ads", "funnel", "all"], default="all")
    args = ap.parse_args()
    from mercator import Workspace

    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(str(Path(tmp) / "bench.duckdb"))
        if args.part in ("ads", "all"):
            out["ads"] = bench_ads(ws, args.ad_rows)
        if args.part in ("funnel", "all"):
            out["funnel"] = bench_funnel(ws, args.events, args.users)
        ws.close()
    out["peak_rss_gb_process"] = round(_rss_gb(), 2)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
