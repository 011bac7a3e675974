"""Attribution: Mercator against ChannelAttribution on the same journeys, side by side.

Run: .venv/bin/python benchmarks/attribution.py [--sizes 1000000,5000000] (part of make bench).
Journeys follow the demo company's process (mercator.demo.journey_outcomes: five channels,
1-3 touches per channel seen, in random order). Each case runs in its own process, so its peak
RSS is its own: Mercator's Markov order 1, Mercator's full set of models (rules, Markov 1-3,
Shapley, without the log-loss comparison) and ChannelAttribution's markov_model (order 1,
defaults) and heuristic_models, on the unique-path table and on one row per journey.
Parquet is read and the libraries imported before the timing starts. Each case runs --repeat
times (default 5), each in a fresh process; the median time and the largest peak RSS are
reported. Prints one JSON line per case and the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import numpy as np
import pandas as pd
from _child import child

DATA = Path(__file__).parent / ".data"


def make(n: int, seed: int = 3) -> tuple[Path, Path]:
    """Unique paths and one-row-per-journey tables (Parquet) for n journeys."""
    from mercator.demo._generate import CHANNELS, journey_outcomes

    uniq, rows = DATA / f"paths_unique_{n}.parquet", DATA / f"paths_rows_{n}.parquet"
    if uniq.exists() and rows.exists():
        return uniq, rows
    DATA.mkdir(exist_ok=True)
    rng = np.random.default_rng(seed)
    intent = rng.beta(2, 5, n) + 0.15 * (rng.random(n) < 0.25)
    exposed, converted = journey_outcomes(rng, intent)
    reps = np.column_stack([np.where(exposed[ch], rng.integers(1, 4, n), 0) for ch in CHANNELS])
    width = int(reps.sum(axis=1).max())
    # each touch a random time; a path is the channels in time order, padded with -1
    chan = np.repeat(np.tile(np.arange(len(CHANNELS)), n), reps.ravel())
    user = np.repeat(np.arange(n), reps.sum(axis=1))
    order = np.lexsort((rng.random(len(user)), user))
    chan, user = chan[order], user[order]
    pos = np.arange(len(user)) - np.r_[0, np.cumsum(reps.sum(axis=1))][user]
    grid = np.full((n, width), -1, np.int8)
    grid[user, pos] = chan
    touched = reps.sum(axis=1) > 0  # ChannelAttribution takes journeys with at least one touch
    keys, inv = np.unique(grid[touched], axis=0, return_inverse=True)
    names = np.array(CHANNELS, dtype=object)
    text = np.array([" > ".join(names[k[k >= 0]]) for k in keys], dtype=object)
    conv = converted[touched].astype(np.int64)
    per = pd.DataFrame({"path": text[inv.ravel()], "conversions": conv, "nulls": 1 - conv})
    per.to_parquet(rows)
    per.groupby("path", as_index=False).sum().to_parquet(uniq)
    return uniq, rows


def one(tool: str, form: str, n: int) -> dict:
    uniq, rows = make(n)
    frame = pd.read_parquet(uniq if form == "unique" else rows)
    # imports outside the timing, for both tools
    if tool.startswith("mercator"):
        from mercator.attribution import attribution
    else:
        import ChannelAttribution as ca
    t0 = time.perf_counter()
    if tool == "mercator_markov_1":
        res = attribution(None, paths=frame, models=("markov_1",), value_col=None, compare_models=False)
        out = res.to_frame("credit").set_index("channel")["conversions"].round(2).to_dict()
    elif tool == "mercator_all":
        models = ("first_touch", "last_touch", "last_non_direct", "linear", "position_based", "markov_1",
                  "markov_2", "markov_3", "shapley")
        res = attribution(None, paths=frame, models=models, value_col=None, compare_models=False)
        out = {"models": len(models)}
    elif tool == "channelattribution_markov_1":
        r = ca.markov_model(frame, "path", "conversions", var_null="nulls", sep=">", order=1, verbose=False,
                            flg_pro=False)
        out = r.set_index("channel_name")["total_conversions"].round(2).to_dict()
    elif tool == "channelattribution_heuristic":
        ca.heuristic_models(frame, "path", "conversions", sep=">", flg_pro=False)
        out = {}
    else:
        raise ValueError(tool)
    return {"tool": tool, "form": form, "journeys": n, "rows": len(frame), "seconds": round(time.perf_counter() - t0, 2),
            "credit": out}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000000,5000000")
    ap.add_argument("--repeat", type=int, default=5, help="fresh processes per case; the median is reported")
    ap.add_argument("--one", nargs=3, metavar=("TOOL", "FORM", "N"))
    ap.add_argument("--make", type=int)
    args = ap.parse_args()
    if args.make:
        make(args.make)
        return
    if args.one:
        print(json.dumps(one(args.one[0], args.one[1], int(args.one[2]))))
        return
    results = []
    for n in (int(s) for s in args.sizes.split(",")):
        # in a child: Linux carries a parent's peak RSS into the children it forks
        subprocess.run([sys.executable, __file__, "--make", str(n)], check=True)
        for form in ("unique", "rows"):
            for tool in ("mercator_markov_1", "mercator_all", "channelattribution_markov_1",
                         "channelattribution_heuristic"):
                runs = [child(__file__, tool, form, str(n)) for _ in range(args.repeat)]
                if any(r is None for r in runs):
                    print(json.dumps({"tool": tool, "form": form, "journeys": n, "failed": True}), flush=True)
                    continue
                # the median of fresh processes: a shared VM's noise is up to 2x on sub-second runs
                r = runs[0] | {"seconds": float(np.median([x["seconds"] for x in runs])),
                               "seconds_runs": [x["seconds"] for x in runs],
                               "peak_rss_mb": max(x["peak_rss_mb"] for x in runs)}
                results.append(r)
                print(json.dumps(r), flush=True)
    t = pd.DataFrame(results)
    for (n, form), g in t.groupby(["journeys", "form"]):
        s = g.set_index("tool")["seconds"]
        print(json.dumps({"journeys": int(n), "form": form,
                          "ratio_markov_1": round(s["channelattribution_markov_1"] / s["mercator_markov_1"], 2),
                          "unique_paths": int(t[(t.journeys == n) & (t.form == "unique")]["rows"].iloc[0])}))


if __name__ == "__main__":
    main()
