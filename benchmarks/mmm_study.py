"""The media-mix model's default against varied truths: ROAS error and 95% interval coverage
over simulated datasets (issue 18, item 14).

Run: .venv/bin/python benchmarks/mmm_study.py [--datasets 30] [--compare] (slow: about a
minute per dataset; not part of the test run). Each dataset draws its own truth:

- 156 weeks, 3-8 channels, Gaussian noise of 2-10% of the mean KPI;
- response curve, one family per dataset: logistic (lam 1-4), concave Hill (slope 0.7-1) or
  S-shaped Hill (slope 1.5-3, half-saturation 0.3-0.7 of the largest spend);
- carryover: geometric (alpha 0.1-0.6) or delayed Weibull density (peak weeks after spend),
  over 8 weeks;
- spend per channel: seasonal (following the KPI's own season, +-30%, with week-to-week
  variation of 40%), flighted (on for 3-8 weeks, off for 2-6) or steady with 40% variation;
- each channel brings 3-12% of the KPI; baseline = level + trend + yearly season.

The true ROAS of a channel is its contribution over its spend. Prints one JSON line per
dataset and a summary: median and mean absolute ROAS error of the default fit beside the
error of an oracle that knows every true curve (the floor the data set), coverage of
its 95% intervals, its choice of curve, and its seconds. ``--compare`` also fits the former
default (geometric adstock, logistic saturation) on each dataset, side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import jax
import numpy as np
import pandas as pd
from mmm_coverage import weekly_frame  # run from benchmarks/ (the script's folder is on sys.path)

from mercator.mmm import fit_mmm
from mercator.mmm._transforms import adstock_weights, lags, saturation

WEEKS, LMAX = 156, 8


def simulate(seed: int) -> tuple[pd.DataFrame, dict[str, float], dict, np.ndarray]:
    """One dataset: the weekly frame, each channel's true ROAS, what was drawn, and the true
    response series (carryover and curve applied, before the channel's coefficient)."""
    rng = np.random.default_rng(seed)
    k = int(rng.integers(3, 9))
    noise = float(rng.uniform(0.02, 0.10))
    curve = ["logistic", "hill_concave", "hill_s"][seed % 3]
    carry = ["geometric", "weibull_pdf"][(seed // 3) % 2]
    t = np.arange(WEEKS)
    season = np.sin(2 * np.pi * t / 52.18)
    spend = np.empty((k, WEEKS))
    patterns = rng.choice(["seasonal", "flighted", "steady"], k)
    for i, p in enumerate(patterns):
        base = rng.uniform(50, 500)
        if p == "seasonal":
            spend[i] = base * np.exp(0.3 * season + 0.4 * rng.normal(0, 1, WEEKS))
        elif p == "flighted":
            on, week = np.zeros(WEEKS, bool), 0
            while week < WEEKS:
                length = int(rng.integers(3, 9))
                on[week:week + length] = True
                week += length + int(rng.integers(2, 7))
            spend[i] = base * on * np.exp(0.3 * rng.normal(0, 1, WEEKS))
        else:
            spend[i] = base * np.exp(0.4 * rng.normal(0, 1, WEEKS))
    x = spend / spend.max(axis=1, keepdims=True)
    if carry == "geometric":
        w = adstock_weights("geometric", {"alpha": rng.uniform(0.1, 0.6, k)}, LMAX)
    else:
        w = adstock_weights("weibull_pdf", {"shape": rng.uniform(1.5, 3.0, k), "scale": rng.uniform(0.2, 0.4, k)}, LMAX)
    ad = np.einsum("ctl,cl->ct", lags(x, LMAX), w)
    if curve == "logistic":
        sat = saturation("logistic", ad, {"lam": rng.uniform(1, 4, k)[:, None]})
    else:
        slope = rng.uniform(0.7, 1.0, k) if curve == "hill_concave" else rng.uniform(1.5, 3.0, k)
        sat = saturation("hill", ad, {"half_saturation": (rng.uniform(0.3, 0.7, k) * ad.max(axis=1))[:, None],
                                      "slope": slope[:, None]})
    level = 10_000.0
    beta = rng.uniform(0.03, 0.12, k) * level / np.maximum(sat.mean(axis=1), 1e-9)
    contrib = beta[:, None] * sat
    base = level * (1 + 0.15 * t / WEEKS + 0.08 * season)
    y = base + contrib.sum(axis=0)
    y = y + rng.normal(0, noise * y.mean(), WEEKS)
    frame, truth = weekly_frame(spend, contrib, y)
    about = {"channels": k, "noise": round(noise, 3), "curve": curve, "carryover": carry,
             "patterns": sorted(set(patterns))}
    return frame, truth, about, sat


def oracle_mape(frame: pd.DataFrame, truth: dict[str, float], response: np.ndarray) -> float:
    """The ROAS error of a fit that knows every true curve and carryover and the baseline's
    form (level, trend, yearly season), so only the coefficients are estimated, by least
    squares (unbiased, least variance under Gaussian noise). It is the floor the data set:
    no model without outside information (priors from lift tests) can expect to do better."""
    t = np.arange(len(frame))
    design = np.column_stack([np.ones(len(t)), t, np.sin(2 * np.pi * t / 52.18), np.cos(2 * np.pi * t / 52.18),
                              *response])
    coef, *_ = np.linalg.lstsq(design, frame["kpi"].to_numpy(), rcond=None)
    spend = frame[list(truth)].to_numpy().sum(axis=0)
    est = coef[4:] * response.sum(axis=1) / spend
    return float(np.mean(np.abs(est / np.array(list(truth.values())) - 1)))


def _score(res, truth: dict[str, float]) -> dict:
    roas = res.to_frame("roas").set_index("channel")
    err = [abs(roas.roas[c] / v - 1) for c, v in truth.items()]
    covered = [bool(roas.roas_lo[c] <= v <= roas.roas_hi[c]) for c, v in truth.items()]
    fit = res.to_frame("fit").set_index("metric")["value"]
    return {"mape": float(np.mean(err)), "covered": int(sum(covered)), "of": len(truth),
            "errors": [round(e, 4) for e in err], "max_r_hat": round(float(fit["max_r_hat"]), 3),
            "divergences": int(fit["divergences"])}


def summarize(rows: list[dict]) -> dict:
    """The study's table: per truth and overall, the default's median dataset ROAS error beside the
    oracle's, its 95% coverage and its choice of curve."""
    t = pd.DataFrame(rows)
    per_channel = np.concatenate(t["errors"].to_numpy())
    summary = {"datasets": len(t), "intervals": int(t["of"].sum()),
               "median_dataset_mape": round(float(t["mape"].median()), 4),
               "mean_dataset_mape": round(float(t["mape"].mean()), 4),
               "oracle_median_dataset_mape": round(float(t["oracle_mape"].median()), 4),
               "datasets_within_oracle_x1_25": int((t["mape"] <= 1.25 * t["oracle_mape"]).sum()),
               "median_channel_error": round(float(np.median(per_channel)), 4),
               "coverage": round(float(t["covered"].sum() / t["of"].sum()), 4),
               "median_seconds": float(t["seconds"].median()), "max_seconds": float(t["seconds"].max()),
               "by_curve": t.groupby("curve").apply(
                   lambda g: {"datasets": len(g), "median_mape": round(float(g["mape"].median()), 4),
                              "oracle_median_mape": round(float(g["oracle_mape"].median()), 4),
                              "coverage": round(float(g["covered"].sum() / g["of"].sum()), 4),
                              "chosen": g["chosen"].value_counts().to_dict()}, include_groups=False).to_dict()}
    if "logistic" in t.columns:
        old = pd.DataFrame(list(t["logistic"]))
        summary["logistic_default"] = {"median_dataset_mape": round(float(old["mape"].median()), 4),
                                       "coverage": round(float(old["covered"].sum() / old["of"].sum()), 4)}
    return summary


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets", type=int, default=30)
    ap.add_argument("--start", type=int, default=0, help="first seed (to resume a run)")
    ap.add_argument("--summarize", nargs="+", metavar="LOG", help="only summarize the JSON lines of earlier runs")
    ap.add_argument("--compare", action="store_true", help="also fit geometric + logistic on each dataset")
    args = ap.parse_args()
    if args.summarize:
        rows = [json.loads(line) for f in args.summarize for line in Path(f).read_text(encoding="utf-8").splitlines()
                if line.startswith('{"seed"')]
        print(json.dumps(summarize(sorted(rows, key=lambda r: r["seed"])), indent=1))
        return
    rows = []
    for seed in range(args.start, args.start + args.datasets):
        frame, truth, about, response = simulate(seed)
        t0 = time.perf_counter()
        res = fit_mmm(frame, date_col="week", kpi="kpi", channels=list(truth), save=False, seed=seed)
        row = {"seed": seed, **about, "chosen": f"{res.params['adstock']}+{res.params['saturation']}",
               "seconds": round(time.perf_counter() - t0, 1), **_score(res, truth),
               "oracle_mape": round(oracle_mape(frame, truth, response), 4)}
        if args.compare:
            old = fit_mmm(frame, date_col="week", kpi="kpi", channels=list(truth), save=False, seed=seed,
                          adstock="geometric", saturation="logistic", holdout=0)
            row["logistic"] = _score(old, truth)
        rows.append(row)
        print(json.dumps(row), flush=True)
        jax.clear_caches()  # each dataset compiles its own sampler; without this the JIT's code piles up
        # until LLVM cannot map more (seen after 14 datasets: "LLVM compilation error: Cannot allocate memory")
    print(json.dumps(summarize(rows)))


if __name__ == "__main__":
    main()
