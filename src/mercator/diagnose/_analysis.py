"""The public analyses of ``mercator.diagnose`` (the package re-exports them)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from mercator.diagnose._decompose import decompose, explaining_set
from mercator.errors import MercatorError
from mercator.metrics import AD_DIMENSIONS, Period, kpi, label, part_frame
from mercator.results import Finding, Result
from mercator.workspace import Workspace


@dataclass(frozen=True)
class Diagnosis(Result):
    """A KPI change between two periods, split by segment into mix and rate effects."""

    kind = "diagnosis"
    title = "Why the KPI changed"
    headline = ("segments", "drill_down")

    def figures(self) -> list:
        seg = self.to_frame("segments")
        if seg.empty:
            return []
        p = self.params
        top = seg.head(8)
        rest = float(seg["contribution"].iloc[8:].sum())
        names = [f"{r.dimension}={r.segment}" for r in top.itertuples()] + (["other segments"] if len(seg) > 8 else [])
        values = list(top["contribution"]) + ([rest] if len(seg) > 8 else [])
        fig = go.Figure(go.Waterfall(
            x=["baseline", *names, "current"], measure=["absolute", *["relative"] * len(values), "total"],
            y=[p["baseline_value"], *values, p["current_value"]]))
        fig.update_layout(title=f"{p['metric']}: baseline to current, by {p['dimension']}", height=420,
                          showlegend=False)
        return [fig]


def _concentration(seg: pd.DataFrame, k, n: int) -> float:
    """The baseline volume share of the ``n`` leading segments (smaller: a more specific cause)."""
    col = f"{k.den or k.num}_0"
    total = float(seg[col].sum())
    return float(seg[col].iloc[:n].sum()) / total if total else 1.0


def root_cause(candidates: dict[tuple[str, ...], pd.DataFrame], k, cover: float = 0.8) -> tuple[str, ...]:
    """The dimension (or pair) whose fewest segments explain ``cover`` of the change.

    Ties go to the candidate whose explaining segments are the smallest part of the baseline
    (mobile x US explains as much as mobile, but is more specific), then to a single dimension,
    then to the larger top share.
    """
    def score(key: tuple[str, ...]) -> tuple:
        seg = candidates[key]
        n = explaining_set(seg, cover)
        top = -float(seg["share"].fillna(0).iloc[0]) if len(seg) else 0.0
        return n, round(_concentration(seg, k, n), 3), len(key), top
    return min(candidates, key=score)


def _segment_label(row, key: tuple[str, ...]) -> str:
    return " / ".join(label(getattr(row, d) if not isinstance(row, pd.Series) else row[d]) for d in key)


def diagnose(ws: Workspace, metric: str, current: Period | str, baseline: Period | str | None = None, *,
             dims: tuple[str, ...] | list[str] = AD_DIMENSIONS, cover: float = 0.8, pairs: int = 4) -> Diagnosis:
    """Decompose the change of ``metric`` from ``baseline`` (default: the period before) to ``current``.

    Every dimension is decomposed, and every pair of the ``pairs`` most telling dimensions. The
    root cause is the dimension or pair in which the fewest segments explain ``cover`` of the
    change (see ``root_cause``); its leading segment is then split again by the other
    dimensions (one level down the tree).
    """
    k = kpi(metric)
    current = Period.parse(current) if isinstance(current, str) else current
    baseline = (Period.parse(baseline) if isinstance(baseline, str) else baseline) or current.previous()
    dims = [d for d in dims if ws.table(k.table).schema().get(d) is not None]
    if not dims:
        raise MercatorError(f"none of the dimensions exist in {k.table}")

    def split(by: tuple[str, ...]) -> pd.DataFrame:
        b = part_frame(ws, [metric], by=list(by), period=baseline, table=k.table)
        c = part_frame(ws, [metric], by=list(by), period=current, table=k.table)
        return decompose(b, c, list(by), k)

    candidates = {(d,): split((d,)) for d in dims}
    candidates = {key: f for key, f in candidates.items() if len(f) > 1}
    if not candidates:
        raise MercatorError("every dimension has a single value in these periods; nothing to decompose")
    singles = sorted(candidates, key=lambda key: (explaining_set(candidates[key], cover),
                                                  _concentration(candidates[key], k, 1)))[:pairs]
    for i, a in enumerate(singles):
        for b in singles[i + 1:]:
            pair = tuple(d for d in dims if d in a + b)  # in the caller's order
            candidates[pair] = split(pair)
    best = root_cause(candidates, k, cover)
    seg = candidates[best]
    name = "+".join(best)
    v0, v1, change = seg.attrs["total_0"], seg.attrs["total_1"], seg.attrs["change"]
    all_segments = pd.DataFrame([
        {"dimension": "+".join(key), "segment": _segment_label(r, key), "value_0": r.value_0, "value_1": r.value_1,
         "mix": r.mix, "rate": r.rate, "contribution": r.contribution, "share": r.share}
        for key, f in candidates.items() for r in f.itertuples()])
    top = seg.iloc[0]
    where = {d: top[d] for d in best}
    # one level down the tree: inside the leading segment, which other dimension explains it?
    drill_rows = []
    for d in dims:
        if d in best:
            continue
        b = _filtered_frame(ws, metric, d, baseline, where, k.table)
        c = _filtered_frame(ws, metric, d, current, where, k.table)
        if len(b) + len(c) < 2:
            continue
        f = decompose(b, c, d, k)
        if len(f) > 1:
            drill_rows += [{"dimension": d, "segment": label(getattr(r, d)), "contribution": r.contribution,
                            "share": r.share} for r in f.head(5).itertuples()]
    segments = all_segments[all_segments.dimension == name].reset_index(drop=True)
    n_explain = explaining_set(seg, cover)
    fmt = k.format
    direction = "rose" if change > 0 else "fell"
    top_name = f"{name}={_segment_label(top, best)}"
    findings = [Finding(
        f"{k.label} {direction} from {fmt(v0)} to {fmt(v1)} ({_delta(k, change)}) between {baseline} and {current}. "
        f"{top_name} explains {top['share']:.0%} of the change "
        f"(rate effect {_delta(k, top['rate'])}, mix effect {_delta(k, top['mix'])})"
        + (f"; {n_explain} segment(s) of {name} explain {cover:.0%} of it." if n_explain <= len(seg) else "."),
        metric=metric, segment=top_name, value=float(top["share"]),
        impact=abs(float(top["share"])) if np.isfinite(top["share"]) else 0.0)]
    for r in segments.iloc[1:4].itertuples():
        if np.isfinite(r.share) and abs(r.share) >= 0.05:
            findings.append(Finding(f"{name}={r.segment}: {r.share:.0%} of the change ({_delta(k, r.contribution)}).",
                                    metric=metric, segment=f"{name}={r.segment}", value=float(r.share),
                                    impact=abs(float(r.share)) / 2))
    return Diagnosis(
        tables={"segments": segments, "all_segments": all_segments, "drill_down": pd.DataFrame(drill_rows),
                "dimensions": pd.DataFrame([{"dimension": "+".join(key),
                                             "segments_to_explain": explaining_set(f, cover),
                                             "top_segment": _segment_label(f.iloc[0], key),
                                             "top_share": f["share"].iloc[0]} for key, f in candidates.items()])},
        findings=tuple(findings),
        params={"metric": metric, "current": str(current), "baseline": str(baseline), "dimension": name,
                "baseline_value": v0, "current_value": v1, "change": change, "cover": cover})


def _filtered_frame(ws: Workspace, metric: str, dim: str, period: Period, where: dict[str, object],
                    table: str) -> pd.DataFrame:
    """Part sums by ``dim`` within one segment (``where``: dimension -> value; None is null)."""
    from mercator.metrics import part_sums, prepared

    t = prepared(ws.table(table), table)
    for col, value in where.items():
        t = t.filter(t[col].isnull() if value is None else t[col] == value)
    t = t.filter((t.date >= period.start) & (t.date <= period.end))
    return t.group_by(dim).aggregate(**part_sums(t, [metric])).to_pandas()


def _delta(k, value: float) -> str:
    if value is None or not np.isfinite(value):
        return "n/a"
    if "%" in k.fmt:
        return f"{value * 100:+.2f} pts"
    return ("+" if value >= 0 else "-") + k.fmt.format(abs(value))
