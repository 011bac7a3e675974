"""The public analyses of ``mercator.target`` (the package re-exports them)."""

from __future__ import annotations

import json
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
from mercator.govern import eligible_frame
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
        save_model(path, {"model": model}, config, _PACKAGES)
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
    for part in parts:
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
            out, gone = eligible_frame(ws, out, id_col=id_col, purpose=consent, suppress_segments=suppress_segments)
            for rule, n in gone.items():
                removed[rule] = removed.get(rule, 0) + n
        write_csv(out, output, append=written > 0 or read > 0)
        read += len(part)
        written += len(out)
        dist.append(out["score"].to_numpy())
        if progress:
            progress(read, total)
    if read == 0:
        write_csv(pd.DataFrame(columns=[*([id_col] if id_col else []), "row", "score", "above_threshold", "reasons"]),
                  output)
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

@dataclass(frozen=True)
class UpliftResult(Result):
    kind = "uplift"
    title = "Uplift: whom the treatment changes"
    headline = ("learners",)

    def figures(self) -> list:
        q = self.to_frame("qini")
        if q.empty:
            return []
        fig = go.Figure()
        for m, part in q.groupby("learner", sort=False):
            fig.add_scatter(x=part["share_targeted"], y=part["qini"], mode="lines", name=m)
        end = q.groupby("learner")["qini"].last().iloc[0]
        fig.add_scatter(x=[0, 1], y=[0, end], mode="lines", name="random", line={"dash": "dot", "color": "#999"})
        fig.update_layout(title="Qini curves on the test rows: extra responders by share targeted",
                          xaxis_title="share of customers targeted", yaxis_title="incremental responders",
                          xaxis_tickformat=".0%", height=400)
        return [fig]


def experiment_frame(ws: Workspace, experiment_id: str, *, window_days: int | None = None,
                     channel: str | None = None) -> pd.DataFrame:
    """One row per assigned unit of a workspace experiment, built in the engine: its variant,
    whether it ordered (``converted``) and its revenue within ``window_days`` of assignment
    (default: the experiment's length; ``channel`` keeps one sales channel's orders), and its
    behaviour before the experiment started (segment features as of the start; customers with no
    earlier order have them missing), plus the customer's profile (``customer_profile``)."""
    import datetime as dt

    from mercator.experiment import experiment_units

    units, row = experiment_units(ws, experiment_id, window_days=window_days, channel=channel)
    start = row["start"]
    frame = units.select("unit_id", "variant", "orders", "revenue", "converted").to_pandas()
    as_of = start.date() if isinstance(start, dt.datetime) else start
    feats = customer_frame(ws, as_of - dt.timedelta(days=1)).rename(columns={"customer_id": "unit_id"})
    return frame.merge(feats, on="unit_id", how="left").sort_values("unit_id", ignore_index=True)


def customer_frame(ws: Workspace, as_of) -> pd.DataFrame:
    """The features a workspace experiment's models see, per customer, as of a day: behaviour
    up to ``as_of`` (:func:`mercator.segment.customer_features`) and the profile
    (:func:`customer_profile`), for every customer with an order or a profile row."""
    from mercator.segment import customer_features

    feats = customer_features(ws, as_of)
    if ws.count("customers"):
        feats = feats.merge(customer_profile(ws), on="customer_id", how="outer")
    return feats


def customer_profile(ws: Workspace) -> pd.DataFrame:
    """Per customer: country and the scalar keys of ``attributes`` (the JSON object of anything
    else the source had, such as device or plan) as columns; nested values are left out."""
    c = ws.table("customers")
    prof = c.select("customer_id", "country", "attributes").to_pandas()
    # JSON keys differ by source and the engines' JSON functions differ: parse the (small) column here
    attrs = pd.json_normalize([json.loads(a) if isinstance(a, str) and a.startswith("{") else {}
                               for a in prof.pop("attributes")], max_level=0)
    attrs = attrs[[k for k in attrs.columns if k not in prof.columns
                   and attrs[k].map(lambda v: v is None or isinstance(v, str | int | float | bool)).all()]]
    return pd.concat([prof, attrs.set_axis(prof.index)], axis=1)


