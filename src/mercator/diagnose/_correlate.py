"""Correlations between KPIs and their drivers, with significance and a confounding check.

Observations are KPI values per day (and per segment of ``by``), computed from part sums in
the engine. For every pair: Pearson and Spearman coefficients with p-values (SciPy),
Benjamini-Hochberg across pairs (statsmodels). A significant pair is flagged as possibly
confounded when controlling for a third variable (another KPI, the segment, or time)
shrinks the correlation by more than half while that variable correlates with both.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from scipy import stats
from statsmodels.stats.multitest import multipletests

from mercator.metrics import Period, label, part_frame, with_kpis
from mercator.results import Finding, Result
from mercator.workspace import Workspace


@dataclass(frozen=True)
class Correlations(Result):
    kind = "correlations"
    title = "Correlations"
    headline = ("pairs",)

    def figures(self) -> list:
        m = self.to_frame("matrix")
        if m.empty:
            return []
        m = m.set_index("metric")
        fig = go.Figure(go.Heatmap(z=m.to_numpy(), x=list(m.columns), y=list(m.index), zmin=-1, zmax=1,
                                   colorscale="RdBu", text=np.round(m.to_numpy(), 2), texttemplate="%{text}"))
        fig.update_layout(title="Correlation matrix (Pearson)", height=420)
        return [fig]


def _residual(y: np.ndarray, z: np.ndarray) -> np.ndarray:
    x = np.column_stack([np.ones(len(z)), z])
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    return y - x @ beta


def correlations(ws: Workspace, metrics: tuple[str, ...] | list[str] = ("cvr", "load_ms", "bounce_rate", "ctr", "cpc"),
                 *, by: str | None = "device", period: Period | str | None = None, alpha: float = 0.05,
                 ) -> Correlations:
    """Pairwise correlations of ``metrics`` over days (x segments of ``by``)."""
    period = Period.parse(period) if isinstance(period, str) else period
    df = part_frame(ws, list(metrics), by=[by] if by else [], period=period, grain="day")
    df = with_kpis(df, list(metrics))
    obs = df[[*([by] if by else []), "period", *metrics]].dropna()
    controls = {"time": (obs["period"] - obs["period"].min()).dt.days.to_numpy(float)}
    if by:
        dummies = pd.get_dummies(obs[by].map(label), drop_first=True, dtype=float)
        if dummies.shape[1]:
            controls[by] = dummies.to_numpy()
    rows = []
    for a, b in itertools.combinations(metrics, 2):
        x, y = obs[a].to_numpy(float), obs[b].to_numpy(float)
        if len(x) < 10 or np.std(x) == 0 or np.std(y) == 0:
            continue
        r, p = stats.pearsonr(x, y)
        rho, p_s = stats.spearmanr(x, y)
        rows.append({"a": a, "b": b, "n": len(x), "pearson": r, "p_value": p, "spearman": rho, "spearman_p": p_s})
    pairs = pd.DataFrame(rows)
    findings = []
    if len(pairs):
        pairs["significant"], pairs["p_adjusted"] = multipletests(pairs["p_value"], alpha=alpha, method="fdr_bh")[:2]
        pairs["confounder"] = None
        pairs["partial"] = np.nan
        for i, r in pairs[pairs.significant].iterrows():
            x, y = obs[r.a].to_numpy(float), obs[r.b].to_numpy(float)
            candidates = dict(controls)
            candidates.update({m: obs[m].to_numpy(float) for m in metrics if m not in (r.a, r.b)})
            best, best_partial = None, r.pearson
            for name, z in candidates.items():
                zz = z if z.ndim == 2 else z[:, None]
                partial = np.corrcoef(_residual(x, zz), _residual(y, zz))[0, 1]
                linked = all(abs(np.corrcoef(v, zz[:, 0])[0, 1]) > 0.2 for v in (x, y)) if zz.shape[1] == 1 else True
                if linked and abs(partial) < abs(best_partial):
                    best, best_partial = name, partial
            pairs.loc[i, "partial"] = best_partial
            if best is not None and abs(best_partial) < 0.5 * abs(r.pearson):
                pairs.loc[i, "confounder"] = best
        for r in pairs[pairs.significant].itertuples():
            text = (f"{r.a} and {r.b} move together (Pearson r = {r.pearson:+.2f}, adjusted p = {r.p_adjusted:.2g}, "
                    f"n = {r.n})")
            if r.confounder:
                text += (f"; controlling for {r.confounder} leaves r = {r.partial:+.2f}: a shared driver may explain "
                         "much of it.")
            else:
                text += "."
            findings.append(Finding(text, metric=f"{r.a}~{r.b}", value=float(r.pearson), impact=abs(float(r.pearson)),
                                    confidence=1 - float(r.p_adjusted)))
    matrix = obs[list(metrics)].corr().reset_index(names="metric") if len(obs) > 2 else pd.DataFrame()
    return Correlations(tables={"pairs": pairs, "matrix": matrix}, findings=tuple(findings),
                        params={"metrics": list(metrics), "by": by, "period": str(period) if period else None})


__all__ = ["Correlations", "correlations"]
