"""CLV fit benchmark: Mercator's BG/NBD and Gamma-Gamma against lifetimes, same data, one run.

Run: .venv/bin/python benchmarks/clv.py [--customers 1000000 10000000] (part of make bench).
Customers are simulated from known BG/NBD and Gamma-Gamma parameters (vectorized, in
chunks), with first purchases spread over 78 weeks and times on whole days, as in real
order logs. Timed: the fit from the customer summary (Mercator: distinct rows + weighted
maximum likelihood; lifetimes: BetaGeoFitter and GammaGammaFitter on one row per
customer, and again with its ``weights`` argument on the same distinct rows). Printed: one
JSON line per size with seconds, ratios, parameters and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
import warnings

os.environ.setdefault("OMP_WAIT_POLICY", "passive")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

TRUE = {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5, "p": 6.0, "q": 4.0, "gamma": 15.0}


def simulate(n: int, seed: int = 1, chunk: int = 250_000) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {k: [] for k in ("x", "t_x", "T", "m")}
    for start in range(0, n, chunk):
        k = min(chunk, n - start)
        T = np.floor(rng.uniform(1, 78 * 7, k)) / 7
        lam = rng.gamma(TRUE["r"], 1 / TRUE["alpha"], k)
        p = rng.beta(TRUE["a"], TRUE["b"], k)
        depth = 60
        times = np.cumsum(rng.exponential(1 / lam[:, None], (k, depth)), axis=1)
        survived = np.cumprod(np.concatenate([np.ones((k, 1), bool), rng.random((k, depth - 1)) >= p[:, None]],
                                             axis=1), axis=1).astype(bool)
        x = ((times <= T[:, None]) & survived).sum(axis=1)
        t_x = np.where(x > 0, np.take_along_axis(times, np.maximum(x - 1, 0)[:, None], axis=1)[:, 0], 0.0)
        t_x = np.minimum(np.floor(t_x * 7) / 7, T)
        nu = rng.gamma(TRUE["q"], 1 / TRUE["gamma"], k)
        m = np.where(x > 0, rng.gamma(TRUE["p"] * np.maximum(x, 1), 1 / (nu * np.maximum(x, 1))), 0.0)
        for name, v in (("x", x), ("t_x", t_x), ("T", T), ("m", np.round(m, 2))):
            out[name].append(v)
    return {k: np.concatenate(v) for k, v in out.items()}


def _rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def bench(n: int, skip_lifetimes_plain: bool) -> dict:
    from mercator.clv import BetaGeo, GammaGamma
    from mercator.clv._models import distinct

    d = simulate(n)
    t0 = time.perf_counter()
    (x, t_x, T), w, _ = distinct(d["x"], d["t_x"], d["T"])
    bg = BetaGeo.fit(x, t_x, T, w)
    rep = d["x"] > 0
    (gx, gm), gw, _ = distinct(d["x"][rep], d["m"][rep])
    gg = GammaGamma.fit(gx, gm, gw)
    ours = time.perf_counter() - t0
    row = {"customers": n, "distinct_summaries": len(x), "mercator_s": round(ours, 2),
           "mercator": {"r": bg.r, "alpha": bg.alpha, "a": bg.a, "b": bg.b, "p": gg.p, "q": gg.q, "gamma": gg.gamma},
           "peak_rss_gb_after_mercator": round(_rss_gb(), 2)}
    import lifetimes

    warnings.filterwarnings("ignore")
    t0 = time.perf_counter()
    bgf = lifetimes.BetaGeoFitter().fit(x, t_x, T, weights=w)
    ggf = lifetimes.GammaGammaFitter().fit(gx, gm, weights=gw)
    row["lifetimes_weighted_s"] = round(time.perf_counter() - t0, 2)
    row["ratio_lifetimes_weighted_to_mercator"] = round(row["lifetimes_weighted_s"] / ours, 1)
    if not skip_lifetimes_plain:
        t0 = time.perf_counter()
        bgf = lifetimes.BetaGeoFitter().fit(d["x"], d["t_x"], d["T"])
        ggf = lifetimes.GammaGammaFitter().fit(d["x"][rep], d["m"][rep])
        row["lifetimes_plain_s"] = round(time.perf_counter() - t0, 2)
        row["ratio_lifetimes_plain_to_mercator"] = round(row["lifetimes_plain_s"] / ours, 1)
    row["lifetimes"] = {**bgf.params_.to_dict(), **{("gamma" if k == "v" else k): v
                                                     for k, v in ggf.params_.to_dict().items()}}
    row["max_rel_param_diff"] = max(abs(row["mercator"][k] / row["lifetimes"][k] - 1) for k in row["mercator"])
    row["truth"] = TRUE
    row["peak_rss_gb"] = round(_rss_gb(), 2)
    return row


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, nargs="+", default=[1_000_000, 10_000_000])
    ap.add_argument("--plain-up-to", type=int, default=10_000_000,
                    help="run lifetimes on one row per customer only up to this many customers")
    args = ap.parse_args()
    for n in args.customers:
        print(json.dumps(bench(n, n > args.plain_up_to)), flush=True)


if __name__ == "__main__":
    main()