def experiment_rows(ws: Workspace | None, source: str | pd.DataFrame, *, channel: str | None = None
                    ) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """The rows of an experiment and the columns that are outcomes or ids rather than features.

    ``source`` is a DataFrame, a CSV/Parquet file, a canonical workspace table, or the id of a
    workspace experiment (then its units with their pre-experiment features, outcome ``converted``
    within the experiment's length, ``channel``'s orders only if given: :func:`experiment_frame`)."""
    from mercator.schema import TABLES

    if isinstance(source, pd.DataFrame) or ws is None or source in TABLES or Path(source).exists() \
            or Path(source).suffix.lower() in (".csv", ".tsv", ".txt", ".parquet"):
        return read_table(ws, source), ()
    return experiment_frame(ws, source, channel=channel), ("unit_id", "orders", "revenue")


def uplift(ws: Workspace | None, source: str | pd.DataFrame, *, treatment_col: str, treated: str, control: str,
           outcome: str,
           exclude: list[str] | tuple[str, ...] = (), learners: tuple[str, ...] = ("t_learner", "x_learner",
                                                                                   "class_transformation"),
           k: float = 0.3, test_size: float = 0.3, bootstrap: int = 200, seed: int = 0,
           channel: str | None = None, target: ListSpec | None = None) -> UpliftResult:
    """Fit uplift learners on an experiment (``treatment_col`` = ``treated`` vs ``control``) and
    compare them on held-out rows: Qini coefficient, AUUC and uplift@k with bootstrap intervals.
    ``source``: see :func:`experiment_rows`. With ``target``, the result also holds the target
    list of the best learner (tables ``target_list`` and ``suppressed``; :func:`target_list`)."""
    from mercator.target._uplift import UpliftModel, auuc, qini_coefficient, qini_curve, uplift_at_k

    frame, not_features = experiment_rows(ws, source, channel=channel)
    exclude = [*exclude, *not_features]
    require_columns(frame.columns, [treatment_col, outcome, *exclude], _name(source))
    arm = frame[treatment_col].astype(str)
    frame = frame[arm.isin([treated, control])].reset_index(drop=True)
    if frame.empty or (frame[treatment_col].astype(str) == treated).sum() == 0:
        raise MercatorError(f"{_name(source)}: no rows with {treatment_col} = {treated!r} (values: "
                            f"{sorted(arm.unique())[:10]})")
    t = (frame[treatment_col].astype(str) == treated).to_numpy(int)
    y = _binary(frame[outcome], None, _name(source), outcome)
    x, categories, screened = _features(frame.drop(columns=[treatment_col, outcome, *exclude]))
    rng = np.random.default_rng(seed)
    test = np.zeros(len(y), bool)
    for g in np.unique(t * 2 + y):  # stratified by arm and outcome
        idx = np.flatnonzero(t * 2 + y == g)
        test[rng.choice(idx, round(len(idx) * test_size), replace=False)] = True
    xtr, xte, ytr, yte, ttr, tte = x[~test], x[test], y[~test], y[test], t[~test], t[test]
    rows, curves, scores = [], [], {}
    boots = [rng.integers(0, len(yte), len(yte)) for _ in range(bootstrap)]
    for name in learners:
        s = UpliftModel(name, seed).fit(xtr, ytr, ttr).predict(xte)
        scores[name] = s
        row = {"learner": name}
        for metric, fn in (("qini", qini_coefficient), ("auuc", auuc),
                           (f"uplift_at_{int(k * 100)}", lambda a, b, c: uplift_at_k(a, b, c, k))):
            row[metric] = fn(yte, s, tte)
            dist = np.array([fn(yte[b], s[b], tte[b]) for b in boots]) if bootstrap else np.array([np.nan])
            row[f"{metric}_low"], row[f"{metric}_high"] = np.nanpercentile(dist, [2.5, 97.5])
        rows.append(row)
        n, v = qini_curve(yte, s, tte)
        keep = np.unique(np.linspace(0, len(n) - 1, min(len(n), 200)).astype(int))
        curves.append(pd.DataFrame({"learner": name, "share_targeted": n[keep] / len(yte), "qini": v[keep]}))
    table = pd.DataFrame(rows).sort_values("qini", ascending=False, ignore_index=True)
    ate = yte[tte == 1].mean() - yte[tte == 0].mean()
    best = table.iloc[0]
    kk = f"uplift_at_{int(k * 100)}"
    findings = [
        Finding(f"{treated} vs {control} on {outcome}: average effect {ate:+.4f} on the test rows "
                f"({int(tte.sum()):,} treated, {int((1 - tte).sum()):,} control).", metric="ate", value=float(ate),
                impact=0.5),
        Finding(f"Best learner: {best.learner}, Qini coefficient {best.qini:.3f} ({best.qini_low:.3f} to "
                f"{best.qini_high:.3f}), AUUC {best.auuc:.3f}; targeting its top {k:.0%} gives uplift {best[kk]:+.4f} "
                f"({best[kk + '_low']:+.4f} to {best[kk + '_high']:+.4f}), against {ate:+.4f} for everyone.",
                metric="qini", value=float(best.qini), interval=(float(best.qini_low), float(best.qini_high)),
                impact=1.0)]
    if bootstrap and best.qini_low <= 0:
        findings.append(Finding(
            "No learner's Qini interval is clear of zero: no evidence that the effect differs between customers, "
            "so targeting by predicted uplift is not shown to beat treating everyone (or no one) on the average "
            "effect.", metric="qini", impact=0.9))
    tables = {"learners": table, "qini": pd.concat(curves, ignore_index=True)}
    params = {"source": _name(source), "treated": treated, "control": control, "outcome": outcome, "k": k,
              "bootstrap": bootstrap, "test_rows": int(test.sum()), "ate": float(ate), "best": best.learner,
              "features": list(x.columns), "categories": categories}
    if target is not None:
        tl = target_list(ws, frame, None, treatment_col=treatment_col, treated=treated, control=control,
                         outcome=outcome, id_col=target.id_col, value_col=target.value_col, top=target.top,
                         learner=best.learner, exclude=[c for c in exclude if c != target.id_col],
                         suppress_rule=target.suppress_rule, suppress_segments=target.suppress_segments,
                         consent=target.consent, seed=seed)
        findings += list(tl.findings)
        tables |= {"target_list": tl.to_frame("list"), "suppressed": tl.to_frame("suppressed")}
        params["target_list"] = tl.params
    return UpliftResult(tables=tables, findings=tuple(findings + screened), params=params)


