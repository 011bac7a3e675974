"""How often the media-mix model's 95% ROAS intervals hold the truth, over a grid of simulated
datasets: 5 and 8 channels, correlated spend, two noise levels.

Run: .venv/bin/python benchmarks/mmm_coverage.py [--replicates 4] (slow: one NUTS fit per
dataset; not part of the test run). Each dataset: 156 weeks; spend of every channel shares a
common weekly factor (pairwise correlation about 0.5) and is off 15% of the weeks; geometric
adstock alpha ~ U(0.1, 0.6) over 8 weeks (normalized), logistic saturation with lam ~ U(1, 4)
on spend / max spend, beta such that each channel brings 2-8% of the KPI; baseline = level +
linear trend + yearly season; Gaussian noise of 3% or 10% of the mean KPI. Prints one JSON line
per dataset and the coverage, mean absolute ROAS error and mean interval width per cell.
"""

from __future__ import annotations

import argparse
import json
import os

os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import numpy as np
import pandas as pd

from mercator.mmm import fit_mmm
from mercator.mmm._transforms import adstock_weights, lags, saturation


def simulate(k: int, noise: float, seed: int, weeks: int = 156) -> tuple[pd.DataFrame, dict[str, float]]:
    rng = np.random.default_rng(seed)
    common = rng.normal(0, 1, weeks)
    spend = np.exp(0.5 + 0.5 * (np.sqrt(0.5) * common + np.sqrt(0.5) * rng.normal(0, 1, (k, weeks))))
    spend *= (rng.random((k, weeks)) > 0.15) * rng.uniform(50, 500, (k, 1))
    alpha, lam = rng.uniform(0.1, 0.6, k), rng.uniform(1, 4, k)
    x = spend / spend.max(axis=1, keepdims=True)
    ad = np.einsum("ctl,cl->ct", lags(x, 8), adstock_weights("geometric", {"alpha": alpha}, 8))
    sat = saturation("logistic", ad, {"lam": lam[:, None]})
    level = 10_000.0
    beta = rng.uniform(0.02, 0.08, k) * level / sat.mean(axis=1)
    contrib = beta[:, None] * sat
    t = np.arange(weeks)
    base = level * (1 + 0.1 * t / weeks + 0.05 * np.sin(2 * np.pi * t / 52.18))
    y = base + contrib.sum(axis=0)
    y = y + rng.normal(0, noise * y.mean(), weeks)
    return weekly_frame(spend, contrib, y)


def weekly_frame(spend: np.ndarray, contrib: np.ndarray, y: np.ndarray) -> tuple[pd.DataFrame, dict[str, float]]:
    """One row per week (``kpi`` and a spend column per channel ``c0``, ``c1``...) and each
    channel's true ROAS (its contribution over its spend)."""
    names = [f"c{i}" for i in range(len(spend))]
    frame = pd.DataFrame({"week": pd.date_range("2022-01-03", periods=len(y), freq="W-MON"), "kpi": y})
    for i, n in enumerate(names):
        frame[n] = spend[i]
    return frame, {n: float(contrib[i].sum() / spend[i].sum()) for i, n in enumerate(names)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--replicates", type=int, default=4)
    args = ap.parse_args()
    rows = []
    for k in (5, 8):
        for noise in (0.03, 0.10):
            for r in range(args.replicates):
                frame, truth = simulate(k, noise, seed=1000 * k + int(noise * 100) * 10 + r)
                res = fit_mmm(frame, date_col="week", kpi="kpi", channels=list(truth), holdout=0, save=False,
                              warmup=500, samples=500, seed=r)
                roas = res.to_frame("roas").set_index("channel")
                fit = res.to_frame("fit").set_index("metric")["value"]
                for ch, true in truth.items():
                    rows.append({"channels": k, "noise": noise, "replicate": r, "channel": ch, "truth": true,
                                 "roas": roas.roas[ch], "covered": bool(roas.roas_lo[ch] <= true <= roas.roas_hi[ch]),
                                 "width": (roas.roas_hi[ch] - roas.roas_lo[ch]) / true,
                                 "error": abs(roas.roas[ch] / true - 1)})
                last = pd.DataFrame(rows[-k:])
                print(json.dumps({"channels": k, "noise": noise, "replicate": r, "covered": int(last.covered.sum()),
                                  "of": k, "mape": round(last.error.mean(), 4), "max_r_hat": round(fit["max_r_hat"], 3),
                                  "divergences": int(fit["divergences"]), "seconds": round(fit["seconds"], 1)}),
                      flush=True)
    t = pd.DataFrame(rows)
    cells = t.groupby(["channels", "noise"]).agg(intervals=("covered", "size"), coverage=("covered", "mean"),
                                                 mape=("error", "mean"), relative_width=("width", "mean"))
    print(json.dumps({"overall_coverage": round(t.covered.mean(), 3), "intervals": len(t),
                      "cells": cells.round(3).reset_index().to_dict(orient="records")}))


if __name__ == "__main__":
    main()
