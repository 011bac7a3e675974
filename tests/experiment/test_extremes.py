"""One extreme unit decides a mean (issue 18, item 10). Data shaped like the mobile-game test:
rounds per player heavy-tailed around a median of about 16, plus one player with 49,854
rounds. The effect in mean rounds is then driven by that one player; capped at the 99.9th
percentile it vanishes. Reference: SciPy's Welch t-test on the same data winsorized with
NumPy (``np.minimum`` at ``np.quantile``)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from typer.testing import CliRunner

from mercator.errors import MercatorError
from mercator.experiment import analyze
from mercator.interfaces.cli import app

runner = CliRunner()


def _game(n: int = 20_000, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    gate = np.where(np.arange(n) % 2 == 0, "gate_30", "gate_40")
    rounds = rng.negative_binomial(0.8, 0.8 / 28, n).astype(np.int64)  # median about 16-18, no effect
    rounds[1] = 49_854  # one gate_40 player
    return pd.DataFrame({"userid": np.arange(n), "version": gate, "sum_gamerounds": rounds,
                         "retention_1": (rng.random(n) < 0.45).astype(int)})


def test_extreme_unit_is_flagged_and_its_effect_shown_with_and_without(tmp_path):
    d = _game()
    res = analyze(d, variant_col="version", control="gate_30", metrics=["sum_gamerounds", "retention_1"])
    ext = res.to_frame("extremes").set_index("column")
    assert list(ext.index) == ["sum_gamerounds"]  # the 0/1 column is never checked
    assert bool(ext.loc["sum_gamerounds", "extreme"]) and ext.loc["sum_gamerounds", "max"] == 49_854
    cap = res.to_frame("capping").iloc[0]
    x = d.sum_gamerounds.to_numpy(float)
    w = np.minimum(x, np.quantile(x, 0.999))
    g40 = (d.version == "gate_40").to_numpy()
    raw_p = stats.ttest_ind(x[g40], x[~g40], equal_var=False).pvalue
    cap_p = stats.ttest_ind(w[g40], w[~g40], equal_var=False).pvalue
    assert cap.pvalue == pytest.approx(raw_p, rel=1e-6)
    assert cap.pvalue_capped == pytest.approx(cap_p, rel=1e-3)
    assert abs(cap.rel_effect_capped) < abs(cap.rel_effect) / 2  # the one player carried most of it
    text = " ".join(f.text for f in res.findings)
    assert "Extreme values in sum_gamerounds: the largest is 49,854" in text and "--cap 0.999" in text
    # the headline effects stay as recorded unless capping is asked for
    assert res.to_frame("effects").set_index("metric").loc["sum_gamerounds", "pvalue"] == pytest.approx(raw_p)


def test_cap_option_analyses_the_capped_data(tmp_path):
    f = tmp_path / "cookie_cats.csv"
    _game().to_csv(f, index=False)
    r = runner.invoke(app, ["experiment", "analyze", "--data", str(f), "--variant-col", "version", "--control",
                            "gate_30", "--metrics", "sum_gamerounds,retention_1", "--cap", "0.999", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    eff = {e["metric"]: e for e in doc["tables"]["effects"]}
    cap = doc["tables"]["capping"][0]
    assert eff["sum_gamerounds"]["pvalue"] == pytest.approx(cap["pvalue_capped"])
    assert doc["params"]["cap"] == 0.999
    assert {c["column"] for c in doc["tables"]["extremes"]} == {"sum_gamerounds"}
    with pytest.raises(MercatorError, match="between 0.5 and 1"):
        analyze(_game(200), variant_col="version", metrics=["sum_gamerounds"], cap=99.9)


def test_clean_metrics_are_not_flagged():
    rng = np.random.default_rng(1)
    d = pd.DataFrame({"variant": rng.choice(["A", "B"], 50_000), "revenue": rng.gamma(2.0, 30.0, 50_000)})
    res = analyze(d, metrics=["revenue"], control="A")
    assert "extremes" not in res.tables and "capping" not in res.tables
