"""The public analyses of ``mercator.clv`` (the package re-exports them)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from mercator.clv._models import BetaGeo, GammaGamma, ModifiedBetaGeo, ParetoNBD, distinct
from mercator.clv._summary import UNITS, customer_summary
from mercator.errors import MercatorError
from mercator.results import Finding, Result
from mercator.workspace import Workspace

#: Purchase models by name. Pareto/NBD is compared only when asked for (its likelihood's 2F1
#: terms make it the slowest to fit).
PURCHASE_MODELS = {m.NAME: m for m in (BetaGeo, ModifiedBetaGeo, ParetoNBD)}


@dataclass(frozen=True)
class ClvResult(Result):
    kind = "clv"
    title = "Customer lifetime value"
    headline = ("params", "models", "deciles")

    def figures(self) -> list:
        figs = []
        dec = self.to_frame("deciles")
        if not dec.empty:
            fig = go.Figure(go.Bar(x=dec["decile"].astype(str), y=dec["mean_clv"], name="mean CLV"))
            fig.update_layout(title=f"Expected value per customer over {self.params['horizon_months']} months, "
                                    "by decile (10 = most valuable)", xaxis_title="decile", height=360)
            figs.append(fig)
        hold = self.tables.get("holdout_by_frequency")
        if hold is not None and not hold.empty:
            fig = go.Figure()
            fig.add_scatter(x=hold["x"], y=hold["actual"], name="actual", mode="lines+markers")
            fig.add_scatter(x=hold["x"], y=hold["predicted"], name=self.params.get("model", "model"),
                            mode="lines+markers",
                            line={"dash": "dash"})
            fig.update_layout(title="Holdout: mean repeat purchases by calibration-period purchases",
                              xaxis_title="repeat purchases in calibration", yaxis_title="per customer in holdout",
                              height=360)
            figs.append(fig)
        return figs


def fit_clv(ws: Workspace, calibration_end: dt.date | None = None, holdout_end: dt.date | None = None, *,
            horizon_months: int = 12, discount: float = 0.01, unit: str = "W", model: str = "auto",
            compare: tuple[str, ...] = ("bg_nbd", "mbg_nbd"), channel: str | None = None,
            keep_customers: bool = True) -> ClvResult:
    """Fit BG/NBD and Gamma-Gamma on the orders up to ``calibration_end`` (default: all), score
    every customer, and check the purchase model on the orders after it (the holdout).
    ``channel`` restricts to one sales channel's orders."""
    summary, info = customer_summary(ws, calibration_end, holdout_end, unit=unit, channel=channel)
    return clv_from_summary(summary, info, horizon_months=horizon_months, discount=discount, model=model,
                            compare=compare, keep_customers=keep_customers)


def _clv(bg: BetaGeo, gg: GammaGamma | None, s: pd.DataFrame, months: int, discount: float, unit: str) -> np.ndarray:
    """Discounted expected value: month by month, the purchases expected in that month times the
    expected spend, discounted at ``discount`` a month (the lifetimes convention)."""
    spend = gg.expected_spend(s["x"], s["m"]) if gg is not None else np.zeros(len(s))
    month = UNITS["M"] / UNITS[unit]
    value, before = np.zeros(len(s)), np.zeros(len(s))
    for i in range(1, months + 1):
        upto = bg.expected_purchases(month * i, s["x"], s["t_x"], s["T"])
        value += (upto - before) * spend / (1 + discount) ** i
        before = upto
    return value