@dataclass(frozen=True)
class UpliftFit:
    """An uplift learner fitted on every row of an experiment, to score other customers: the
    estimated uplift, and the probability of the outcome if treated (the treated arm's model)."""

    learner: str
    features: tuple[str, ...]
    categories: dict
    model: object  # a fitted target._uplift.UpliftModel
    treated_rows: int
    control_rows: int
    ate: float  # the observed difference in outcome rates, treated minus control

    def _x(self, frame: pd.DataFrame) -> pd.DataFrame:
        missing = [c for c in self.features if c not in frame.columns]
        if missing:
            raise MercatorError(f"the uplift model needs column(s) {', '.join(missing)}")
        return prepare_features(frame[list(self.features)], self.categories)[0]

    def uplift(self, frame: pd.DataFrame) -> np.ndarray:
        return self.model.predict(self._x(frame))

    def treated_probability(self, frame: pd.DataFrame) -> np.ndarray:
        return self.model.m1.predict_proba(self._x(frame))[:, 1]


def fit_uplift(frame: pd.DataFrame, *, treatment_col: str, treated: str, control: str, outcome: str,
               exclude: list[str] | tuple[str, ...] = (), learner: str = "x_learner", seed: int = 0,
               source: str = "experiment") -> UpliftFit:
    """Fit one uplift learner (``t_learner`` or ``x_learner``: both keep the treated arm's
    model) on every row of ``frame`` with ``treatment_col`` = ``treated`` or ``control``."""
    from mercator.target._uplift import UpliftModel

    if learner not in ("t_learner", "x_learner"):
        raise MercatorError(f"learner must be t_learner or x_learner (they model the treated arm); got {learner!r}")
    require_columns(frame.columns, [treatment_col, outcome], source)
    arm = frame[treatment_col].astype(str)
    exp = frame[arm.isin([treated, control])].reset_index(drop=True)
    t = (exp[treatment_col].astype(str) == treated).to_numpy(int)
    if t.sum() == 0 or (1 - t).sum() == 0:
        raise MercatorError(f"{source}: needs rows with {treatment_col} = {treated!r} and = {control!r} "
                            f"(values: {sorted(arm.unique())[:10]})")
    y = _binary(exp[outcome], None, source, outcome)
    x, categories, _notes = _features(exp.drop(columns=[treatment_col, outcome, *exclude]))
    model = UpliftModel(learner, seed).fit(x, y, t)
    return UpliftFit(learner=learner, features=tuple(x.columns), categories=categories, model=model,
                     treated_rows=int(t.sum()), control_rows=int((1 - t).sum()),
                     ate=float(y[t == 1].mean() - y[t == 0].mean()))


