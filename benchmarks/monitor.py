"""Alert evaluation benchmark (issue 22): 1,000 rules over 10M ad_performance rows on DuckDB.

Run: make bench, or .venv/bin/python benchmarks/monitor.py [--ad-rows N] [--rules N] [--peer-rules N].

The workspace holds N ad rows (default 10M, generated inside DuckDB as benchmarks/explore.py
does: 730 days x 200 campaigns x 4 channels x 3 devices x 5 countries). The rules mix the kinds
(threshold, change, anomaly, delivery), the metrics (cost, clicks, CTR, CVR, CPA, conversions),
filters (one channel or none), groups (per campaign, 200 alerts a rule, or one alert) and
windows (1 and 7 days), evaluated once at the day after the data, with the state written to
the workspace, as `mercator monitor run` does from cron.

Side by side in the same run, the data work alone (the engine's sums and the conditions, no
state): one query per rule, the way Grafana and Prometheus evaluate (each rule's query runs on
its own), against Mercator's grouping of the rules that watch the same source, filters and
groups into one engine query. The per-rule path runs on ``--peer-rules`` rules (default 100)
and its time is scaled to the full count; both must give the same condition for every alert.
Prints one JSON line.
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

from explore import make_ads

METRICS = ("cost", "clicks", "ctr", "cvr", "cpa", "conversions")
CHANNELS = (None, "paid_search", "paid_social", "display", "video")


def rule_specs(n: int) -> list[dict]:
    out = []
    for i in range(n):
        kind = ("threshold", "change", "anomaly", "delivery")[i % 4]
        spec = {"name": f"r{i:04d}", "kind": kind, "window": "1d" if i % 3 else "7d", "every": "1d",
                "baseline": "7d" if i % 3 else "28d"}
        if kind != "delivery":
            spec["metric"] = METRICS[i % len(METRICS)]
        if kind == "threshold":
            spec["above"] = 10.0 ** (i % 5)
        elif kind == "change":
            spec["below" if i % 2 else "above"] = -0.3 if i % 2 else 0.5
        channel = CHANNELS[(i // 4) % len(CHANNELS)]
        if channel:
            spec["where"] = {"channel": channel}
        if (i // 20) % 2:
            spec["by"] = ["campaign_id"]
        out.append(spec)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ad-rows", type=int, default=10_000_000)
    ap.add_argument("--rules", type=int, default=1000)
    ap.add_argument("--peer-rules", type=int, default=100)
    args = ap.parse_args()

    import numpy as np

    from mercator.monitor import parse_rules, run_monitor
    from mercator.monitor._alerts import _ticks, judge
    from mercator.monitor._series import seconds, window_sums
    from mercator.workspace import Workspace

    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(Path(tmp) / "bench.duckdb")
        t0 = time.perf_counter()
        make_ads(ws, args.ad_rows)
        gen = time.perf_counter() - t0
        last = ws.table("ad_performance").date.max().execute()
        now = dt.datetime.combine(last + dt.timedelta(days=1), dt.time())
        rules = parse_rules({"rules": rule_specs(args.rules)})

        t0 = time.perf_counter()
        grouped = run_monitor(ws, rules, now=now, notify=False)
        ours = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = run_monitor(ws, rules, now=now, notify=False)  # a second run reads and keeps the state
        ours_again = time.perf_counter() - t0

        # the data work alone: grouped queries (as run_monitor groups them) against one query per rule
        now_s = seconds(now)
        groups: dict = {}
        for r in rules.rules:
            groups.setdefault((r.source, r.where, r.by), []).append(r)
        t0 = time.perf_counter()
        held = {}
        for same in groups.values():
            ticks = [_ticks(r, now_s, None, None) for r in same]
            sums = window_sums(ws, same, ticks)
            for r, t in zip(same, ticks, strict=True):
                held[r.name] = (sums.groups, judge(r, sums, t).holds)
        grouped_data = time.perf_counter() - t0
        subset = rules.rules[:args.peer_rules]
        t0 = time.perf_counter()
        for r in subset:
            t = _ticks(r, now_s, None, None)
            sums = window_sums(ws, [r], [t])
            got = dict(zip(sums.groups, judge(r, sums, t).holds[:, 0], strict=True))
            want = dict(zip(held[r.name][0], held[r.name][1][:, 0], strict=True))
            assert all(bool(got[g]) == bool(want.get(g, False)) for g in got), r.name
        peer = (time.perf_counter() - t0) * len(rules.rules) / len(subset)
        assert np.isfinite(peer)
        alerts = len(grouped.to_frame("alerts"))
        ws.close()
    print(json.dumps({"benchmark": "monitor", "ad_rows": args.ad_rows, "rules": len(rules.rules), "alerts": alerts,
                      "firing": grouped.params["firing"], "generate_s": round(gen, 1),
                      "mercator_s": round(ours, 2), "mercator_second_run_s": round(ours_again, 2),
                      "data_grouped_s": round(grouped_data, 2), "data_per_rule_s_scaled": round(peer, 1),
                      "per_rule_measured_rules": len(subset), "ratio_per_rule_to_grouped": round(peer / grouped_data, 1),
                      "target_s": 10,
                      "firing_again": again.params["firing"]}))


if __name__ == "__main__":
    main()
