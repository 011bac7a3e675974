"""Propensity throughput: mercator target train/score against LightGBM called directly.

Run: .venv/bin/python benchmarks/target.py [--rows 1000000] (part of make bench). Simulated
customers (12 numeric and 3 categorical features, logistic truth) written once to Parquet.
Timed: ``train_model`` (reading, split, LightGBM with early stopping, calibration, logistic
baseline, SHAP on 5,000 test rows, metrics, saving) against ``lightgbm.train`` with the same parameters
and number of rounds on the same training rows; ``score_table`` (reading, batches of 100,000,
calibrated scores, reasons for the rows above the threshold, CSV; and without reasons)
against ``Booster.predict``.
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import numpy as np
import pandas as pd


def make(path: Path, n: int, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 12))
    cats = {f"c{i}": rng.choice([f"v{j}" for j in range(5 + 5 * i)], n) for i in range(3)}
    logit = -2.5 + x[:, :4] @ np.array([1.0, 0.7, -0.5, 0.3]) + 0.6 * (cats["c0"] == "v1")
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(12)]).assign(**cats, y=y)
    frame.to_parquet(path)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args()
    import lightgbm as lgb

    from mercator.target import load_model, score_table, train_model
    from mercator.target._model import prepare_features, split_rows

    folder = Path(__file__).parent / ".data"
    folder.mkdir(exist_ok=True)
    data = folder / f"propensity_{args.rows}.parquet"
    if not data.exists():
        make(data, args.rows)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        res = train_model(None, str(data), "y", save_to=Path(tmp) / "m.mercator-model")
        t_train = time.perf_counter() - t0
        saved = load_model(res.params["model_path"])
        rounds = saved["model"].booster.num_trees()
        frame = pd.read_parquet(data)
        y = frame.pop("y").to_numpy()
        x, _ = prepare_features(frame)
        tr, _va, _te = split_rows(y, False, 0)
        params = {"objective": "binary", "learning_rate": 0.05, "num_leaves": 31, "min_child_samples": 50,
                  "feature_fraction": 0.9, "bagging_fraction": 0.9, "bagging_freq": 1, "seed": 0,
                  "deterministic": True, "num_threads": 2, "verbose": -1}
        t0 = time.perf_counter()
        booster = lgb.train(params, lgb.Dataset(x.iloc[tr], y[tr]), num_boost_round=rounds)
        t_lgb = time.perf_counter() - t0
        t0 = time.perf_counter()
        score_table(res.params["model_path"], None, str(data), Path(tmp) / "s.csv")
        t_score = time.perf_counter() - t0
        t0 = time.perf_counter()
        score_table(res.params["model_path"], None, str(data), Path(tmp) / "s2.csv", reasons=False)
        t_score_plain = time.perf_counter() - t0
        hot = int(pd.read_csv(Path(tmp) / "s2.csv", usecols=["above_threshold"])["above_threshold"].sum())
        t0 = time.perf_counter()
        booster.predict(x)
        t_pred = time.perf_counter() - t0
    print(json.dumps({"rows": args.rows, "trees": rounds, "train_model_s": round(t_train, 2),
                      "lightgbm_train_same_rounds_s": round(t_lgb, 2), "ratio_train": round(t_train / t_lgb, 2),
                      "score_table_s": round(t_score, 2), "rows_per_s_scoring": round(args.rows / t_score),
                      "rows_above_threshold_explained": hot, "score_table_no_reasons_s": round(t_score_plain, 2),
                      "rows_per_s_no_reasons": round(args.rows / t_score_plain),
                      "lightgbm_predict_s": round(t_pred, 2), "ratio_score": round(t_score / t_pred, 2),
                      "ratio_score_no_reasons": round(t_score_plain / t_pred, 2),
                      "test_auc": res.to_frame("metrics").set_index("model").loc["lightgbm", "roc_auc"]}))


if __name__ == "__main__":
    main()
