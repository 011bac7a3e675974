"""Driver regression: what moves CPC, clicks or conversions, and by how much (issue 8).

``drivers(ws, "cpc")`` builds one row per period and segment in the engine (spend, the KPI's
parts, the share of spend on each channel and device level not already a segment, and any
columns of the user's own data such as bids), adds the calendar (day of week, month), and
fits gradient boosting and a regularized linear model compared by time-ordered
cross-validation (``_drivers`` holds that pure part). The result says which model predicts
the KPI better than the per-segment mean and how the KPI moves with each driver (partial
dependence), ranked by permutation importance. docs/forecast.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mercator.errors import MercatorError
from mercator.forecast._drivers import (
    CALENDAR,
    DAY_NAMES,
    MODELS,
    Design,
    cross_validate,
    dependence,
    effect,
    fit_model,
    importance,
    make_model,
    summarize,
)
from mercator.metrics import KPI, kpi
from mercator.results import Finding, Result, number

#: Dimensions whose spend mix becomes a driver when they are not a segment of the rows.
MIX = ("channel", "device")
#: Levels per mix dimension (by spend); the rest share what the listed ones leave.
MIX_LEVELS = 6
#: A model predicts only if it cuts the per-segment mean's error by more than this (2%): less is
#: within what the folds' noise moves (the same bar as a driver's importance below).
MIN_GAIN = 0.02
#: Rows the partial dependence averages over (a seeded sample; the curves barely move beyond).
PD_ROWS = 3000


@dataclass(frozen=True)
class DriversResult(Result):
    """The models compared (time-ordered CV), the drivers ranked by permutation importance,
    and how the KPI moves with each (partial dependence)."""

    kind = "drivers"
    title = "What moves the KPI: driver regression"
    headline = ("models", "importance")

    def figures(self) -> list:
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        dep, imp = self.tables.get("dependence"), self.tables.get("importance")
        if dep is None or dep.empty:
            return []
        top = [f for f in imp.feature if f in set(dep.feature)][:6]
        fig = make_subplots(rows=(len(top) + 1) // 2, cols=2, subplot_titles=[_name(f) for f in top])
        colors = {"lightgbm": "#1f77b4", "ridge": "#ff7f0e"}
        for i, f in enumerate(top):
            for m in MODELS:
                g = dep[(dep.feature == f) & (dep.model == m)]
                kw = {"name": m, "legendgroup": m, "showlegend": i == 0, "marker_color": colors[m]}
                if bool(g.categorical.iloc[0]):
                    fig.add_bar(x=g.value, y=g.prediction, row=i // 2 + 1, col=i % 2 + 1, **kw)
                else:
                    fig.add_scatter(x=g.value, y=g.prediction, mode="lines", line_color=colors[m],
                                    row=i // 2 + 1, col=i % 2 + 1, **{k: v for k, v in kw.items()
                                                                    if k != "marker_color"})
        fig.update_layout(title=f"How {self.params.get('target')} moves with each driver (partial dependence)",
                          height=280 * ((len(top) + 1) // 2), barmode="group")
        cv = self.tables["cv"]
        bars = go.Figure([go.Bar(x=g.fold, y=g.mae, name=m) for m, g in cv.groupby("model", sort=False)])
        bars.update_layout(title="Mean absolute error per time-ordered fold (lower is better)", barmode="group",
                           xaxis_title="fold (each trained on the periods before it)", height=320)
        return [fig, bars]


def _name(feature: str) -> str:
    """A driver's name for people: ``share:device:mobile`` is the share of spend on mobile."""
    if feature.startswith("share:"):
        _, dim, level = feature.split(":", 2)
        return f"share of spend on {level} ({dim})"
    return feature.replace("_", " ")


def _levels(t, dim: str, spend: str) -> list[str]:
    top = t.group_by(dim).aggregate(s=t[spend].sum()).order_by(lambda x: x.s.desc()).limit(MIX_LEVELS)
    return [v for v in top.to_pandas()[dim] if v is not None]


