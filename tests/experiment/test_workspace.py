"""A workspace experiment on both engines: units built in the engine from assignments and
orders (the window after each assignment, and as many days before it for CUPED), read against
its locked criteria; and the CLI's JSON contract."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from mercator.experiment import analyze, experiment_units, register
from mercator.interfaces.cli import app
from tests.conftest import ingest_text

ASSIGN = """experiment_id,unit_id,variant,assigned_at
e1,u1,control,2024-03-10 08:00:00
e1,u2,control,2024-03-10 09:00:00
e1,u3,control,2024-03-11 10:00:00
e1,u4,treatment,2024-03-10 08:00:00
e1,u5,treatment,2024-03-11 09:00:00
e1,u6,treatment,2024-03-12 10:00:00
"""
ORDERS = """order_id,customer_id,ts,revenue,is_return
o1,u1,2024-03-01 12:00:00,20,false
o2,u1,2024-03-15 12:00:00,30,false
o3,u1,2024-03-16 12:00:00,-30,true
o4,u4,2024-03-12 12:00:00,50,false
o5,u4,2024-03-20 12:00:00,10,false
o6,u5,2024-04-20 12:00:00,99,false
o7,u6,2024-01-01 12:00:00,5,false
o8,u2,2024-03-10 09:30:00,15,false
"""


def _experiment(ws, tmp_path):
    ingest_text(ws, tmp_path, "experiment_id,name,start,end\ne1,Subject test,2024-03-10,2024-03-23\n", "experiments")
    ingest_text(ws, tmp_path, ASSIGN, "assignments")
    ingest_text(ws, tmp_path, ORDERS, "orders")
    return ws


def test_units_built_in_the_engine(ws, tmp_path):
    """14-day window (the experiment's length): u1 bought once after (the return is not an order)
    and once before; u5's order is after the window; u6's before the 14 days before."""
    _experiment(ws, tmp_path)
    units, row = experiment_units(ws, "e1")
    got = units.to_pandas().set_index("unit_id").sort_index()
    assert row["window_days"] == 14
    assert got.orders.tolist() == [1, 1, 0, 2, 0, 0]
    assert got.revenue.tolist() == [30, 15, 0, 60, 0, 0]
    assert got.pre_orders.tolist() == [1, 0, 0, 0, 0, 0] and got.pre_revenue.tolist() == [20, 0, 0, 0, 0, 0]
    assert got.converted.tolist() == [1, 1, 0, 1, 0, 0]
    res = analyze(ws=ws, experiment="e1", metrics=["converted", "revenue"], covariate={"revenue": "pre_*"})
    e = res.to_frame("effects").set_index("metric")
    assert e.loc["converted", "control"] == pytest.approx(2 / 3) and e.loc["converted", "treatment"] == pytest.approx(1 / 3)
    assert e.loc["revenue", "covariate"] == "pre_revenue"
    assert "verdict" not in res.tables  # nothing registered: no rule, no verdict


def test_locked_criteria_decide(duckdb_ws, tmp_path):
    _experiment(duckdb_ws, tmp_path)
    register(duckdb_ws, "e1", hypothesis="h", primary_metric="converted", guardrails=["revenue>-0.5"],
             success_criteria={"metric": "converted", "min_relative_lift": 0.05})
    res = analyze(ws=duckdb_ws, experiment="e1", metrics=["revenue"])
    assert res.params["criteria_hash"] and res.params["locked_at"]
    v = res.to_frame("verdict").iloc[0]
    assert v.metric == "converted" and v.verdict in ("inconclusive", "do not ship")
    assert res.to_frame("guardrails").metric.tolist() == ["revenue"]
    assert "locked at" in next(f.text for f in res.findings if f.text.startswith("Verdict"))


def test_cli_json_contract(tmp_path):
    import numpy as np
    import pandas as pd

    runner = CliRunner()
    rng = np.random.default_rng(0)
    f = tmp_path / "units.parquet"
    pd.DataFrame({"variant": rng.choice(["control", "treatment"], 5000), "converted": rng.integers(0, 2, 5000),
                  "revenue": rng.gamma(2, 10, 5000)}).to_parquet(f)
    out = runner.invoke(app, ["experiment", "analyze", "--data", str(f), "--metrics", "converted,revenue",
                              "--sequential", "--guardrail", "revenue>-0.1", "--min-lift", "0.05", "--json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert doc["kind"] == "experiment" and len(doc["tables"]["effects"]) == 2
    assert doc["tables"]["verdict"][0]["verdict"] in ("ship", "do not ship", "inconclusive")
    d = json.loads(runner.invoke(app, ["experiment", "design", "--baseline", "0.05", "--mde", "0.1", "--json"]).stdout)
    assert d["tables"]["plan"][0]["n_control"] == 31_231
    bad = runner.invoke(app, ["experiment", "analyze", "--data", str(f), "--metrics", "nope"])
    assert bad.exit_code == 2 and "no column(s) nope" in " ".join(bad.output.split())
    ws = str(tmp_path / "w.duckdb")
    r = runner.invoke(app, ["experiment", "register", "e9", "--hypothesis", "h", "--metric", "converted",
                            "--min-lift", "0.02", "--guardrail", "revenue>-5%", "--workspace", ws, "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["params"]["criteria_hash"]


def test_demo_experiment_recovers_the_planted_lift(demo_company):
    """The demo plants +1 point of 28-day conversion on average (2 points on mobile, none
    elsewhere) from e-mail orders; other orders in the window are untouched, so the absolute
    effect on any order is the planted one: the 95% interval holds it. The plan was locked the
    day before the start, and its hash checks."""
    ws, truth, _ = demo_company
    res = analyze(ws=ws, experiment="exp_email_subject", metrics=["converted", "revenue"], covariate="pre_*")
    e = res.to_frame("effects").set_index("metric").loc["converted"]
    planted = truth["experiment"]["absolute_uplift"]["mobile"] / 2  # half the customers are on mobile
    assert e.effect_lo <= planted <= e.effect_hi and e.effect > 0
    assert res.params["criteria_hash"] and res.to_frame("verdict").verdict[0] in ("ship", "inconclusive")
