"""Budgets and bids that learn (issue 21): the learning allocator against the static media-mix
optimum and an oracle that knows the true curves every day, over 90 simulated days, ten seeds
per drift; and the bid learner against today's bids and the truthful (oracle) bids.

The curves are four planted Hill channels with a posterior spread of about 15% (the same as
tests/decide/test_budget.py); each seed takes another posterior draw as the truth. Issue 21's
target: the learner reaches at least 95% of the oracle's KPI over 90 days and beats the static
allocation when the curves drift.

Run: .venv/bin/python benchmarks/decide_budget.py [--seeds 10]. Prints one JSON line per drift
(and one for bids): mean and worst share of the oracle for each allocator, and the seconds a
90-day run takes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "decide"))
from test_budget import BUDGET, planted  # the planted curves of the tests

from mercator.decide import BudgetAllocator
from mercator.decide._bids import BidLearner, auction_world, run_bids
from mercator.decide._budget import budget_world, run_budget


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=10)
    args = ap.parse_args()
    curves = planted()
    for drift in (0.0, 0.5, 0.8):
        shares, seconds, floor_cost = {"learning": [], "static": []}, [], []
        for seed in range(args.seeds):
            t = time.perf_counter()
            world = budget_world(curves, BUDGET, drift=drift, seed=seed)
            frame, _ = run_budget(world, BudgetAllocator(curves, BUDGET, seed=seed), seed=seed)
            seconds.append(time.perf_counter() - t)
            tot = frame.groupby("allocator").kpi.sum()
            # what the floor (every channel keeps min_share of the budget) costs the oracle itself
            free = sum(world.expected(d, world.best(d, BUDGET, np.zeros(4), np.full(4, BUDGET)))
                       for d in range(world.days))
            floor_cost.append(1 - tot["oracle"] / free)
            for k, found in shares.items():
                found.append(tot[k] / tot["oracle"])
        print(json.dumps({"what": "budget", "drift": drift, "seeds": args.seeds,
                          **{f"{k}_mean": round(float(np.mean(v)), 4) for k, v in shares.items()},
                          **{f"{k}_worst": round(float(np.min(v)), 4) for k, v in shares.items()},
                          "learning_beats_static": int(np.sum(np.array(shares["learning"]) > shares["static"])),
                          "oracle_floor_cost": round(float(np.mean(floor_cost)), 4),
                          "seconds_per_run": round(float(np.mean(seconds)), 2)}), flush=True)
    shares, err = {"learning": [], "static": []}, []
    for seed in range(args.seeds):
        world = auction_world(days=90, drift=0.3, seed=seed)
        frame, bids = run_bids(world, BidLearner(len(world.cells), seed=seed), seed=seed)
        tot = frame.groupby("allocator").profit.sum()
        for k, found in shares.items():
            found.append(tot[k] / tot["oracle"])
        err.append(float(np.median(np.abs(np.log(bids.multiplier / bids.oracle_multiplier)))))
    print(json.dumps({"what": "bids", "price_drift": 0.3, "seeds": args.seeds,
                      **{f"{k}_mean": round(float(np.mean(v)), 4) for k, v in shares.items()},
                      **{f"{k}_worst": round(float(np.min(v)), 4) for k, v in shares.items()},
                      "median_multiplier_error": round(float(np.mean(err)), 3)}), flush=True)


if __name__ == "__main__":
    main()