def driver_frame(data, k: KPI, *, by: tuple[str, ...], freq: str = "D", date_col: str = "date",
                 spend_col: str = "cost", features: tuple[str, ...] = (), ws=None
                 ) -> tuple[pd.DataFrame, Design, str]:
    """One row per period and ``by`` segment, aggregated in the engine: the KPI's parts as
    ``num``/``den``, ``spend``, the spend share of each level of the mix dimensions that are
    not segments, and the mean of each of ``features`` (the user's own drivers, such as bids);
    then the calendar. Returns the frame, its design and the data's name (for errors)."""
    from mercator.frames import engine_table, require_columns

    if freq not in ("D", "W"):
        raise MercatorError(f"freq must be D or W, not {freq!r}")
    t, name = engine_table(data if data is not None else "ad_performance", ws)
    require_columns(t.columns, [date_col, k.num, k.den, spend_col, *by, *features], name)
    day = t[date_col].cast("date")
    period = (day if freq == "D" else day.truncate("W")).name("period")
    spend = t[spend_col].cast("float64")
    total = spend.sum()
    aggs = {"num": t[k.num].cast("float64").sum().fill_null(0), "spend": total.fill_null(0)}
    if k.den:
        aggs["den"] = t[k.den].cast("float64").sum().fill_null(0)
    shares = []
    for dim in (m for m in MIX if m in t.columns and m not in by):
        for level in _levels(t, dim, spend_col):
            col = f"share:{dim}:{level}"
            aggs[col] = (spend.sum(where=t[dim] == level) / total.nullif(0)).fill_null(0)
            shares.append(col)
    for f in features:
        aggs[f] = t[f].cast("float64").mean()
    frame = t.group_by([period, *(t[b].cast("string").name(b) for b in by)]).aggregate(**aggs).to_pandas()
    if frame.empty:
        raise MercatorError(f"{name}: no rows")
    frame["period"] = pd.to_datetime(frame["period"])
    frame = frame.sort_values(["period", *by], ignore_index=True)
    empty = frame[list(features)].isna().any(axis=1) if features else pd.Series(False, index=frame.index)
    if empty.any():
        r = frame[empty].iloc[0]
        where = ", ".join([str(r.period.date()), *(f"{b}={r[b]}" for b in by)])
        raise MercatorError(f"{name}: feature(s) {', '.join(f for f in features if pd.isna(r[f]))} are empty for "
                            f"{int(empty.sum())} period/segment rows (first: {where})")
    frame[list(by)] = frame[list(by)].fillna("(not set)")
    calendar = ["month"] if freq == "W" else list(CALENDAR)
    if "day_of_week" in calendar:
        frame["day_of_week"] = np.array(DAY_NAMES)[frame.period.dt.dayofweek]
    frame["month"] = frame.period.dt.month.astype(str).str.zfill(2)
    return frame, Design(spend=("spend",), numeric=(*shares, *features), categorical=(*by, *calendar)), name


def drivers(ws=None, target: str = "cpc", *, data=None, by: tuple[str, ...] | list[str] | str = ("channel", "device"),
            features: tuple[str, ...] | list[str] = (), freq: str = "D", date_col: str = "date",
            spend_col: str = "cost", n_splits: int = 5, seed: int = 0,
            progress: Callable[[str], None] | None = None) -> DriversResult:
    """Which drivers move ``target`` (a KPI of ad_performance: cpc, clicks, conversions, cpa,
    ctr...) and how: LightGBM against ridge by time-ordered CV over ``n_splits`` folds, partial
    dependence and permutation importance of each driver. Rows are per period (``freq``) and
    ``by`` segment, from the workspace's ad_performance or ``data`` (a file, frame or table with
    the same columns); ``features`` adds columns of ``data`` (such as bids, averaged per row).
    ``progress(text)`` hears each step."""
    say = progress or (lambda _text: None)
    say("building the driver rows in the engine")
    k = kpi(target)
    if k.table != "ad_performance":
        raise MercatorError(f"{target} is counted from {k.table}; driver regression reads ad_performance KPIs "
                            "(cpc, clicks, conversions, cpa, ctr, cvr, roas...)")
    by = (by,) if isinstance(by, str) else tuple(by)
    frame, design, name = driver_frame(data, k, by=by, freq=freq, date_col=date_col, spend_col=spend_col,
                                       features=tuple(features), ws=ws)
    frame["y"] = k.from_parts(frame.num, frame.den) if k.is_ratio else frame.num
    frame = frame[np.isfinite(frame.y)].reset_index(drop=True)  # a ratio without denominator says nothing
    weight = frame.den.to_numpy(float) if k.is_ratio else np.ones(len(frame))
    n_periods = frame.period.nunique()
    if n_periods < 4 * (n_splits + 1) or len(frame) < 50:
        raise MercatorError(f"{name}: {len(frame)} rows over {n_periods} periods; {n_splits} time-ordered folds "
                            f"need at least {4 * (n_splits + 1)} periods and 50 rows (use fewer --splits or "
                            "daily data)")
    y = frame.y.to_numpy(float)
    say(f"comparing lightgbm and ridge over {n_splits} time-ordered folds")
    cv, last = cross_validate(frame, y, weight, design, frame.period, n_splits, list(by), seed)
    models = summarize(cv)
    chosen = str(models.loc[models.chosen, "model"].iloc[0])
    test = last["test"]
    say("permutation importance and partial dependence")
    imp = importance(last[chosen], frame.loc[test, design.features], y[test], weight[test], seed)
    X = frame[design.features]
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(len(frame), min(PD_ROWS, len(frame)), replace=False))
    dep = []
    for m in MODELS:
        pipe = fit_model(make_model(m, design, seed), X, y, weight, design)
        dep.append(dependence(pipe, X.iloc[sample], weight[sample], design, design.features).assign(model=m))
    dep = pd.concat(dep, ignore_index=True)
    effects = pd.DataFrame([{**effect(dep[dep.model == m], frame, weight, f), "model": m}
                            for f in imp.feature for m in MODELS])
    params = {"target": target, "by": list(by), "freq": freq, "n_splits": n_splits, "features": design.features,
              "chosen": chosen, "rows": len(frame), "periods": int(n_periods),
              "bids": "given" if any("bid" in f.lower() for f in features) else
              "not in the data (ad_performance has no bids; pass your own with features)"}
    return DriversResult(tables={"models": models, "cv": cv, "importance": imp, "dependence": dep,
                                 "effects": effects.drop(columns=["levels"], errors="ignore")},
                         findings=tuple(_findings(models, imp, effects, k, chosen, by, freq)), params=params)


