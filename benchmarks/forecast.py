"""Forecast: 1,000 campaign series of two years of daily data, Mercator against a plain loop of
statsforecast calls doing the same work.

Run: .venv/bin/python benchmarks/forecast.py [--series 1000] (part of make bench). The series
are Poisson counts with a weekly cycle, a yearly swing and a trend, different per campaign,
in a Parquet file (benchmarks/.data). Both sides do the same job for a 28-day horizon: a
rolling-origin backtest over 3 windows of the fast model set (seasonal naive and MSTL; with
more than 50 series Mercator's "auto" set is this one), the choice of a model per series, and
the forecast with 80% and 95% intervals. Mercator: ``forecast(data=..., by="campaign")``,
series built by DuckDB and all fitted in one statsforecast call per model over 2 processes.
The loop: for each campaign, a StatsForecast cross_validation and a forecast call (n_jobs=1),
as a notebook would do it. Each side runs in a fresh process; wall time and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from _child import child

DATA = Path(__file__).parent / ".data"


def make(n: int, days: int = 730, seed: int = 0) -> Path:
    import numpy as np
    import pandas as pd

    path = DATA / f"forecast_{n}.parquet"
    if path.exists():
        return path
    DATA.mkdir(exist_ok=True)
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    level = rng.lognormal(3.5, 0.8, n)[:, None]
    week = 1 + rng.uniform(0.1, 0.4, n)[:, None] * np.sin(2 * np.pi * t / 7 + rng.uniform(0, 7, n)[:, None])
    year = 1 + rng.uniform(0, 0.3, n)[:, None] * np.sin(2 * np.pi * t / 365.25 + rng.uniform(0, 6, n)[:, None])
    trend = 1 + rng.normal(0, 0.0005, n)[:, None] * t
    y = rng.poisson(level * week * year * np.clip(trend, 0.2, None))
    pd.DataFrame({"campaign": np.repeat([f"cmp_{i:04d}" for i in range(n)], days),
                  "date": np.tile(pd.date_range("2024-01-01", periods=days), n),
                  "conversions": y.ravel().astype(float)}).to_parquet(path)
    return path


def one(side: str, path: str) -> dict:
    import pandas as pd

    if side == "mercator":
        from mercator.forecast import forecast

        start = time.perf_counter()
        res = forecast(data=path, date_col="date", value_col="conversions", by="campaign", horizon=28)
        seconds = time.perf_counter() - start
        return {"side": side, "seconds": seconds, "series": res.params["series"], "models": res.params["models"],
                "mean_rel_mae": float(res.to_frame("backtest").rel_mae.mean())}
    from statsforecast import StatsForecast
    from statsforecast.models import MSTL, AutoETS, SeasonalNaive

    df = pd.read_parquet(path).rename(columns={"campaign": "unique_id", "date": "ds", "conversions": "y"})
    start = time.perf_counter()
    rel, n = [], 0
    for _, part in df.groupby("unique_id", sort=False):
        models = [SeasonalNaive(season_length=7, alias="seasonal_naive"),
                  MSTL(season_length=[7], trend_forecaster=AutoETS(model="ZZN"), alias="mstl")]
        cv = StatsForecast(models=models, freq="D", n_jobs=1).cross_validation(df=part, h=28, n_windows=3,
                                                                               step_size=28, level=[80, 95])
        mae = {m.alias: (cv.y - cv[m.alias]).abs().mean() for m in models}
        best = min(mae, key=mae.get)
        StatsForecast(models=[m for m in models if m.alias == best], freq="D", n_jobs=1).forecast(
            df=part, h=28, level=[80, 95])
        rel.append(mae[best] / mae["seasonal_naive"])
        n += 1
    seconds = time.perf_counter() - start
    return {"side": side, "seconds": seconds, "series": n, "mean_rel_mae": sum(rel) / len(rel)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--one", nargs=2, metavar=("SIDE", "PATH"))
    ap.add_argument("--series", type=int, default=1000)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(*args.one)))
        return
    path = str(make(args.series))
    res = {}
    for side in ("mercator", "statsforecast-loop"):
        r = child(__file__, side, path)
        print(json.dumps(r))
        res[side] = r
    if all(res.values()):
        print(json.dumps({"series": args.series, "speedup_vs_loop": round(res["statsforecast-loop"]["seconds"]
                                                                         / res["mercator"]["seconds"], 2)}))


if __name__ == "__main__":
    main()
