"""Uplift in ``mercator.target``: experiments as rows with their pre-treatment features, uplift
learners compared on held-out rows, and the target list of whom to treat (the package
re-exports them). Propensity models are in ``_analysis``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from mercator.errors import MercatorError
from mercator.exports import write_csv
from mercator.frames import file_source, read_table, require_columns
from mercator.govern import eligible_frame, record_export
from mercator.results import Finding, Result
from mercator.target._analysis import _binary, _features, _name
from mercator.target._model import (
    prepare_features,
)
from mercator.workspace import Workspace


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

    if isinstance(source, pd.DataFrame) or ws is None or source in TABLES or file_source(source) is not None:
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
        record_export(ws, output, what="uplift target list", rows=len(chosen), purpose=consent)
    suppressed = pd.DataFrame({"rule": list(counts), "suppressed": list(counts.values())})
    text = (f"Target list: {len(chosen):,} of {scored:,} by expected incremental "
            f"{'value' if value_col else 'response'} ({learner}); expected total {chosen['expected_value'].sum():,.1f}"
            + (", suppressed " + "; ".join(f"{n:,} by {r}" for r, n in counts.items()) if counts else "")
            + (f". Written to {output}." if output is not None else "."))
    return TargetList(tables={"list": chosen, "suppressed": suppressed},
                  findings=(Finding(text, metric="expected_value", value=float(chosen["expected_value"].sum())),),
                  params={"output": str(output) if output is not None else None, "rows": len(chosen),
                              "learner": learner})
