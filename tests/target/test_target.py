"""Propensity models against a simulation with planted drivers and a known Bayes AUC; the
leakage guards; saved models that refuse a mismatch; batch scoring."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from mercator.errors import MercatorError
from mercator.modelstore import MAGIC, read_signed, signing_key, signing_key_path, write_signed
from mercator.target import ModelMismatch, load_model, score_table, train_model
from mercator.target._model import split_rows


def _planted(n: int = 20_000, seed: int = 31) -> tuple[pd.DataFrame, np.ndarray]:
    """log-odds = -2 + 1.5 x1 + 0.7 x2 + 0.8 [region = north] (x3 is noise; recorded_at and
    label_at are times, the label known 30 days after the features)."""
    rng = np.random.default_rng(seed)
    x1, x2, x3 = rng.normal(size=(3, n))
    region = rng.choice(["north", "south", "east"], n)
    logit = -2 + 1.5 * x1 + 0.7 * x2 + 0.8 * (region == "north")
    p = 1 / (1 + np.exp(-logit))
    y = (rng.random(n) < p).astype(int)
    t = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D")
    frame = pd.DataFrame({"id": np.arange(n), "x1": x1, "x2": x2, "x3": x3, "region": region, "bought": y,
                          "recorded_at": t, "label_at": t + pd.Timedelta(days=30)})
    return frame, p


def test_planted_drivers_auc_and_calibration(tmp_path):
    """Reference: the true probabilities. The model's test AUC is within 0.02 of the Bayes AUC
    (the AUC of the true probabilities on the same rows), SHAP ranks x1, x2 first, the noise
    feature last, and calibrated scores match observed rates (Brier within 0.003 of the true
    probabilities' Brier)."""
    frame, p_true = _planted()
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    res = train_model(None, str(path), "bought", exclude=["id", "recorded_at", "label_at"],
                      save_to=tmp_path / "m.mercator-model")
    m = res.to_frame("metrics").set_index("model")
    scored = score_table(res.params["model_path"], None, str(path), tmp_path / "s.csv", id_col="id")
    s = pd.read_csv(tmp_path / "s.csv")
    assert scored.to_frame("summary")["rows"].iloc[0] == len(frame) == len(s)
    y = frame["bought"].to_numpy()
    test = split_rows(y, ordered=False, seed=0)[2]  # the rows the metrics were measured on
    bayes_auc = roc_auc_score(y[test], p_true[test])
    assert m.loc["lightgbm", "roc_auc"] == pytest.approx(bayes_auc, abs=0.02)
    assert m.loc["logistic_baseline", "roc_auc"] == pytest.approx(bayes_auc, abs=0.02)  # the truth is logistic
    imp = res.to_frame("importance")["feature"].tolist()
    assert imp[:2] == ["x1", "x2"] and imp[-1] == "x3"
    true_brier = np.mean((p_true[test] - y[test]) ** 2)
    assert m.loc["lightgbm", "brier"] == pytest.approx(true_brier, abs=0.003)
    assert s["score"].mean() == pytest.approx(y.mean(), abs=0.01)
    assert set(res.to_frame("gains")["decile"]) == set(range(1, 11))
    assert res.to_frame("gains").query("model == 'lightgbm'")["lift"].iloc[0] > 2.5


def test_time_split_tests_on_the_latest_rows(tmp_path):
    frame, _ = _planted(4000)
    res = train_model(None, _csv(frame, tmp_path), "bought", exclude=["id", "label_at"], time_col="recorded_at",
                      save_to=tmp_path / "m.mercator-model")
    assert res.params["ordered_split"] and "time-ordered" in res.to_frame("model_card").set_index("item").loc[
        "split", "value"]


def test_features_recorded_after_the_label_are_refused(tmp_path):
    frame, _ = _planted(4000)
    frame.loc[:9, "recorded_at"] = frame.loc[:9, "label_at"] + pd.Timedelta(days=1)
    with pytest.raises(MercatorError, match="refusing features recorded after the label.*x1 in 10 rows"):
        train_model(None, _csv(frame, tmp_path), "bought", exclude=["id"], label_time="label_at",
                    feature_times={"x1": "recorded_at"}, save_to=tmp_path / "m.mercator-model")


def test_a_feature_that_predicts_too_well_is_warned_about(tmp_path):
    frame, _ = _planted(4000)
    frame["call_minutes"] = frame["bought"] * 3 + np.random.default_rng(1).normal(0, 1, len(frame))
    res = train_model(None, _csv(frame, tmp_path), "bought", exclude=["id", "recorded_at", "label_at"],
                      save_to=tmp_path / "m.mercator-model")
    assert any(f.metric == "leakage" and f.segment == "call_minutes" for f in res.findings)


def test_saved_model_refuses_other_versions_and_altered_files(tmp_path):
    frame, _ = _planted(3000)
    res = train_model(None, _csv(frame, tmp_path), "bought", exclude=["id", "recorded_at", "label_at"],
                      save_to=tmp_path / "m.mercator-model")
    path = tmp_path / "m.mercator-model"
    assert load_model(path)["config_hash"] == res.params["config_hash"]
    saved = read_signed(path)
    saved["versions"]["lightgbm"] = "0.0.1"
    write_signed(tmp_path / "old.mercator-model", saved)  # signed, but made with other versions
    with pytest.raises(ModelMismatch, match="lightgbm 0.0.1"):
        load_model(tmp_path / "old.mercator-model")
    saved = read_signed(path)
    saved["config"]["threshold"] = 0.01
    write_signed(tmp_path / "edited.mercator-model", saved)
    with pytest.raises(ModelMismatch, match="altered"):
        load_model(tmp_path / "edited.mercator-model")


class _Exploit:
    """Unpickling this runs code: what a tampered model file would do."""

    def __reduce__(self):
        return (Path.touch, (Path(os.environ["MERCATOR_EXPLOIT_MARK"]),))


def test_tampered_model_is_refused_before_it_is_unpickled(tmp_path, monkeypatch):
    """Issue 17 item 14: a model file carrying a pickle exploit must not run on load."""
    frame, _ = _planted(3000)
    path = tmp_path / "m.mercator-model"
    train_model(None, _csv(frame, tmp_path), "bought", exclude=["id", "recorded_at", "label_at"], save_to=path)
    mark = tmp_path / "pwned"
    monkeypatch.setenv("MERCATOR_EXPLOIT_MARK", str(mark))
    data = path.read_bytes()
    evil = pickle.dumps({"model": _Exploit()})
    (tmp_path / "evil.mercator-model").write_bytes(data[:len(MAGIC) + 32] + evil)  # valid header, other pickle
    (tmp_path / "plain.mercator-model").write_bytes(evil)  # a bare pickle, as older versions wrote
    for name, match in (("evil", "signature does not verify"), ("plain", "not a signed Mercator model")):
        with pytest.raises(ModelMismatch, match=match):
            load_model(tmp_path / f"{name}.mercator-model")
    with pytest.raises(ModelMismatch, match="signature"):
        score_table(tmp_path / "evil.mercator-model", None, _csv(frame, tmp_path), tmp_path / "s.csv")
    assert not mark.exists()
    monkeypatch.setenv("MERCATOR_MODEL_KEY", "another-installation-key-0123456789")  # signed elsewhere
    with pytest.raises(ModelMismatch, match="another model-signing key"):
        load_model(path)


def test_signing_key_file_is_private(tmp_path, monkeypatch):
    monkeypatch.delenv("MERCATOR_MODEL_KEY", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    key = signing_key()
    assert len(key) == 64 and signing_key() == key
    assert (signing_key_path().stat().st_mode & 0o777) == 0o600


def test_scoring_runs_in_batches_with_progress(tmp_path):
    frame, _ = _planted(3000)
    src = _csv(frame, tmp_path)
    res = train_model(None, src, "bought", exclude=["id", "recorded_at", "label_at"],
                      save_to=tmp_path / "m.mercator-model")
    seen = []
    score_table(res.params["model_path"], None, src, tmp_path / "s.csv", batch_size=1000,
                progress=lambda done, total: seen.append((done, total)))
    assert seen == [(1000, 3000), (2000, 3000), (3000, 3000)]
    s = pd.read_csv(tmp_path / "s.csv")
    hot = s[s.above_threshold]
    assert len(hot) and hot["reasons"].str.count(",").eq(2).all() and s.loc[~s.above_threshold, "reasons"].isna().all()


def test_bad_label_is_a_clear_error(tmp_path):
    frame, _ = _planted(1000)
    frame["bought"] = np.where(frame["bought"] == 1, "yes", "no")
    with pytest.raises(MercatorError, match="say which is the positive class"):
        train_model(None, _csv(frame, tmp_path), "bought", save_to=tmp_path / "m")
    with pytest.raises(MercatorError, match="no column"):
        train_model(None, _csv(frame, tmp_path), "label", save_to=tmp_path / "m")


def _csv(frame: pd.DataFrame, tmp_path) -> str:
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    return str(path)


def test_demo_planted_propensity_drivers_rank_first(demo_company, tmp_path):
    """The demo's e-mail test plants who buys (truth.json experiment.propensity_drivers: 3x for a
    purchase in the 60 days before the start, 2x in the US; the e-mail adds 2 points on mobile;
    order value, frequency, tenure and returns play no part). Trained on the experiment frame,
    SHAP ranks exactly those two features first."""
    from mercator.target import experiment_frame

    ws, truth, _folder = demo_company
    frame = experiment_frame(ws, truth["experiment"]["experiment_id"])
    assert {"country", "device"} <= set(frame.columns)  # the profile, with device from attributes JSON
    res = train_model(ws, frame, "converted", exclude=["unit_id", "orders", "revenue"],
                      save_to=tmp_path / "m.mercator-model")
    ranked = res.to_frame("importance")["feature"].tolist()
    assert set(ranked[:2]) == set(truth["experiment"]["propensity_drivers"])


def test_f1_best_threshold_equals_the_f1_score_search():
    """The one-sort search picks the threshold a loop of scikit-learn f1_score calls picks (ties included)."""
    from sklearn.metrics import f1_score

    from mercator.target._model import f1_best_threshold

    rng = np.random.default_rng(3)
    for n in (500, 20_000):
        p = np.round(rng.beta(1, 6, n), 3)  # rounded: many tied scores
        y = (rng.random(n) < p).astype(int)
        grid = np.unique(np.quantile(p, np.linspace(0.5, 0.995, 100)))
        expected = grid[np.argmax([f1_score(y, p >= t) for t in grid])]
        assert f1_best_threshold(y, p) == expected


def test_blank_cells_and_identifiers_like_a_telecom_export(tmp_path):
    """Issue 18, items 11 and 12, on a table shaped like the telecom churn export: a
    monthly-charges total with blank (" ") cells must be a number with missing values, not a
    category of thousands of levels flagged as leakage; a unique customerID must be left out,
    not used as a feature and flagged as leakage."""
    frame, _ = _planted(4000)
    rng = np.random.default_rng(4)
    total = (50 + 20 * frame.x1 + rng.normal(0, 5, len(frame))).round(2).astype(str)
    total[rng.choice(len(frame), 11, replace=False)] = " "
    frame = frame.assign(customerID=[f"{rng.integers(1000, 9999)}-{i:05d}X" for i in range(len(frame))],
                         TotalCharges=total).drop(columns=["id"])
    res = train_model(None, _csv(frame, tmp_path), "bought", exclude=["recorded_at", "label_at"], save=False)
    text = " ".join(f.text for f in res.findings)
    assert "customerID (4,000 distinct)" in text and "TotalCharges (11 blank)" in text
    card = res.to_frame("model_card").set_index("item")["value"]
    assert card["features"] == "5"  # x1, x2, x3, region, TotalCharges
    assert not any(f.metric == "leakage" and f.segment in ("customerID", "TotalCharges") for f in res.findings)
    imp = res.to_frame("importance").set_index("feature")
    assert "customerID" not in imp.index and "TotalCharges" in imp.index