def clv_from_summary(summary: pd.DataFrame, info: dict, *, horizon_months: int = 12, discount: float = 0.01,
                     model: str = "auto", compare: tuple[str, ...] = ("bg_nbd", "mbg_nbd"),
                     keep_customers: bool = True) -> ClvResult:
    """The models, per-customer predictions and holdout check from a customer summary.

    The purchase models in ``compare`` (from bg_nbd, mbg_nbd, pareto_nbd) are fitted and compared
    in the ``models`` table; ``model`` picks one, or ``auto`` the smallest holdout RMSE per
    customer (the first of ``compare`` without a holdout).
    """
    s = summary
    if len(s) < 10:
        raise MercatorError(f"CLV needs at least 10 customers with purchases; the summary has {len(s)}")
    (x, t_x, T), w, _ = distinct(s["x"], s["t_x"], s["T"])
    names = list(dict.fromkeys([*compare, *([model] if model != "auto" else [])]))
    unknown = [n for n in names if n not in PURCHASE_MODELS]
    if unknown:
        raise MercatorError(f"unknown purchase model(s) {', '.join(unknown)}; choose from {', '.join(PURCHASE_MODELS)}")
    fitted = [PURCHASE_MODELS[n].fit(x, t_x, T, w) for n in names]
    holdout = "x_holdout" in s
    rows = []
    for m in fitted:
        usable = bool(np.isfinite(m.params).all() and np.isfinite(m.expected_purchases(1.0, x, t_x, T)).all())
        row = {"model": m.NAME, "log_likelihood": m.log_likelihood, "converged": m.converged, "usable": usable}
        if holdout:
            pred = m.expected_purchases(info["holdout_length"], s["x"], s["t_x"], s["T"])
            gap = pred - s["x_holdout"].to_numpy(float)
            row.update(holdout_predicted=float(pred.sum()), holdout_mae=float(np.mean(np.abs(gap))),
                       holdout_rmse=float(np.sqrt(np.mean(gap**2))))
        rows.append(row)
    models = pd.DataFrame(rows)
    # the purchase model: the one with the smaller holdout RMSE per customer (the error an
    # expected value minimizes; MAE would favour predicting zeros); without a holdout the first
    # of ``compare`` (BG/NBD, the published default)
    if not models["usable"].any():
        raise MercatorError(
            f"neither BG/NBD nor MBG/NBD fits these {len(s):,} customers (the parameters run off to the bounds: "
            + ", ".join(f"{v:.3g}" for v in fitted[0].params) + "); it takes more customers, with irregular "
            "repeat purchases, for these models to say anything")
    if model == "auto":
        ok = models[models["usable"]]
        best = int(ok["holdout_rmse"].idxmin()) if holdout else int(ok.index[0])
    else:
        best = int(models.index[models["model"] == model][0])
        if not models.loc[best, "usable"]:
            raise MercatorError(f"{model} does not fit these customers (its predictions are not finite); try "
                                "model auto")

    models["chosen"] = models.index == best
    bg = fitted[best]
    repeat = s[(s["x"] > 0) & (s["m"] > 0)]
    (gx, gm), gw, _ = distinct(repeat["x"], repeat["m"])
    gg = GammaGamma.fit(gx, gm, gw) if len(repeat) >= 3 else None
    unit = info["unit"]
    horizon = horizon_months * UNITS["M"] / UNITS[unit]
    out = s[["customer_id", "x", "t_x", "T", "m"]].copy()
    out["p_alive"] = bg.p_alive(s["x"], s["t_x"], s["T"])
    out["expected_purchases"] = bg.expected_purchases(horizon, s["x"], s["t_x"], s["T"])
    out["expected_spend"] = gg.expected_spend(s["x"], s["m"]) if gg is not None else np.nan
    out["clv"] = _clv(bg, gg, s, horizon_months, discount, unit)
    params = [{"model": m.NAME, "parameter": k, "value": float(v)} for m in fitted
              for k, v in (*zip(("r", "alpha", "s", "beta") if m.NAME == "pareto_nbd" else ("r", "alpha", "a", "b"),
                                m.params, strict=True), ("log_likelihood", m.log_likelihood))]
    if gg is not None:
        params += [{"model": "gamma_gamma", "parameter": k, "value": float(v)}
                   for k, v in (("p", gg.p), ("q", gg.q), ("gamma", gg.gamma), ("log_likelihood", gg.log_likelihood))]
    tables = {"params": pd.DataFrame(params), "models": models}
    ranked = out.sort_values("clv", ascending=False, ignore_index=True)
    ranked["decile"] = 10 - np.minimum(np.arange(len(ranked)) * 10 // len(ranked), 9)
    tables["deciles"] = ranked.groupby("decile", as_index=False).agg(
        customers=("clv", "size"), mean_clv=("clv", "mean"), total_clv=("clv", "sum"),
        mean_p_alive=("p_alive", "mean")).sort_values("decile", ascending=False, ignore_index=True)
    tables["top_customers"] = ranked.drop(columns=["decile"]).head(100)
    if keep_customers:
        tables["customers"] = out
    u = {"D": "day", "W": "week", "M": "month"}[unit]
    total = float(out["clv"].sum())
    top_share = f"; the top 10% hold {tables['deciles']['total_clv'].iloc[0] / total:.0%} of it" if total > 0 else ""
    findings = [Finding(
        f"{len(s):,} customers: expected value over the next {horizon_months} months {total:,.0f} in total "
        f"({discount:.0%} monthly discount){top_share}. {np.mean(out['p_alive'] > 0.5):.0%} of customers are probably "
        "still active (P(alive) > 0.5).", metric="clv", value=total, impact=1.0)]
    params_out = {"calibration_end": info["calibration_end"], "holdout_end": info["holdout_end"], "unit": unit,
                  "horizon_months": horizon_months, "discount_per_month": discount, "customers": len(s),
                  "distinct_summaries": len(x), "model": bg.NAME,
                  "converged": bg.converged and (gg is None or gg.converged)}
    if "x_holdout" in s:
        pred = bg.expected_purchases(info["holdout_length"], s["x"], s["t_x"], s["T"])
        actual = s["x_holdout"].to_numpy(float)
        bins = np.minimum(s["x"].to_numpy(), 7)
        hold = pd.DataFrame({"x": bins, "actual": actual, "predicted": pred}).groupby("x", as_index=False).agg(
            customers=("actual", "size"), actual=("actual", "mean"), predicted=("predicted", "mean"))
        tables["holdout_by_frequency"] = hold
        err = pred.sum() / actual.sum() - 1 if actual.sum() else np.nan
        label = {"bg_nbd": "BG/NBD", "mbg_nbd": "MBG/NBD", "pareto_nbd": "Pareto/NBD"}[bg.NAME]
        others = "; ".join(f"{o.model}: {o.holdout_predicted:,.0f} predicted, RMSE {o.holdout_rmse:.2f}"
                           for o in models[~models.chosen].itertuples())
        params_out.update(holdout_actual=float(actual.sum()), holdout_predicted=float(pred.sum()),
                          holdout_mae=float(np.mean(np.abs(pred - actual))))
        findings.append(Finding(
            f"Holdout ({info['calibration_end']} to {info['holdout_end']}, {info['holdout_length']:.0f} {u}s): {label} "
            f"predicted {pred.sum():,.0f} repeat purchases against {actual.sum():,.0f} actual ({err:+.1%}); mean "
            f"absolute error per customer {np.mean(np.abs(pred - actual)):.2f}, RMSE "
            f"{np.sqrt(np.mean((pred - actual) ** 2)):.2f}" + (f" (other models: {others})." if others else "."),
            metric="holdout_purchases", value=float(pred.sum()), impact=0.5))
    if gg is not None:
        findings.append(Finding(
            f"A repeat purchase is worth {gg.population_mean_spend:,.2f} on average across customers (Gamma-Gamma, "
            f"{gg.n_customers:,} repeat buyers); {bg.NAME} parameters "
            + ", ".join(f"{r.parameter} {r.value:.3f}" for r in pd.DataFrame(params).query(
                "model == @bg.NAME and parameter != 'log_likelihood'").itertuples())
            + f" (time in {u}s).", metric="spend", value=gg.population_mean_spend, impact=0.3))
    return ClvResult(tables=tables, findings=tuple(findings), params=params_out)
