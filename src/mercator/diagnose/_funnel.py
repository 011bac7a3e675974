"""Funnels from ``events``: ordered steps within a conversion window, computed in the engine.

A user enters the funnel at their first step-1 event in the period. Step k counts when a
step-k event follows the user's step k-1 time and falls within ``window`` of entering.
Each step is one join of the users still in the funnel with that step's events, then a
per-user minimum: millions of events stay in the engine; only counts come back.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import ibis
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportions_ztest

from mercator.errors import MercatorError
from mercator.metrics import Period, label
from mercator.results import Finding, Result
from mercator.workspace import Workspace

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_window(text: str | int) -> int:
    """``30m``, ``24h``, ``7d``, ``2w`` (or seconds) as seconds."""
    if isinstance(text, int):
        return text
    m = re.fullmatch(r"\s*(\d+)\s*([smhdw])\s*", str(text))
    if not m:
        raise MercatorError(f"window {text!r} is not a number with a unit (s, m, h, d, w), e.g. 7d")
    return int(m.group(1)) * _UNITS[m.group(2)]


@dataclass(frozen=True)
class Funnel(Result):
    kind = "funnel"
    title = "Funnel"
    headline = ("steps", "step_tests")

    def figures(self) -> list:
        steps = self.to_frame("steps")
        if steps.empty:
            return []
        fig = go.Figure(go.Funnel(y=steps["step"], x=steps["users"], textinfo="value+percent initial"))
        fig.update_layout(title="Funnel: users reaching each step", height=380)
        figs = [fig]
        seg = self.to_frame("by_segment")
        if not seg.empty:
            f2 = go.Figure()
            for s, g in seg.groupby("segment", sort=False):
                f2.add_scatter(x=g["step"], y=g["conversion_from_first"], mode="lines+markers", name=str(s))
            f2.update_layout(title=f"Conversion from the first step, by {self.params.get('by')}", yaxis_tickformat=".0%",
                             height=380)
            figs.append(f2)
        return figs


def _reach(ws: Workspace, steps: list[str], window_s: int, by: str | None, period: Period | None) -> pd.DataFrame:
    e = ws.table("events")
    if period is not None:
        e = e.filter((e.ts >= ibis.timestamp(f"{period.start} 00:00:00"))
                     & (e.ts < ibis.timestamp(f"{period.end} 00:00:00") + ibis.interval(days=1)))
    e = e.filter(e.event_name.isin(steps))
    s0 = e.filter(e.event_name == steps[0])
    aggs = {"t0": s0.ts.min()}
    if by is not None:
        aggs["segment"] = s0[by].argmin(s0.ts)
    cur = s0.group_by("user_id").aggregate(**aggs)
    for i, step in enumerate(steps[1:], start=1):
        ev = e.filter(e.event_name == step).select(u=e.user_id, ts_i=e.ts)
        j = cur.inner_join(ev, [cur.user_id == ev.u, ev.ts_i >= cur[f"t{i - 1}"],
                                ev.ts_i <= cur.t0 + ibis.interval(seconds=window_s)])
        nxt = j.group_by(u2=j.user_id).aggregate(**{f"t{i}": j.ts_i.min()})
        cur = cur.left_join(nxt, cur.user_id == nxt.u2).drop("u2")
    last = f"t{len(steps) - 1}"
    seconds = (cur[last].epoch_seconds() - cur.t0.epoch_seconds()).cast("float64")
    keys = ["segment"] if by is not None else []
    grouped = cur.group_by(keys) if keys else cur
    out = grouped.aggregate(**{f"n{i}": cur[f"t{i}"].count() for i in range(len(steps))},
                            median_seconds=seconds.median())
    return out.to_pandas()


def funnel(ws: Workspace, steps: list[str] | tuple[str, ...], *, window: str | int = "7d", by: str | None = None,
           period: Period | str | None = None, alpha: float = 0.05) -> Funnel:
    """Users reaching each of ``steps`` in order within ``window`` of the first, optionally by segment.

    With ``by`` (an events column such as device or channel, taken from the user's first
    step-1 event), each step's conversion is compared across segments (chi-square) and each
    segment against the rest (two-proportion z-test, Benjamini-Hochberg across segments and
    steps).
    """
    steps = list(steps)
    if len(steps) < 2:
        raise MercatorError("a funnel needs at least two steps")
    period = Period.parse(period) if isinstance(period, str) else period
    window_s = parse_window(window)
    overall = _reach(ws, steps, window_s, None, period)
    counts = [int(overall[f"n{i}"].iloc[0]) if len(overall) else 0 for i in range(len(steps))]
    table = pd.DataFrame({"step": steps, "users": counts})
    table["conversion_from_previous"] = table["users"] / table["users"].shift(1).where(lambda s: s > 0)
    table["conversion_from_first"] = table["users"] / (counts[0] or np.nan)
    table["drop_off"] = 1 - table["conversion_from_previous"]
    med = overall["median_seconds"].iloc[0] if len(overall) else None
    findings = []
    if counts[0]:
        worst = table.iloc[1:].sort_values("conversion_from_previous").iloc[0]
        findings.append(Finding(
            f"{counts[-1]:,} of {counts[0]:,} users ({counts[-1] / counts[0]:.1%}) went from {steps[0]} to {steps[-1]} "
            f"within {window}; the largest drop-off is into {worst.step} ({worst.drop_off:.0%} lost)"
            + (f"; median time to convert {_duration(med)}." if med is not None and not math.isnan(med) else "."),
            metric="conversion", value=counts[-1] / counts[0], impact=float(worst.drop_off)))
    tables = {"steps": table}
    if by is not None:
        seg = _reach(ws, steps, window_s, by, period)
        seg["segment"] = seg["segment"].map(label)
        seg = seg.sort_values("segment", ignore_index=True)  # the engine returns groups in no set order
        rows, tests, pair_rows = [], [], []
        for r in seg.itertuples():
            for i, step in enumerate(steps):
                n, prev = getattr(r, f"n{i}"), getattr(r, f"n{i - 1}") if i else None
                rows.append({"segment": r.segment, "step": step, "users": n,
                             "conversion_from_previous": n / prev if prev else np.nan,
                             "conversion_from_first": n / r.n0 if r.n0 else np.nan,
                             "median_seconds_to_last_step": r.median_seconds})
        for i in range(1, len(steps)):
            reached, prev = seg[f"n{i}"].to_numpy(float), seg[f"n{i - 1}"].to_numpy(float)
            ok = prev > 0
            if ok.sum() >= 2:
                cont = np.column_stack([reached[ok], prev[ok] - reached[ok]])
                chi2, p = stats.chi2_contingency(cont)[:2] if (cont.sum(axis=0) > 0).all() else (np.nan, np.nan)
                tests.append({"step": steps[i], "chi2": chi2, "p_value": p})
            for j in np.flatnonzero(ok):
                rest_n, rest_prev = reached.sum() - reached[j], prev.sum() - prev[j]
                if rest_prev <= 0:
                    continue
                pooled = (reached[j] + rest_n) / (prev[j] + rest_prev)
                # all continue or none do: no difference to test (the z statistic would be 0/0)
                p = proportions_ztest([reached[j], rest_n], [prev[j], rest_prev])[1] if 0 < pooled < 1 else 1.0
                pair_rows.append({"step": steps[i], "segment": seg["segment"].iloc[j],
                                  "conversion": reached[j] / prev[j], "rest_conversion": rest_n / rest_prev,
                                  "p_value": p})
        pairs = pd.DataFrame(pair_rows)
        if len(pairs):
            pvals = pairs["p_value"].fillna(1.0).to_numpy()
            pairs["significant"], pairs["p_adjusted"] = multipletests(pvals, alpha=alpha, method="fdr_bh")[:2]
            for r in pairs[pairs.significant].itertuples():
                gap = r.conversion - r.rest_conversion
                findings.append(Finding(
                    f"{by}={r.segment}: {r.conversion:.1%} continue into {r.step} vs {r.rest_conversion:.1%} for the "
                    f"other segments ({gap * 100:+.1f} pts, adjusted p = {r.p_adjusted:.2g}).",
                    metric="step_conversion", segment=f"{by}={r.segment}", value=float(r.conversion),
                    impact=abs(gap), confidence=1 - float(r.p_adjusted)))
        tables.update(by_segment=pd.DataFrame(rows), step_tests=pd.DataFrame(tests), segment_tests=pairs)
    return Funnel(tables=tables, findings=tuple(findings),
                  params={"steps": steps, "window": str(window), "by": by, "period": str(period) if period else None,
                          "median_seconds_to_convert": med})


def _duration(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400 * 2:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


__all__ = ["Funnel", "funnel", "parse_window"]
