"""Diagnose: why did it happen? Root cause of a KPI change, correlations, funnels, cohorts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from mercator.diagnose._cohorts import Cohorts, cohorts
from mercator.diagnose._correlate import Correlations, correlations
from mercator.diagnose._decompose import decompose, explaining_set
from mercator.diagnose._funnel import Funnel, funnel
from mercator.errors import MercatorError
from mercator.explore._frames import AD_DIMENSIONS, Period, label, part_frame
from mercator.metrics import kpi
from mercator.results import Finding, Result
from mercator.workspace import Workspace

__all__ = ["Cohorts", "Correlations", "Diagnosis", "Funnel", "cohorts", "correlations", "decompose", "diagnose",
           "funnel", "root_cause"]


@dataclass(frozen=True)
class Diagnosis(Result):
    """A KPI change between two periods, split by segment into mix and rate effects."""

    kind = "diagnosis"
    title = "Why the KPI changed"

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


def root_cause(by_dim: dict[str, pd.DataFrame], cover: float = 0.8) -> str:
    """The dimension whose fewest segments explain ``cover`` of the change (ties: larger top share)."""
    def score(d: str) -> tuple:
        seg = by_dim[d]
        return (explaining_set(seg, cover), -float(seg["share"].fillna(0).iloc[0]) if len(seg) else 0.0)
    return min(by_dim, key=score)


def diagnose(ws: Workspace, metric: str, current: Period | str, baseline: Period | str | None = None, *,
             dims: tuple[str, ...] | list[str] = AD_DIMENSIONS, cover: float = 0.8) -> Diagnosis:
    """Decompose the change of ``metric`` from ``baseline`` (default: the period before) to ``current``.

    Every dimension is decomposed; the root cause is the dimension in which the fewest
    segments explain ``cover`` of the change, and its leading segment is then split again
    by the other dimensions (one level down the tree).
    """
    k = kpi(metric)
    current = Period.parse(current) if isinstance(current, str) else current
    baseline = (Period.parse(baseline) if isinstance(baseline, str) else baseline) or current.previous()
    dims = [d for d in dims if ws.table(k.table).schema().get(d) is not None]
    if not dims:
        raise MercatorError(f"none of the dimensions exist in {k.table}")
    frames = {}
    for d in dims:
        b = part_frame(ws, [metric], by=[d], period=baseline, table=k.table)
        c = part_frame(ws, [metric], by=[d], period=current, table=k.table)
        frames[d] = decompose(b, c, d, k)
    informative = {d: f for d, f in frames.items() if len(f) > 1}
    if not informative:
        raise MercatorError("every dimension has a single value in these periods; nothing to decompose")
    best = root_cause(informative, cover)
    seg = frames[best]
    v0, v1, change = seg.attrs["total_0"], seg.attrs["total_1"], seg.attrs["change"]
    rows = []
    for d, f in informative.items():
        for r in f.itertuples():
            rows.append({"dimension": d, "segment": label(getattr(r, d)), "value_0": r.value_0, "value_1": r.value_1,
                         "mix": r.mix, "rate": r.rate, "contribution": r.contribution, "share": r.share})
    all_segments = pd.DataFrame(rows)
    top = seg.iloc[0]
    top_value = top[best]
    # one level down the tree: inside the leading segment, which other dimension explains it?
    drill_rows = []
    for d in dims:
        if d == best:
            continue
        b = _filtered_frame(ws, metric, d, baseline, (best, top_value), k.table)
        c = _filtered_frame(ws, metric, d, current, (best, top_value), k.table)
        if len(b) + len(c) < 2:
            continue
        f = decompose(b, c, d, k)
        if len(f) > 1:
            drill_rows += [{"dimension": d, "segment": label(getattr(r, d)), "contribution": r.contribution,
                            "share": r.share} for r in f.head(5).itertuples()]
    segments = all_segments[all_segments.dimension == best].reset_index(drop=True)
    n_explain = explaining_set(seg, cover)
    fmt = k.format
    direction = "rose" if change > 0 else "fell"
    findings = [Finding(
        f"{k.label} {direction} from {fmt(v0)} to {fmt(v1)} ({_delta(k, change)}) between {baseline} and {current}. "
        f"{best}={label(top_value)} explains {top['share']:.0%} of the change "
        f"(rate effect {_delta(k, top['rate'])}, mix effect {_delta(k, top['mix'])})"
        + (f"; {n_explain} segment(s) of {best} explain {cover:.0%} of it." if n_explain <= len(seg) else "."),
        metric=metric, segment=f"{best}={label(top_value)}", value=float(top["share"]),
        impact=abs(float(top["share"])) if np.isfinite(top["share"]) else 0.0)]
    for r in segments.iloc[1:4].itertuples():
        if np.isfinite(r.share) and abs(r.share) >= 0.05:
            findings.append(Finding(f"{best}={r.segment}: {r.share:.0%} of the change ({_delta(k, r.contribution)}).",
                                    metric=metric, segment=f"{best}={r.segment}", value=float(r.share),
                                    impact=abs(float(r.share)) / 2))
    return Diagnosis(
        tables={"segments": segments, "all_segments": all_segments, "drill_down": pd.DataFrame(drill_rows),
                "dimensions": pd.DataFrame([{"dimension": d, "segments_to_explain": explaining_set(f, cover),
                                             "top_segment": label(f[d].iloc[0]), "top_share": f["share"].iloc[0]}
                                            for d, f in informative.items()])},
        findings=tuple(findings),
        params={"metric": metric, "current": str(current), "baseline": str(baseline), "dimension": best,
                "baseline_value": v0, "current_value": v1, "change": change, "cover": cover})


def _filtered_frame(ws: Workspace, metric: str, dim: str, period: Period, where: tuple[str, object],
                    table: str) -> pd.DataFrame:
    """Part sums by ``dim`` within one segment (``where`` = (dimension, value); None is null)."""
    from mercator.metrics import part_sums, prepared

    t = prepared(ws.table(table), table)
    col, value = where
    t = t.filter(t[col].isnull() if value is None else t[col] == value)
    t = t.filter((t.date >= period.start) & (t.date <= period.end))
    return t.group_by(dim).aggregate(**part_sums(t, [metric])).to_pandas()


def _delta(k, value: float) -> str:  # noqa: ANN001
    if value is None or not np.isfinite(value):
        return "n/a"
    if "%" in k.fmt:
        return f"{value * 100:+.2f} pts"
    return ("+" if value >= 0 else "-") + k.fmt.format(abs(value))
