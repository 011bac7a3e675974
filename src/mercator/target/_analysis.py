"""The public analyses of ``mercator.target`` (the package re-exports them)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from mercator.errors import MercatorError
from mercator.exports import write_csv
from mercator.frames import batches, read_table, require_columns, sniff_delimiter
from mercator.govern import record_export, targeting
from mercator.modelstore import config_hash, load_model, model_path, save_model
from mercator.modelstore import versions as package_versions
from mercator.results import Finding, Result
from mercator.target._model import (
    LEAK_AUC,
    capped,
    prepare_features,
    screen_columns,
    single_feature_auc,
    split_rows,
    train,
)
from mercator.workspace import Workspace

_PACKAGES = ("mercator", "lightgbm", "scikit-learn", "numpy", "pandas")


@dataclass(frozen=True)
class TargetResult(Result):
    kind = "target_model"
    title = "Propensity model"
    headline = ("model_card", "gains")
    display: ClassVar[dict[str, tuple[str, ...]]] = {"metrics": ("model", "roc_auc", "pr_auc", "brier", "precision", "recall", "f1"),
               "uncertainty": ("model", "metric", "value", "lo", "hi")}

    def figures(self) -> list:
        figs = []
        g = self.to_frame("gains")
        if not g.empty:
            fig = go.Figure()
            for m, part in g.groupby("model", sort=False):
                fig.add_scatter(x=part["decile"] * 10, y=part["cumulative_gain"], mode="lines+markers", name=m)
            fig.add_scatter(x=[0, 100], y=[0, 1], mode="lines", name="random", line={"dash": "dot", "color": "#999"})
            fig.update_layout(title="Cumulative gains on the test rows", xaxis_title="% of customers targeted",
                              yaxis_title="share of positives reached", yaxis_tickformat=".0%", height=380)
            figs.append(fig)
        c = self.to_frame("calibration")
        if not c.empty:
            fig = go.Figure()
            for m, part in c.groupby("model", sort=False):
                fig.add_scatter(x=part["predicted"], y=part["observed"], mode="lines+markers", name=m)
            fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect", line={"dash": "dot", "color": "#999"})
            fig.update_layout(title="Calibration on the test rows (deciles of the score)",
                              xaxis_title="predicted probability", yaxis_title="observed rate", height=380)
            figs.append(fig)
        imp = self.to_frame("importance")
        if not imp.empty:
            top = imp.head(15).iloc[::-1]
            fig = go.Figure(go.Bar(x=top["mean_abs_shap"], y=top["feature"], orientation="h"))
            fig.update_layout(title="What drives the score: mean |SHAP| (log-odds)", height=420)
            figs.append(fig)
        return figs


def train_model(ws: Workspace | None, source: str, label: str, *, exclude: list[str] | tuple[str, ...] = (),
                positive: str | None = None, time_col: str | None = None, ordered: bool = False,
                label_time: str | None = None, feature_times: dict[str, str] | None = None,
                threshold: float | None = None, seed: int = 0, save_to: str | Path | None = None,
                name: str | None = None, save: bool = False) -> TargetResult:
    """Train LightGBM (and the logistic baseline) to predict ``label`` from the other columns.

    ``time_col`` sorts the rows and makes the split time-ordered (so does ``ordered`` for rows
    already in time order); otherwise it is random and stratified. ``label_time`` and
    ``feature_times`` (feature -> the column saying when it was recorded) make training refuse
    features recorded after the label. Only when the caller asks (``save=True``, or a place
    ``save_to``) is the model saved, with its configuration hash and library versions (default
    place: ``models/`` beside a DuckDB workspace, else in the current directory); otherwise the
    model is only evaluated (as the report does).
    """
    feature_times = feature_times or {}
    used = {label, time_col, label_time, *feature_times.values()}
    frame = _training_rows(ws, source, [label, *exclude, time_col, label_time],
                           skip={c for c in exclude if c not in used})
    if feature_times and not label_time:
        raise MercatorError("feature_times needs label_time: the time the label is known")
    late = _late_features(frame, label_time, feature_times)
    if late:
        raise MercatorError(f"{source}: refusing features recorded after the label ({label_time}): "
                            + "; ".join(f"{f} in {n:,} rows" for f, n in late.items())
                            + ". Drop them or rebuild them as of the label time.")
    if time_col:
        frame = frame.sort_values(time_col, kind="stable", ignore_index=True)
    y = _binary(frame[label], positive, source, label)
    drop = {label, *exclude, *(c for c in (time_col, label_time) if c), *feature_times.values()}
    x, categories, screened = _features(frame.drop(columns=[c for c in frame.columns if c in drop]))
    if len(x) < 200 or y.sum() < 20 or (len(y) - y.sum()) < 20:
        raise MercatorError(f"{source}: too few rows or positives to train and test a model "
                            f"({len(y)} rows, {int(y.sum())} positive)")
    is_ordered = bool(time_col) or ordered
    tr, _va, _te = split_rows(y, is_ordered, seed)
    screen = capped(tr, seed)
    aucs = single_feature_auc(x.iloc[screen], y[screen])
    model, tables = train(x, y, ordered=is_ordered, seed=seed, threshold=threshold)
    model.categories = categories
    config = {"source": str(source), "label": label, "positive": positive, "exclude": sorted(exclude),
              "time_col": time_col, "ordered": is_ordered, "features": model.features, "categories": categories,
              "seed": seed, "rows": len(x), "threshold": model.threshold}
    chash = config_hash(config)
    versions = package_versions(_PACKAGES)
    path = model_path(ws, save_to, name or f"{label}-{chash[:8]}") if save or save_to is not None else None
    if path is not None:
        save_model(path, {"model": model}, config, _PACKAGES, ws=ws)
    tables["single_feature_auc"] = pd.DataFrame({"feature": aucs.index, "auc": aucs.to_numpy()})
    m = model.metrics
    card = {"model": "LightGBM, Platt-calibrated; baseline logistic regression", "label": f"{label} = "
            f"{positive if positive is not None else '1'}", "rows": len(x), "features": len(model.features),
            "split": "time-ordered 60/20/20" if is_ordered else "stratified random 60/20/20",
            "threshold (F1-best on validation)" if threshold is None else "threshold": round(model.threshold, 4),
            "test ROC AUC": round(m["lightgbm"]["roc_auc"], 4), "test PR AUC": round(m["lightgbm"]["pr_auc"], 4),
            "baseline ROC AUC": round(m["logistic_baseline"]["roc_auc"], 4),
            "ROC AUC difference (95% interval)": _difference(tables["uncertainty"]), "config hash": chash,
            **{f"version {k}": v for k, v in versions.items()}, "saved to": str(path) if path else "not saved"}
    tables["model_card"] = pd.DataFrame({"item": list(card), "value": [str(v) for v in card.values()]})
    findings = _findings(tables, aucs, m, label) + screened
    return TargetResult(tables=tables, findings=tuple(findings),
                        params={"label": label, "source": _name(source), "model_path": str(path) if path else None,
                                "config_hash": chash,
                                "ordered_split": is_ordered, "threshold": model.threshold, "versions": versions})


def _training_rows(ws: Workspace | None, source, need: list, skip: set[str]) -> pd.DataFrame:
    """The rows to train on. A workspace table streams from the engine as Arrow batches of the
    columns the model can use (``skip``: excluded columns, never read); a file or a DataFrame is
    read whole. ``need``: columns that must exist (None entries are ignored)."""
    from mercator.schema import TABLES

    if ws is None or isinstance(source, pd.DataFrame) or str(source) not in TABLES:
        frame = read_table(ws, source)
        require_columns(frame.columns, need, _name(source))
        return frame
    columns = list(ws.table(str(source)).columns)
    require_columns(columns, need, str(source))
    parts, _ = batches(str(source), ws, columns=[c for c in columns if c not in skip])
    frames = list(parts)
    return pd.concat(frames, ignore_index=True) if frames else ws.table(str(source)).limit(0).to_pandas()


def _name(source: str | pd.DataFrame) -> str:
    return "the experiment frame" if isinstance(source, pd.DataFrame) else str(source)


def _late_features(frame: pd.DataFrame, label_time: str | None, feature_times: dict[str, str]) -> dict[str, int]:
    if not label_time:
        return {}
    lt = pd.to_datetime(frame[label_time], errors="coerce")
    out = {}
    for feature, col in feature_times.items():
        if col not in frame.columns:
            raise MercatorError(f"feature time column {col!r} (for {feature}) is not in the table")
        n = int((pd.to_datetime(frame[col], errors="coerce") > lt).sum())
        if n:
            out[feature] = n
    return out


def _binary(col: pd.Series, positive: str | None, source: str, label: str) -> np.ndarray:
    if col.isna().any():
        raise MercatorError(f"{source}: label {label!r} is empty in {int(col.isna().sum())} rows "
                            f"(first at row {int(np.flatnonzero(col.isna())[0]) + 2} of the file)")
    if positive is not None:
        y = (col.astype(str) == str(positive)).to_numpy(int)
        if not y.any():
            raise MercatorError(f"{source}: no row has {label} = {positive!r}; values: {sorted(col.astype(str).unique())[:10]}")
        return y
    values = set(pd.unique(col))
    if values <= {0, 1}:
        return col.astype(int).to_numpy()
    raise MercatorError(f"{source}: label {label!r} has values {sorted(map(str, values))[:10]}: say which is the "
                        "positive class (--positive)")


def _features(frame: pd.DataFrame, categories: dict | None = None) -> tuple[pd.DataFrame, dict, list[Finding]]:
    """Features from the columns left after the label, with what the screening did said:
    blank cells of numeric columns are missing values, identifiers are left out."""
    frame, blanks, ids = screen_columns(frame)
    x, categories = prepare_features(frame, categories)
    notes = []
    if ids:
        notes.append(Finding("Left out as identifiers (a distinct value in most rows, or named like an id): "
                             + ", ".join(f"{c} ({n:,} distinct)" for c, n in ids.items())
                             + ". Pass them with --exclude to silence this, or rename a column that is a real "
                               "feature.", metric="identifiers", value=float(len(ids)), impact=0.3))
    if blanks:
        notes.append(Finding("Read as numbers, with blank cells as missing values (the model handles them): "
                             + ", ".join(f"{c} ({n:,} blank)" for c, n in blanks.items()) + ".",
                             metric="blank_cells", value=float(sum(blanks.values())), impact=0.2))
    return x, categories, notes


def _difference(u: pd.DataFrame) -> str:
    d = u.set_index(["model", "metric"]).loc[("lightgbm - logistic_baseline", "roc_auc")]
    return f"{d.value:+.4f} ({d.lo:+.4f} to {d.hi:+.4f})"


def _versus_baseline(d: pd.Series) -> str:
    gap = f"{d.value:+.3f} ROC AUC (95% interval {d.lo:+.3f} to {d.hi:+.3f}, paired bootstrap of the test rows)"
    if d.lo > 0:
        return f"LightGBM beats the logistic baseline by {gap}."
    if d.hi < 0:
        return (f"The logistic baseline beats LightGBM by {-d.value:.3f} ROC AUC (interval {-d.hi:.3f} to "
                f"{-d.lo:.3f}): use the baseline, or look for what the trees overfit.")
    return (f"The logistic baseline is as good: LightGBM differs by {gap}, an interval that includes no "
            "difference. The simpler model ranks customers as well on this data.")


def _findings(tables: dict, aucs: pd.Series, m: dict, label: str) -> list[Finding]:
    lg = m["lightgbm"]
    top = tables["gains"].query("model == 'lightgbm' and decile == 1").iloc[0]
    imp = tables["importance"]
    u = tables["uncertainty"].set_index(["model", "metric"])

    def iv(model: str, metric: str) -> str:
        r = u.loc[(model, metric)]
        return f"{r.value:.3f} ({r.lo:.3f} to {r.hi:.3f})"

    diff = u.loc[("lightgbm - logistic_baseline", "roc_auc")]
    out = [Finding(
        f"LightGBM predicts {label} with ROC AUC {iv('lightgbm', 'roc_auc')} and PR AUC {iv('lightgbm', 'pr_auc')} "
        f"on the test rows (95% bootstrap intervals); the logistic baseline {iv('logistic_baseline', 'roc_auc')} and "
        f"{iv('logistic_baseline', 'pr_auc')}. The top 10% by score hold {top.cumulative_gain:.0%} of the positives "
        f"(lift {top.lift:.1f}).", metric="roc_auc", value=float(lg["roc_auc"]),
        interval=(float(u.loc[("lightgbm", "roc_auc")].lo), float(u.loc[("lightgbm", "roc_auc")].hi)), impact=1.0),
        Finding(_versus_baseline(diff), metric="roc_auc_difference", value=float(diff.value),
                interval=(float(diff.lo), float(diff.hi)), impact=0.95),
        Finding(f"At threshold {lg['threshold']:.3f}: precision {lg['precision']:.2f}, recall {lg['recall']:.2f}, "
                f"F1 {lg['f1']:.2f}, accuracy {lg['accuracy']:.2f}; Brier score {lg['brier']:.4f}.",
                metric="f1", value=float(lg["f1"]), impact=0.5),
        Finding("Strongest drivers (mean |SHAP|): " + ", ".join(
            f"{r.feature} ({r.share:.0%})" for r in imp.head(3).itertuples()) + ".", metric="shap", impact=0.4)]
    for f, auc in aucs[aucs >= LEAK_AUC].items():
        out.append(Finding(f"Warning: {f} alone predicts {label} with ROC AUC {auc:.2f} on the training rows. A "
                           "feature this strong is often recorded after the outcome (like a call's duration): check "
                           "it is known when you score.", metric="leakage", segment=f, value=float(auc), impact=2.0))
    if len(imp) and imp["share"].iloc[0] > 0.5:
        out.append(Finding(f"Warning: {imp.feature.iloc[0]} carries {imp.share.iloc[0]:.0%} of the model's SHAP "
                           "importance; check it is not a proxy of the label.", metric="leakage", impact=1.5))
    split = tables["split"].set_index("part")["positive_rate"]
    if split["train"] > 0 and not 0.5 <= split["test"] / split["train"] <= 2:
        out.append(Finding(f"Warning: the positive rate moves from {split['train']:.1%} (train) to {split['test']:.1%} "
                           "(test): the population drifts over time, and scores will drift with it.",
                           metric="drift", impact=1.5))
    return out


@dataclass(frozen=True)
class ScoreResult(Result):
    """How a table was scored: rows, mean score, rows above the threshold, rows left out."""

    kind = "target_scores"
    title = "Scores"


def _score_batch(part: pd.DataFrame, model, id_col, keep, removed: dict, output: Path, reasons: bool,
                 written: int, read: int, dist: list) -> tuple[int, int]:
    """Score one batch, keep the people who may be selected, append them to ``output``."""
    x, _ = prepare_features(part[model.features], model.categories)
    p = model.predict(x)
    hot = p >= model.threshold
    why = np.full(len(part), "", dtype=object)
    if reasons and hot.any():  # TreeSHAP costs ~0.4 ms a row: explained where someone will act
        shap = model.shap(x[hot]).drop(columns="_base").to_numpy()
        names = np.asarray(model.features)[np.argsort(-shap, axis=1)[:, :3]]
        why[hot] = [", ".join(r) for r in names]
    out = pd.DataFrame({"row": np.arange(read, read + len(part)) + 2, "score": p, "above_threshold": hot,
                        "reasons": why})
    if id_col:
        out.insert(0, id_col, part[id_col].to_numpy())
        out, gone = keep(out, id_col)
        for rule, n in gone.items():
            removed[rule] = removed.get(rule, 0) + n
    write_csv(out, output, append=written > 0 or read > 0)
    dist.append(out["score"].to_numpy())
    return written + len(out), read + len(part)


def score_table(model_path: str | Path, ws: Workspace | None, source: str, output: str | Path, *,
                id_col: str | None = None, batch_size: int = 100_000, reasons: bool = True,
                consent: str | None = None, suppress_segments: list[str] | tuple[str, ...] = (),
                progress: Callable[[int, int | None], None] | None = None) -> ScoreResult:
    """Score every row of ``source`` in batches streamed from the engine (or the file): the
    calibrated probability, and for rows above the model's threshold the three features that
    push the score up most (TreeSHAP; ``reasons=False`` skips them, about 10x faster). The
    scores are written to ``output``. With ``consent`` (a purpose) or ``suppress_segments``, only
    the people who may be selected are written (the engine-side filter of
    :mod:`mercator.govern`; needs ``id_col``), and the rows left out are counted."""
    saved = load_model(model_path)
    model, config = saved["model"], saved["config"]
    if (consent or suppress_segments) and not id_col:
        raise MercatorError("consent and suppression need --id-col (the customer id of each row)")
    wanted = list(dict.fromkeys([*model.features, *([id_col] if id_col else [])]))
    missing = [f for f in wanted if f not in _columns(ws, source)]
    if missing:
        raise MercatorError(f"{source}: the model needs column(s) {', '.join(missing)}")
    parts, total = batches(source, ws, columns=wanted, batch_size=batch_size)
    output = Path(output)
    written, read, dist, removed = 0, 0, [], {}
    with targeting(ws, purpose=consent, suppress_segments=suppress_segments) as keep:
        for part in parts:
            written, read = _score_batch(part, model, id_col, keep, removed, output, reasons, written, read, dist)
            if progress:
                progress(read, total)
    if read == 0:
        write_csv(pd.DataFrame(columns=[*([id_col] if id_col else []), "row", "score", "above_threshold", "reasons"]),
                  output)
    record_export(ws, output, what=f"scores ({Path(model_path).name})", rows=written, purpose=consent)
    p_all = np.concatenate(dist) if dist else np.array([])
    summary = pd.DataFrame({"rows": [read], "written": [written], "mean_score": [float(p_all.mean()) if written else
                                                                                 np.nan],
                            "above_threshold": [int((p_all >= model.threshold).sum())]})
    left = "".join(f"; {n:,} left out ({rule})" for rule, n in removed.items())
    return ScoreResult(tables={"summary": summary, "left_out": pd.DataFrame(
        {"rule": list(removed), "rows": list(removed.values())})}, findings=(Finding(
            f"Scored {read:,} rows of {source} with {Path(model_path).name} (label {config['label']}): mean score "
            f"{p_all.mean() if written else float('nan'):.3f}, {int((p_all >= model.threshold).sum()):,} above the "
            f"threshold {model.threshold:.3f}{left}; {written:,} written to {output}.", metric="score",
            value=float(p_all.mean()) if written else None),),
        params={"model": str(model_path), "output": str(output), "config_hash": saved["config_hash"],
                "consent": consent, "suppress_segments": list(suppress_segments)})


def score_frame(model_path: str | Path, frame: pd.DataFrame, *, source: str = "the rows") -> np.ndarray:
    """The calibrated probabilities of a saved model for the rows of ``frame`` (which must have
    the model's feature columns)."""
    model = load_model(model_path)["model"]
    missing = [f for f in model.features if f not in frame.columns]
    if missing:
        raise MercatorError(f"{source}: the model {Path(model_path).name} needs column(s) {', '.join(missing)}")
    return model.predict(prepare_features(frame[list(model.features)], model.categories)[0])


def _columns(ws: Workspace | None, source) -> list[str]:
    """The columns ``source`` has (for the message that names the missing ones)."""
    if isinstance(source, pd.DataFrame):
        return list(source.columns)
    path = Path(str(source))
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    if path.exists():
        with path.open(newline="", encoding="utf-8", errors="replace") as f:
            sep = sniff_delimiter(f.read(64_000))
        return list(pd.read_csv(path, sep=r"\s+" if sep == "whitespace" else sep, nrows=0).columns)
    return list(ws.table(str(source)).columns) if ws is not None else []


# -- uplift --------------------------------------------------------------------------------------