def _v(k: KPI, x: float) -> str:
    """A KPI value for a sentence: its own format for percentages, else 3 significant digits
    (CPC 0.0437, not 0.04)."""
    return k.format(x) if "%" in k.fmt else number(x)


def _findings(models: pd.DataFrame, imp: pd.DataFrame, effects: pd.DataFrame, k: KPI, chosen: str,
              by: tuple[str, ...], freq: str) -> list[Finding]:
    s = models.set_index("model")
    best, other = s.loc[chosen], s.loc[next(m for m in MODELS if m != chosen)]
    n = int(s.loc[list(MODELS), "wins"].sum())  # each fold has one winner
    seg = f"per-{'/'.join(by)} mean" if by else "overall mean"
    if best.rel_mae > 1 - MIN_GAIN:
        out = [Finding(f"No driver model predicts {k.label} better than the {seg} in time-ordered cross-validation "
                       f"({n} folds): {chosen}'s error {_v(k, best.mae)} against {_v(k, s.loc['segment_mean', 'mae'])} "
                       f"(a model must be {MIN_GAIN:.0%} better). The drivers below describe the past but do not "
                       "forecast it.", metric=k.name,
                       value=float(best.mae), impact=1e9)]
    else:
        out = [Finding(f"{chosen} predicts {k.label} with a mean absolute error of {_v(k, best.mae)} per "
                       f"{'day' if freq == 'D' else 'week'}{' and segment' if by else ''} in time-ordered cross-validation ({n} folds, "
                       f"each trained on earlier periods only): {100 * (1 - best.mae / other.mae):.0f}% below "
                       f"{other.name}'s {_v(k, other.mae)} and {100 * (1 - best.rel_mae):.0f}% below the {seg}'s.", metric=k.name, value=float(best.mae), impact=1e9)]
    base = float(s.loc[chosen, "mae"])
    per = "day" if freq == "D" else "week"
    for r in imp.itertuples():
        if r.importance <= max(2 * r.std, MIN_GAIN * base):  # shuffled, it barely hurts: not a driver here
            continue
        e = effects[(effects.feature == r.feature) & (effects.model == chosen)].iloc[0]
        o = effects[(effects.feature == r.feature) & (effects.model != chosen)].iloc[0]
        out.append(Finding(f"{_sentence(e, k, per, bool(by))} ({chosen}; {o.model} says {_v(k, o.at_low)} to "
                           f"{_v(k, o.at_high)}). Shuffled, it raises the error by {_v(k, r.importance)}.",
                           metric=k.name, segment=r.feature, value=float(e.at_high - e.at_low),
                           impact=float(r.importance)))
    return out


def _sentence(e: pd.Series, k: KPI, per: str, segmented: bool) -> str:
    f = _name(e.feature)
    if e.kind == "categorical":
        levels = sorted(e.levels.items(), key=lambda kv: -kv[1])
        shown = ", ".join(f"{lv} {_v(k, v)}" for lv, v in levels[:6]) + (", ..." if len(levels) > 6 else "")
        ratio = f" ({e.at_high / e.at_low:.2f}x)" if e.at_low > 0 else ""
        return (f"{k.label} by {f}: highest at {e.high} ({_v(k, e.at_high)}), lowest at {e.low} "
                f"({_v(k, e.at_low)}){ratio}; {shown}")
    unit = f"per {per}" + (" and segment" if segmented else "")
    if e.feature == "spend":
        el = f", {e.elasticity:+.2f}% per 1% more spend" if np.isfinite(e.elasticity) else ""
        return (f"{k.label} from {_v(k, e.at_low)} to {_v(k, e.at_high)} as spend goes from {number(e.low)} to "
                f"{number(e.high)} {unit}{el}")
    span = (f"{e.low:.0%} to {e.high:.0%}" if e.feature.startswith("share:") else
            f"{number(e.low)} to {number(e.high)}")
    return f"{k.label} from {_v(k, e.at_low)} to {_v(k, e.at_high)} as the {f} goes from {span}"


__all__ = ["DriversResult", "driver_frame", "drivers"]
