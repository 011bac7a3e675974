"""Media-mix model: Mercator against PyMC-Marketing on the same files with known truth.

Run: .venv/bin/python benchmarks/mmm.py [--seeds 5] (part of make bench, which installs the
bench extra with pymc-marketing). Files: ../shared/data/pymc_marketing/mmm_example.csv (true
ROAS in mmm_truth.json) and mmm_roas_data.csv with the confounder z as a control. Both tools
fit the same inputs: geometric adstock (8 weeks), logistic saturation, yearly Fourier order 2,
the events or z as controls, and a trend (PyMC-Marketing: the week index as a control, as in
its own example; Mercator: its piecewise-linear trend); 4 chains x (1000 tune + 1000 draws),
target acceptance 0.9. Each case runs in a fresh process (peak RSS its own); the time is the
fit's wall time, compilation included, and nothing else. Prints one JSON line per case, then
Mercator's seed-to-seed spread of ROAS on mmm_example.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import numpy as np
import pandas as pd
from _child import child

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "pymc_marketing"
CASES = {"mmm_example": {"file": "mmm_example.csv", "date": "date_week", "controls": ["event_1", "event_2"]},
         "mmm_roas": {"file": "mmm_roas_data.csv", "date": "date", "controls": ["z"]}}


def _truth(case: str) -> dict:
    return json.loads((DATA / "mmm_truth.json").read_text())[case]["roas"]


def one(tool: str, case: str, seed: int) -> dict:
    c = CASES[case]
    frame = pd.read_csv(DATA / c["file"], parse_dates=[c["date"]])
    truth = _truth(case)
    if tool == "mercator":
        from mercator.mmm import fit_mmm

        t0 = time.perf_counter()
        res = fit_mmm(frame, date_col=c["date"], kpi="y", channels=["x1", "x2"], controls=c["controls"], holdout=0,
                      save=False, seed=seed)
        seconds = time.perf_counter() - t0
        roas = res.to_frame("roas").set_index("channel")["roas"].to_dict()
    else:
        from pymc_marketing.mmm import MMM, GeometricAdstock, LogisticSaturation

        frame["t"] = np.arange(len(frame), dtype=float)
        mmm = MMM(adstock=GeometricAdstock(l_max=8), saturation=LogisticSaturation(), date_column=c["date"],
                  channel_columns=["x1", "x2"], control_columns=[*c["controls"], "t"], yearly_seasonality=2)
        x = frame[[c["date"], "x1", "x2", *c["controls"], "t"]]
        t0 = time.perf_counter()
        mmm.fit(x, frame["y"], chains=4, draws=1000, tune=1000, target_accept=0.9, random_seed=seed,
                progressbar=False)
        seconds = time.perf_counter() - t0
        tot = mmm.compute_channel_contribution_original_scale().sum("date")
        roas = {ch: float((tot.sel(channel=ch) / frame[ch].sum()).mean()) for ch in ("x1", "x2")}
    err = {ch: abs(roas[ch] / truth[ch] - 1) for ch in truth}
    return {"tool": tool, "case": case, "seed": seed, "seconds": round(seconds, 1),
            "roas": {k: round(v, 2) for k, v in roas.items()}, "error": {k: round(v, 4) for k, v in err.items()},
            "mape": round(float(np.mean(list(err.values()))), 4)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--one", nargs=3, metavar=("TOOL", "CASE", "SEED"))
    ap.add_argument("--seeds", type=int, default=5, help="Mercator fits of mmm_example for the seed-to-seed spread")
    ap.add_argument("--tools", default="mercator,pymc_marketing")
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.one[0], args.one[1], int(args.one[2]))))
        return
    results = {}
    for case in CASES:
        for tool in args.tools.split(","):
            r = child(__file__, tool, case, "0")
            print(json.dumps(r or {"tool": tool, "case": case, "failed": True}), flush=True)
            if r:
                results[(tool, case)] = r
        if ("mercator", case) in results and ("pymc_marketing", case) in results:
            m, p = results[("mercator", case)], results[("pymc_marketing", case)]
            print(json.dumps({"case": case, "time_ratio": round(p["seconds"] / m["seconds"], 2),
                              "mape_mercator": m["mape"], "mape_pymc_marketing": p["mape"]}), flush=True)
    runs = [r for s in range(1, args.seeds) if (r := child(__file__, "mercator", "mmm_example", str(s)))]
    runs.append(results.get(("mercator", "mmm_example")))
    runs = [r for r in runs if r]
    if len(runs) > 1:
        roas = pd.DataFrame([r["roas"] for r in runs])
        print(json.dumps({"case": "mmm_example", "seeds": len(runs),
                          "roas_cv": (roas.std() / roas.mean()).round(4).to_dict(),
                          "roas_range_pct": ((roas.max() - roas.min()) / roas.mean()).round(4).to_dict(),
                          "mape_per_seed": [r["mape"] for r in runs]}))


if __name__ == "__main__":
    main()
