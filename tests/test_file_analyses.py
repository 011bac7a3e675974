"""A file analysis needs no workspace (issue 18, item 1): with MERCATOR_WORKSPACE naming a
workspace that does not exist yet, as a new user sets it first, every command that reads a
file runs in memory and creates nothing."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from mercator.interfaces.cli import app

runner = CliRunner()


def test_file_analyses_run_while_the_named_workspace_does_not_exist(tmp_path):
    rng = np.random.default_rng(5)
    n = 2000
    ab = tmp_path / "ab.csv"
    pd.DataFrame({"user_id": [f"u{i}" for i in range(n)], "group": np.where(np.arange(n) % 2, "b", "a"),
                  "converted": (rng.random(n) < 0.1).astype(int)}).to_csv(ab, index=False)
    churn = tmp_path / "churn.csv"
    x = rng.normal(size=n)
    pd.DataFrame({"x": x, "y": rng.normal(size=n),
                  "churned": (rng.random(n) < 1 / (1 + np.exp(-x))).astype(int)}).to_csv(churn, index=False)
    series = tmp_path / "daily.csv"
    days = pd.date_range("2024-01-01", periods=200, freq="D")
    pd.DataFrame({"date": days.strftime("%Y-%m-%d"),
                  "sales": 100 + 10 * np.sin(np.arange(200) * 2 * np.pi / 7) + rng.normal(0, 2, 200)}) \
        .to_csv(series, index=False)
    paths = tmp_path / "paths.csv"
    paths.write_text("path,conversions,nulls,value\nsearch > email,10,40,100\nsocial,3,70,30\nsearch,8,50,80\n")
    missing = tmp_path / "not-yet" / "ws.duckdb"
    env = {"MERCATOR_WORKSPACE": str(missing)}
    commands = [
        ["experiment", "analyze", "--data", str(ab), "--variant-col", "group", "--unit-col", "user_id",
         "--metrics", "converted"],
        ["target", "train", "--table", str(churn), "--label", "churned", "--model-out", str(tmp_path / "m.model")],
        ["forecast", "backtest", "--data", str(series), "--value-col", "sales", "--horizon", "14",
         "--models", "fast"],
        ["attribution", "--paths", str(paths), "--sep", " > ", "--nulls-col", "nulls"],
    ]
    for args in commands:
        res = runner.invoke(app, [*args, "--json"], env=env)
        assert res.exit_code == 0, (args, res.output)
        assert json.loads(res.stdout)["kind"]
    assert not missing.parent.exists()
    res = runner.invoke(app, ["explore"], env=env)  # a workspace analysis: it says what to do
    assert res.exit_code == 2 and "does not exist" in res.output and "mercator init" in res.output
    assert "in use" not in res.output
