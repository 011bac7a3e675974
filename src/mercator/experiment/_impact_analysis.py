"""Campaign impact on a KPI series: the counterfactual (CausalImpact-style) or difference in
differences, from series aggregated in the engine, judged against the campaign's criteria.
The estimators themselves are in ``_impact``."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mercator.errors import MercatorError
from mercator.frames import engine_table, require_columns
from mercator.results import Finding, Result, number


@dataclass(frozen=True)
class ImpactResult(Result):
    """A campaign's effect on a KPI series against its counterfactual."""

    kind = "experiment_impact"
    title = "Campaign impact"

    def figures(self) -> list:
        import plotly.graph_objects as go

        s = self.tables.get("series")
        if s is None or s.empty:
            return []
        fig = go.Figure()
        post = s[s.post]
        fig.add_scatter(x=np.r_[post["date"], post["date"][::-1]], y=np.r_[post["predicted_hi"],
                        post["predicted_lo"][::-1]], fill="toself", opacity=0.2, name="counterfactual interval",
                        line={"width": 0})
        fig.add_scatter(x=s["date"], y=s["predicted"], name="counterfactual", line={"dash": "dash"})
        fig.add_scatter(x=s["date"], y=s["actual"], name="actual", line={"color": "black"})
        fig.add_vline(x=post["date"].iloc[0], line_dash="dot")
        return [fig.update_layout(title="Actual against the counterfactual", height=400)]


def impact(data, *, date_col: str, kpi: str, post_start, controls: Sequence[str] = (), method: str = "causal_impact",
           unit_col: str | None = None, treated: Sequence[str] = (), alpha: float = 0.05, ws=None,
           criteria: Mapping | None = None, experiment: str | None = None, seed: int = 0) -> ImpactResult:
    """The campaign's incremental effect on ``kpi`` from ``post_start`` on, judged against
    ``criteria`` (``{"min_relative_lift": ...}``) or the locked criteria of the workspace
    ``experiment`` registered for the campaign.

    ``causal_impact``: one KPI series (rows by ``date_col``, summed in the engine when several
    rows share a date) and control series not moved by the campaign. ``did``: a panel of
    ``unit_col`` (geos) x ``date_col``, where the ``treated`` units got the campaign."""
    from mercator.experiment._impact import causal_impact, diff_in_diff
    from mercator.experiment._registry import verify

    if experiment is not None:
        if ws is None:
            raise MercatorError("reading an experiment's locked criteria needs the workspace")
        criteria = verify(ws, experiment)["success_criteria"]
    table, name = engine_table(data, ws)
    cols = [kpi, *controls]
    require_columns(table.columns, [date_col, *cols, unit_col], name)
    start = pd.Timestamp(post_start)
    if method == "causal_impact":
        keys = [date_col]
        frame = table.group_by(keys).aggregate(**{c: table[c].cast("float64").sum() for c in cols}) \
            .order_by(date_col).to_pandas()
        frame[date_col] = pd.to_datetime(frame[date_col])
        post = (frame[date_col] >= start).to_numpy()
        try:
            series, summary = causal_impact(frame[kpi].to_numpy(), frame[list(controls)].to_numpy() if controls else None,
                                            post, alpha=alpha, seed=seed)
        except ValueError as exc:
            raise MercatorError(f"{name}: {exc}") from exc
        series.insert(0, "date", frame[date_col].to_numpy())
        tables = {"summary": pd.DataFrame([summary]), "series": series}
        effect, lo, hi, rel, rlo, rhi = (summary[k] for k in ("cumulative_effect", "cumulative_lo", "cumulative_hi",
                                                               "relative_effect", "relative_lo", "relative_hi"))
        text = (f"{kpi} from {start.date()}: {number(summary['actual_total'])} against {number(summary['predicted_total'])} "
                f"expected without the campaign, {number(effect, sign=True)} ({100 * rel:+.1f}%, {100 * (1 - alpha):.0f}% "
                f"interval {number(lo, sign=True)} to {number(hi, sign=True)}), p = {summary['pvalue']:.2g}.")
    elif method == "did":
        if not unit_col or not treated:
            raise MercatorError("difference in differences needs unit_col and the treated units")
        frame = table.group_by([unit_col, date_col]).aggregate(**{kpi: table[kpi].cast("float64").sum()}).to_pandas()
        frame[date_col] = pd.to_datetime(frame[date_col])
        frame[unit_col] = frame[unit_col].astype(str)
        unknown = set(map(str, treated)) - set(frame[unit_col])
        if unknown:
            raise MercatorError(f"{name}: treated unit(s) {sorted(unknown)} not in column {unit_col}")
        summary = diff_in_diff(frame, unit=unit_col, period=date_col, y=kpi, treated=set(map(str, treated)),
                               post_start=start, alpha=alpha)
        tables = {"summary": pd.DataFrame([summary]),
                  "series": frame.assign(group=np.where(frame[unit_col].isin(set(map(str, treated))), "treated",
                                                        "control")).groupby(["group", date_col], as_index=False)[kpi]
                  .mean()}
        effect, lo, hi, rel = summary["effect"], summary["effect_lo"], summary["effect_hi"], summary["relative_effect"]
        rlo = rhi = math.nan
        text = (f"{kpi} per unit and period in the treated {unit_col}s: {number(effect, sign=True)} ({100 * rel:+.1f}%), "
                f"{100 * (1 - alpha):.0f}% interval {number(lo, sign=True)} to {number(hi, sign=True)}, p = "
                f"{summary['pvalue']:.2g} (difference in differences, {summary['units']} units)."
                + (" Fewer than 20 units: clustered errors may be too small." if summary["few_clusters"] else ""))
    else:
        raise MercatorError(f"method: causal_impact or did, not {method!r}")
    findings = [Finding(text, metric=kpi, value=effect, interval=(lo, hi), impact=abs(rel))]
    recs = []
    if criteria and criteria.get("min_relative_lift") is not None:
        need = float(criteria["min_relative_lift"])
        sig = lo > 0
        verdict = ("worked" if sig and rel >= need else "did not work" if (hi < 0 or (not math.isnan(rhi) and rhi < need))
                   else "inconclusive")
        tables["verdict"] = pd.DataFrame([{"verdict": verdict, "relative_effect": rel, "relative_lo": rlo,
                                           "relative_hi": rhi, "min_relative_lift": need}])
        findings.append(Finding(f"Verdict: the campaign {verdict} against the minimum lift of {100 * need:+.1f}%.",
                                impact=1000.0))
    return ImpactResult(tables=tables, findings=tuple(findings), recommendations=tuple(recs),
                        params={"source": name, "kpi": kpi, "method": method, "post_start": str(start.date()),
                                "controls": list(controls), "alpha": alpha, "unit_col": unit_col,
                                "treated": list(map(str, treated)), "experiment_id": experiment})


__all__ = ["ImpactResult", "impact"]
