"""The lead sentence (issue 18, item 5): without a decision rule an experiment still says
which arm is ahead on each metric, with the interval and whether it is significant; with a
rule, the verdict follows the lead. Data shaped like the mobile-game test (two gates, 1-day
retention, rounds played), with planted effects whose sign the lead must name."""

from __future__ import annotations

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from mercator.experiment import analyze
from mercator.interfaces.cli import app

runner = CliRunner()


def _game(n: int = 20_000, seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    gate = rng.choice(["gate_30", "gate_40"], n)
    # planted: gate_40 retains worse (-2 points on 45%), rounds identical in distribution
    retained = (rng.random(n) < np.where(gate == "gate_40", 0.43, 0.45)).astype(int)
    rounds = rng.negative_binomial(1, 1 / 50, n)
    return pd.DataFrame({"userid": np.arange(n), "version": gate, "retention_1": retained, "sum_gamerounds": rounds})


def test_lead_names_the_arm_ahead_with_interval_without_a_rule():
    res = analyze(_game(), variant_col="version", control="gate_30", metrics=["retention_1", "sum_gamerounds"])
    leads = [f for f in res.findings if f.impact == 5000.0]
    assert [f.metric for f in leads] == ["retention_1", "sum_gamerounds"]
    ret = leads[0].text
    assert ret.startswith("retention_1: gate_30 is ahead of gate_40, 45.")
    assert "95% interval" in ret and " significant (" in ret
    assert leads[0].interval[1] < 0  # the planted drop: the whole interval below zero
    rounds = next(f for f in leads if f.metric == "sum_gamerounds")
    assert "not significant" in rounds.text and rounds.interval[0] < 0 < rounds.interval[1]
    assert res.findings[0] in leads  # the lead comes first
    assert any(f.text.startswith("No decision rule was given") for f in res.findings)
    assert "verdict" not in res.tables


def test_verdict_follows_the_lead_when_there_is_a_rule(tmp_path):
    f = tmp_path / "cookie_cats.csv"
    _game().to_csv(f, index=False)
    r = runner.invoke(app, ["experiment", "analyze", "--data", str(f), "--variant-col", "version", "--control",
                            "gate_30", "--metrics", "retention_1", "--min-lift", "0.01"])
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    assert text.index("retention_1: gate_30 is ahead") < text.index("Verdict for gate_40: DO NOT SHIP")
    assert "No decision rule" not in text
