"""Extreme units: a few units that decide a mean, found and (on request) capped in the engine.

A mean is fragile when one unit holds a large part of an arm's total (in the mobile-game test
one player has 49,854 rounds against a median of about 16; without that player the
difference in mean rounds vanishes). For every metric column that is not 0/1, one engine
query gives its median, its ``q`` quantile (0.999 by default) and its maximum; a column is
flagged when its maximum is at least :data:`EXTREME_RATIO` times the quantile. Capping
(winsorizing at the quantile, as GrowthBook's "percentile capping" and Statsig's
winsorization do) replaces every value above the quantile by the quantile, inside the
engine, so the analysis can be read with and without the extremes.
"""

from __future__ import annotations

from collections.abc import Iterable

import ibis
import ibis.expr.types as ir
import pandas as pd

from mercator.errors import MercatorError
from mercator.results import Finding, number

EXTREME_RATIO = 10.0  # a maximum at least 10x the 99.9th percentile is flagged
DEFAULT_CAP = 0.999


def check_cap(cap: float | None) -> None:
    if cap is not None and not 0.5 <= cap < 1:
        raise MercatorError(f"--cap {cap}: give the quantile to cap at, between 0.5 and 1 (e.g. 0.999)")


def extremes(table: ir.Table, columns: Iterable[str], q: float = DEFAULT_CAP) -> pd.DataFrame:
    """Per column: median, the ``q`` quantile, the maximum, how many units lie above the
    quantile, and whether the maximum is extreme. Two aggregate queries for all columns
    (the count above needs the quantile first)."""
    cols = sorted(set(columns))
    if not cols:
        return pd.DataFrame(columns=["column", "median", "quantile", "q", "max", "units_above", "extreme"])
    aggs = {}
    for i, c in enumerate(cols):
        x = table[c].cast("float64")
        aggs |= {f"med{i}": x.median(), f"q{i}": x.quantile(q), f"max{i}": x.max()}
    first = table.aggregate(**aggs).to_pandas().iloc[0]
    above = table.aggregate(**{f"a{i}": (table[c].cast("float64") > float(first[f"q{i}"])).cast("int64").sum()
                               for i, c in enumerate(cols)}).to_pandas().iloc[0]
    rows = []
    for i, c in enumerate(cols):
        qv, mx = float(first[f"q{i}"]), float(first[f"max{i}"])
        rows.append({"column": c, "median": float(first[f"med{i}"]), "quantile": qv, "q": q, "max": mx,
                     "units_above": int(above[f"a{i}"]),
                     "extreme": bool(mx > 0 and mx >= EXTREME_RATIO * max(qv, 0.0) and mx > qv)})
    return pd.DataFrame(rows)


def capped(table: ir.Table, ext: pd.DataFrame) -> ir.Table:
    """``table`` with each column of ``ext`` capped at its quantile (in the engine)."""
    return table.mutate(**{r.column: ibis.least(table[r.column].cast("float64"), ibis.literal(float(r.quantile)))
                           for r in ext.itertuples()})


def capping_table(plain: pd.DataFrame, capped_effects: pd.DataFrame, cols: dict[str, list[str]]) -> pd.DataFrame:
    """The effect of every arm on each metric that has capped columns, with and without capping."""
    keep = ["rel_effect", "rel_effect_lo", "rel_effect_hi", "pvalue", "significant"]
    a = plain[plain.metric.isin(cols)][["metric", "variant", *keep]]
    b = capped_effects[["metric", "variant", *keep]].rename(columns={k: f"{k}_capped" for k in keep})
    out = a.merge(b, on=["metric", "variant"])
    out.insert(1, "capped_columns", out.metric.map(lambda m: ", ".join(cols[m])))
    return out


def extreme_findings(ext: pd.DataFrame, capping: pd.DataFrame | None, cap: float | None) -> list[Finding]:
    """What the extremes do to each metric's effect, and whether the analysis is capped."""
    out = []
    flagged = ext[ext.extreme] if not ext.empty else ext
    for r in flagged.itertuples():
        out.append(Finding(
            f"Extreme values in {r.column}: the largest is {number(r.max)}, {r.max / max(r.quantile, 1e-12):,.0f}x "
            f"the {100 * r.q:g}th percentile ({number(r.quantile)}; median {number(r.median)}); "
            f"{r.units_above:,} unit(s) lie above that percentile. A mean can hinge on them"
            + ("." if cap else f": compare the effect capped at that percentile (--cap {r.q:g})."),
            metric=r.column, value=r.max, impact=60.0))
    if capping is not None:
        for r in capping.itertuples():
            changed = bool(r.significant) != bool(r.significant_capped)
            out.append(Finding(
                f"{r.metric}, {r.variant}: {100 * r.rel_effect:+.1f}% (p = {r.pvalue:.2g}) as recorded, "
                f"{100 * r.rel_effect_capped:+.1f}% (p = {r.pvalue_capped:.2g}) with {r.capped_columns} capped at "
                f"the {100 * (cap or DEFAULT_CAP):g}th percentile"
                + ("; the conclusion changes with a few units, so do not rest a decision on the uncapped mean."
                   if changed else "; the conclusion does not depend on the extremes."),
                metric=r.metric, segment=r.variant, value=r.rel_effect_capped,
                interval=(r.rel_effect_lo_capped, r.rel_effect_hi_capped), impact=70.0 if changed else 30.0))
    if cap:
        out.append(Finding(f"Every non-0/1 metric column is capped at its {100 * cap:g}th percentile before the "
                           "effects are computed (the capping table shows them with and without).", impact=40.0))
    return out


__all__ = ["DEFAULT_CAP", "EXTREME_RATIO", "capped", "capping_table", "check_cap", "extreme_findings", "extremes"]