@dataclass(frozen=True)
class TargetList(Result):
    """The customers to treat, by expected incremental value, after suppression."""

    kind = "target_list"
    title = "Target list"


@dataclass(frozen=True)
class ListSpec:
    """What :func:`uplift` should also return as a target list (see :func:`target_list`)."""

    top: int = 1000
    id_col: str | None = None
    value_col: str | None = None
    suppress_rule: str | None = None
    suppress_segments: tuple[str, ...] = ()
    consent: str | None = None


def target_list(ws: Workspace | None, source: str, output: str | Path | None = None, *, treatment_col: str,
                treated: str,
                control: str, outcome: str, population: str | None = None, id_col: str | None = None,
                value_col: str | None = None, top: int = 1000, learner: str = "x_learner",
                exclude: list[str] | tuple[str, ...] = (), suppress_rule: str | None = None,
                suppress_segments: list[str] | tuple[str, ...] = (), consent: str | None = None,
                seed: int = 0, channel: str | None = None) -> TargetList:
    """The ``top`` customers by expected incremental value, after suppression, written to CSV.

    The ``learner`` is fitted on every experiment row, then scores ``population`` (default: the
    experiment's own rows). Expected incremental value = estimated uplift x ``value_col`` (or the
    uplift alone). Suppressed, in this order, with counts: rows matching ``suppress_rule`` (a
    pandas query, e.g. ``"recency > 12"``); customers in any of ``suppress_segments`` (segment
    names saved in the workspace's segment_members); customers whose ``consent`` column in the
    workspace's customers table is not true (missing consent counts as no).
    """
    from mercator.target._uplift import UpliftModel

    frame, not_features = experiment_rows(ws, source, channel=channel)
    exclude = [*exclude, *not_features]
    arm = frame[treatment_col].astype(str)
    exp = frame[arm.isin([treated, control])].reset_index(drop=True)
    t = (exp[treatment_col].astype(str) == treated).to_numpy(int)
    y = _binary(exp[outcome], None, _name(source), outcome)
    drop = [treatment_col, outcome, *exclude, *(c for c in (id_col,) if c)]
    x, categories, _notes = _features(exp.drop(columns=drop))
    model = UpliftModel(learner, seed).fit(x, y, t)
    pop = frame if population is None else read_table(ws, population)
    if id_col and id_col not in pop.columns:
        raise MercatorError(f"{population or _name(source)}: no id column {id_col!r}")
    px, _ = prepare_features(pop[list(x.columns)], categories)
    out = pd.DataFrame({id_col or "row": pop[id_col].to_numpy() if id_col else np.arange(len(pop)) + 2,
                        "uplift": model.predict(px)})
    out["expected_value"] = out["uplift"] * (pop[value_col].to_numpy(float) if value_col else 1.0)
    scored = len(out)
    keep = np.ones(scored, bool)
    counts = {}
    if suppress_rule:
        try:
            hit = pop.eval(suppress_rule).to_numpy(bool)
        except Exception as exc:
            raise MercatorError(f"suppress rule {suppress_rule!r} does not evaluate on {population or _name(source)}: "
                                f"{exc}") from exc
        counts[f"rule: {suppress_rule}"] = int((hit & keep).sum())
        keep &= ~hit
    out = out[keep]
    if suppress_segments or consent:
        if ws is None or not id_col:
            raise MercatorError("suppressing by segment or consent needs a workspace and --id-col (customer ids)")
        out, removed = eligible_frame(ws, out, id_col=id_col, purpose=consent, suppress_segments=suppress_segments)
        counts |= removed
    chosen = out.sort_values("expected_value", ascending=False, kind="stable").head(top)
    chosen = chosen.assign(rank=np.arange(1, len(chosen) + 1))
    if output is not None:
        write_csv(chosen, output)
    suppressed = pd.DataFrame({"rule": list(counts), "suppressed": list(counts.values())})
    text = (f"Target list: {len(chosen):,} of {scored:,} by expected incremental "
            f"{'value' if value_col else 'response'} ({learner}); expected total {chosen['expected_value'].sum():,.1f}"
            + (", suppressed " + "; ".join(f"{n:,} by {r}" for r, n in counts.items()) if counts else "")
            + (f". Written to {output}." if output is not None else "."))
    return TargetList(tables={"list": chosen, "suppressed": suppressed},
                  findings=(Finding(text, metric="expected_value", value=float(chosen["expected_value"].sum())),),
                  params={"output": str(output) if output is not None else None, "rows": len(chosen),
                              "learner": learner})
