"""Fitting the media-mix model and summarizing it: ROAS, contributions, curves, diagnostics, findings."""


from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from mercator.errors import MercatorError
from mercator.mmm._data import _check, _read, holiday_counts, media_frame
from mercator.mmm._fitted import _SUFFIX, MMModel, _q
from mercator.mmm._model import (
    Design,
    LiftTest,
    Posterior,
    Spec,
    baseline,
    design,
    fit,
    media_params,
)
from mercator.mmm._plans import BudgetResult
from mercator.mmm._select import AUTO, SELECT_RUN, choice_finding, choose
from mercator.mmm._transforms import ADSTOCKS, SATURATIONS, adstock_weights
from mercator.modelstore import config_hash, model_path, save_model
from mercator.results import Finding, Recommendation, Result
from mercator.results import number as _n
from mercator.workspace import Workspace

_PACKAGES = ("mercator", "numpyro", "jax", "numpy")


@dataclass(frozen=True)
class MMMResult(Result):
    kind = "mmm"
    title = "Media-mix model: what each channel returns"
    headline = ("roas", "fit", "identification")
    model: MMModel | None = None

    def figures(self) -> list:
        figs = []
        c = self.tables.get("contributions")
        if c is not None and not c.empty:
            fig = go.Figure()
            for comp, part in c.groupby("component", sort=False):
                fig.add_scatter(x=part["date"], y=part["contribution"], name=comp, stackgroup="one", mode="lines")
            a = self.to_frame("fitted")
            fig.add_scatter(x=a["date"], y=a["actual"], name="actual", mode="lines", line={"color": "black"})
            fig.update_layout(title="Contributions over time", height=420)
            figs.append(fig)
        w = self.tables.get("waterfall")
        if w is not None and not w.empty:
            figs.append(go.Figure(go.Waterfall(x=w["component"], y=w["contribution"], measure=["relative"] * len(w)))
                        .update_layout(title="Contribution waterfall (whole period)", height=380))
        r = self.tables.get("roas")
        if r is not None and not r.empty:
            fig = go.Figure()
            for col, name in (("roas", "ROAS"), ("mroas", "marginal ROAS")):
                fig.add_bar(x=r["channel"], y=r[col], name=name,
                            error_y={"type": "data", "symmetric": False, "array": r[f"{col}_hi"] - r[col],
                                     "arrayminus": r[col] - r[f"{col}_lo"]})
            fig.update_layout(barmode="group", title="ROAS and marginal ROAS (95% intervals)", height=380)
            figs.append(fig)
        rc = self.tables.get("response_curves")
        if rc is not None and not rc.empty:
            fig = go.Figure()
            for ch, part in rc.groupby("channel", sort=False):
                fig.add_scatter(x=part["spend"], y=part["response"], name=ch, mode="lines")
                fig.add_scatter(x=np.r_[part["spend"], part["spend"][::-1]], y=np.r_[part["response_hi"],
                                part["response_lo"][::-1]], fill="toself", opacity=0.15, showlegend=False,
                                line={"width": 0}, hoverinfo="skip")
            cur = self.to_frame("roas")
            fig.add_scatter(x=cur["current_spend"], y=cur["current_response"], mode="markers", name="current spend",
                            marker={"size": 10, "symbol": "x", "color": "black"})
            fig.update_layout(title="Response curves (per period, steady state; 95% band)", xaxis_title="spend",
                              yaxis_title="KPI", height=420)
            figs.append(fig)
        alloc = self.tables.get("allocation")
        if alloc is not None and not alloc.empty:
            figs += BudgetResult(tables={"allocation": alloc}).figures()
        ad = self.tables.get("adstock")
        if ad is not None and not ad.empty:
            fig = go.Figure()
            for ch, part in ad.groupby("channel", sort=False):
                fig.add_scatter(x=part["lag"], y=part["weight"], name=ch, mode="lines+markers")
            fig.update_layout(title="Adstock: share of the effect by periods after the spend", xaxis_title="lag",
                              height=360)
            figs.append(fig)
        return figs


def _metrics(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    ss = ((y - y.mean()) ** 2).sum()
    nz = y != 0
    return {"r2": float(1 - ((y - pred) ** 2).sum() / ss) if ss > 0 else float("nan"),
            "mape": float(np.mean(np.abs((y[nz] - pred[nz]) / y[nz]))) if nz.any() else float("nan"),
            "nrmse": float(np.sqrt(np.mean((y - pred) ** 2)) / (y.max() - y.min())) if y.max() > y.min() else float("nan")}


def _r2(design: np.ndarray, x: np.ndarray) -> float:
    """Share of x's variance a least-squares fit on ``design`` (with an intercept) explains."""
    b = np.column_stack([np.ones(len(x)), design])
    resid = x - b @ np.linalg.lstsq(b, x, rcond=None)[0]
    return float(1 - resid.var() / x.var()) if x.var() > 0 else 0.0


def _confounding(d: Design, spec: Spec) -> pd.DataFrame:
    """What each channel's spend moves with: the season and trend (spend planned on expected
    demand), the controls, and the other channels (variance inflation factor)."""
    x = d.spend / d.x_scale[:, None]
    demand = np.column_stack([d.t, d.season]) if spec.trend else d.season
    rows = []
    for i, ch in enumerate(spec.channels):
        others = np.delete(x, i, axis=0).T
        rows.append({"channel": ch, "r2_on_trend_season": _r2(demand, x[i]),
                     "r2_on_controls": _r2(d.controls / d.c_scale, x[i]) if d.controls.shape[1] else 0.0,
                     "vif": 1 / max(1 - _r2(others, x[i]), 1e-9) if others.shape[1] else 1.0})
    return pd.DataFrame(rows)


def fit_mmm(data: str | Path | pd.DataFrame | None = None, *, ws: Workspace | None = None, date_col: str = "date",
            kpi: str | None = None, channels: list[str] | tuple[str, ...] = (),
            controls: list[str] | tuple[str, ...] = (), adstock: str = AUTO, saturation: str = AUTO,
            lmax: int | None = None, yearly_order: int = 2, trend: bool = True, changepoints: int = 10,
            priors: Mapping | None = None, holidays: str | Path | pd.DataFrame | None = None,
            holiday_country: str | None = None, lift_tests: tuple[LiftTest, ...] | list = (),
            holdout: float = 0.1, chains: int = 4, warmup: int = 1000, samples: int = 1000, seed: int = 0, save: bool = False, save_to: str | Path | None = None,
            progress: Callable[[str], None] | None = None) -> MMMResult:
    """Fit the Bayesian media-mix model and summarize it: ROAS and marginal ROAS with 95%
    intervals, contributions over time, response and adstock curves, diagnostics (R-hat, ESS,
    divergences, R^2, MAPE, NRMSE) and, with ``holdout`` > 0, a time-ordered check: the last
    share of periods is predicted by a model fitted without them.

    ``data`` is a CSV/Parquet file or a DataFrame with one row per period; without it the
    workspace's media tables are used (``media_frame``). ``lmax`` (the carryover window)
    defaults to 8 periods for weekly data and 28 for daily. When the caller asks (``save=True``
    or a place ``save_to``), the fitted model is saved, by default in the workspace's
    ``models/`` (``params["model_path"]``), for ``optimize_budget`` and ``scenario`` later;
    the result's ``model`` serves them in the same session either way.
    """
    if data is None:
        if ws is None:
            raise MercatorError("fit_mmm needs data (a file or frame) or a workspace with media tables")
        frame, ws_channels, ws_controls = media_frame(ws, kpi)
        kpi, date_col, source = frame.attrs["kpi"], "period", "workspace"
        channels = list(channels) or ws_channels
        controls = list(controls) or ws_controls
    else:
        frame, source = _read(data)
        if kpi is None:
            raise MercatorError("name the KPI column (kpi=...)")
    channels, controls = list(channels), list(controls)
    f = _check(frame, source, date_col, kpi, channels, controls)
    step = float(np.median(np.diff(f[date_col].to_numpy()).astype("timedelta64[D]").astype(float)))
    if holidays is not None:
        f["holidays"] = holiday_counts(f[date_col], step, holidays, holiday_country)
        controls.append("holidays")
    lmax = lmax or (8 if step >= 5 else 28)
    for name, value, known in (("adstock", adstock, ADSTOCKS), ("saturation", saturation, SATURATIONS)):
        if value != AUTO and value not in known:
            raise MercatorError(f"unknown {name} {value!r}; {name}s: {AUTO}, {', '.join(known)}")
    try:  # "auto" is settled below; the design does not depend on the curve
        spec = Spec(tuple(channels), tuple(controls), "geometric" if adstock == AUTO else adstock,
                    "logistic" if saturation == AUTO else saturation, int(lmax), yearly_order,
                    3 if step < 5 and len(f) > 60 else 0, trend, changepoints, dict(priors or {}))  # daily data: a weekly cycle
    except ValueError as e:
        raise MercatorError(str(e)) from None
    d = design(f, date_col, kpi, spec)
    lift = tuple(lift_tests)

    def run(part: Design, **draws) -> Posterior:
        draws = draws or {"chains": chains, "warmup": warmup, "samples": samples}
        try:
            return fit(part, spec, lift, seed=seed, progress=progress, **draws)
        except ValueError as e:  # a lift test for a channel the model does not have
            raise MercatorError(str(e)) from None

    holdout_metrics = {}
    n_test = round(holdout * d.periods) if holdout else 0
    if n_test and d.periods - n_test < 2 * len(channels) + 10:
        raise MercatorError(f"{source}: too few periods to hold out {n_test}")
    # the curve is chosen on the periods before the holdout, whose short run then predicts it
    train = d.head(d.periods - n_test) if n_test else d
    choice, post_tr = None, None
    if AUTO in (adstock, saturation):
        try:
            spec, choice, post_tr = choose(train, spec, lift, adstock, saturation, seed=seed, progress=progress)
        except ValueError as e:  # a lift test for a channel the model does not have
            raise MercatorError(str(e)) from None
    if n_test:
        if post_tr is None:
            if progress:
                progress(f"holdout check: fitting the first {d.periods - n_test} periods")
            post_tr = run(train, **SELECT_RUN)  # only its mean prediction is used
        pred = MMModel(spec, d, post_tr.draws, kpi, source, post_tr.knots).predict(d).mean(axis=0)
        holdout_metrics = {f"holdout_{k}": v for k, v in _metrics(d.y[-n_test:], pred[-n_test:]).items()}
        holdout_metrics["holdout_periods"] = n_test
    if progress:
        progress(f"fitting all {d.periods} periods")
    post = run(d)
    model = MMModel(spec, d, post.draws, kpi, source, post.knots, lift)
    tables, findings, recs = _summarize(model, post, holdout_metrics)
    if choice is not None:
        tables["model_choice"] = choice
        findings.insert(0, choice_finding(choice))
    config = {"source": source, "date_col": date_col, "kpi": kpi, "spec": spec.config(),
              "holidays": None if holidays is None else "a data frame" if isinstance(holidays, pd.DataFrame)
              else str(holidays), "holiday_country": holiday_country,
              "lift_tests": [t.__dict__ for t in lift], "periods": d.periods, "seed": seed, "chains": chains,
              "warmup": warmup, "samples": samples}
    chash = config_hash(config)
    path = None
    if save or save_to is not None:  # saved only when the caller asks
        path = model_path(ws, save_to, f"mmm-{kpi}-{chash[:8]}", _SUFFIX)
        save_model(path, {"mmm": model}, config, _PACKAGES, ws=ws)
    params = {"source": source, "kpi": kpi, "date_col": date_col, "channels": channels, "controls": controls,
              "adstock": spec.adstock, "saturation": spec.saturation,
              "chosen_by": "PSIS-LOO" if choice is not None else "the caller", "lmax": lmax, "periods": d.periods,
              "start": str(pd.Timestamp(d.dates[0]).date()), "end": str(pd.Timestamp(d.dates[-1]).date()),
              "fit_seconds": round(post.seconds, 2), "config_hash": chash, "model_path": str(path) if path else None,
              "interval": "95% (2.5th-97.5th percentile of the posterior)"}
    return MMMResult(tables=tables, findings=tuple(findings), recommendations=tuple(recs), params=params, model=model)


def _summarize(m: MMModel, post: Posterior, holdout: dict) -> tuple[dict, list, list]:
    d, spec = m.design, m.spec
    contrib = m.contributions()  # (D, C, T)
    base = baseline(m.draws, spec, d, m.knots)
    spend = d.spend.sum(axis=1)
    tot = contrib.sum(axis=2)  # (D, C)
    roas = tot / spend
    up = m.contributions(d.spend * 1.01).sum(axis=2)
    mroas = (up - tot) / (0.01 * spend)
    resp = m.response()
    cur = m.recent_spend()
    cur_resp = resp(cur)
    rows = []
    for i, ch in enumerate(spec.channels):
        r, rl, rh = _q(roas[:, i])
        mr, ml, mh = _q(mroas[:, i])
        c, cl, ch_ = _q(tot[:, i])
        rows.append({"channel": ch, "spend": spend[i], "contribution": c, "contribution_lo": cl,
                     "contribution_hi": ch_, "roas": r, "roas_lo": rl, "roas_hi": rh, "mroas": mr, "mroas_lo": ml,
                     "mroas_hi": mh, "current_spend": cur[i], "current_response": cur_resp[:, i].mean()})
    roas_t = pd.DataFrame(rows)
    roas_t["share_of_media_contribution"] = roas_t["contribution"] / roas_t["contribution"].sum()
    mu = m.predict()
    fitted_mean, flo, fhi = _q(mu)
    dates = pd.to_datetime(d.dates)
    fitted = pd.DataFrame({"date": dates, "actual": d.y, "predicted": fitted_mean, "predicted_lo": flo,
                           "predicted_hi": fhi})
    parts = {k: v.mean(axis=0) for k, v in base.items()} | {ch: contrib[:, i].mean(axis=0)
                                                            for i, ch in enumerate(spec.channels)}
    contributions_t = pd.concat([pd.DataFrame({"date": dates, "component": k, "contribution": v})
                                 for k, v in parts.items()], ignore_index=True)
    waterfall = pd.DataFrame({"component": list(parts), "contribution": [v.sum() for v in parts.values()]})
    grid_rows = []
    for i, ch in enumerate(spec.channels):
        top = max(d.spend[i].max(), 2 * cur[i])
        s = np.linspace(0, top, 60)
        b = np.tile(cur, (len(s), 1))
        b[:, i] = s
        r = np.stack([resp(x)[:, i] for x in b], axis=1)  # (D, grid)
        mean, lo, hi = _q(r)
        grid_rows.append(pd.DataFrame({"channel": ch, "spend": s, "response": mean, "response_lo": lo,
                                       "response_hi": hi}))
    curves = pd.concat(grid_rows, ignore_index=True)
    p = media_params(m.draws, spec)
    w = adstock_weights(spec.adstock, p, spec.lmax)  # (D, C, L)
    ad_rows = []
    for i, ch in enumerate(spec.channels):
        mean, lo, hi = _q(w[:, i, :])
        ad_rows.append(pd.DataFrame({"channel": ch, "lag": np.arange(spec.lmax), "weight": mean, "weight_lo": lo,
                                     "weight_hi": hi}))
    adstock_t = pd.concat(ad_rows, ignore_index=True)
    par_rows = []
    for name, v in p.items():
        unit = d.x_scale if name == "half_saturation" else 1 / d.x_scale if name == "lam" else np.ones(len(spec.channels))
        for i, ch in enumerate(spec.channels):
            mean, lo, hi = _q(v[:, i] * unit[i])
            par_rows.append({"channel": ch, "parameter": name, "mean": mean, "lo": lo, "hi": hi})
    for i, ch in enumerate(spec.channels):
        mean, lo, hi = _q(m.draws["beta"][:, i] * d.y_scale)
        par_rows.append({"channel": ch, "parameter": "beta", "mean": mean, "lo": lo, "hi": hi})
    insample = _metrics(d.y, fitted_mean)
    diag = post.diagnostics
    fit_t = {**insample, **holdout, "max_r_hat": float(diag["r_hat"].max()), "min_ess": float(diag["ess"].min()),
             "divergences": post.divergences, "draws": len(m.draws["intercept"]), "chains": post.chains,
             "seconds": post.seconds}
    conf = _confounding(d, spec)
    tables = {"roas": roas_t, "fit": pd.DataFrame({"metric": list(fit_t), "value": [float(v) for v in fit_t.values()]}),
              "contributions": contributions_t, "waterfall": waterfall, "response_curves": curves,
              "adstock": adstock_t, "parameters": pd.DataFrame(par_rows), "fitted": fitted, "diagnostics": diag,
              "identification": conf}
    return tables, _findings(m, roas_t, fit_t, conf), _recommend(m, roas_t)


def _findings(m: MMModel, roas: pd.DataFrame, fit_t: dict, conf: pd.DataFrame) -> list[Finding]:
    out = []
    r = roas.sort_values("roas", ascending=False)
    for _, row in r.iterrows():
        out.append(Finding(f"{row.channel}: ROAS {_n(row.roas)} (95% interval {_n(row.roas_lo)} to {_n(row.roas_hi)}), "
                           f"marginal ROAS {_n(row.mroas)} ({_n(row.mroas_lo)} to {_n(row.mroas_hi)}); "
                           f"{row.share_of_media_contribution:.0%} of the media contribution.", metric="roas",
                           segment=row.channel, value=float(row.roas), interval=(float(row.roas_lo), float(row.roas_hi)),
                           impact=0.8))
    out.append(Finding(f"The model explains {fit_t['r2']:.1%} of the KPI's variance (MAPE {fit_t['mape']:.1%}, NRMSE "
                       f"{fit_t['nrmse']:.3f})" + (f"; on the last {int(fit_t['holdout_periods'])} periods, held out, "
                                                   f"R^2 {fit_t['holdout_r2']:.1%} and MAPE {fit_t['holdout_mape']:.1%}"
                                                   if "holdout_r2" in fit_t else "") + ".",
                       metric="r2", value=fit_t["r2"], impact=0.6))
    if fit_t["max_r_hat"] > 1.01 or fit_t["min_ess"] < 400 or fit_t["divergences"]:
        out.append(Finding(f"Warning: the sampler did not settle (max R-hat {fit_t['max_r_hat']:.3f}, min ESS "
                           f"{fit_t['min_ess']:.0f}, {fit_t['divergences']} divergences): do not trust the intervals; "
                           "fit again with more warm-up, or simplify the model.", metric="r_hat",
                           value=fit_t["max_r_hat"], impact=2.0))
    for _, row in conf.iterrows():
        if row.r2_on_trend_season > 0.3:
            out.append(Finding(
                f"Warning: {row.channel}'s spend moves with the season and trend ({row.r2_on_trend_season:.0%} of its "
                "variance): spend planned on expected demand is hard to tell from the demand itself, and a driver of "
                "both that the model does not see (a confounder) inflates its ROAS. Add that driver as a control, or "
                "calibrate the channel with a lift test.", metric="confounding", segment=row.channel,
                value=float(row.r2_on_trend_season), impact=1.5))
        if row.r2_on_controls > 0.5:
            out.append(Finding(
                f"{row.channel}'s spend moves with the controls ({row.r2_on_controls:.0%} of its variance): its effect "
                "is told apart from theirs only by the rest of its variation, so its interval is wider.",
                metric="collinearity", segment=row.channel, value=float(row.r2_on_controls), impact=0.7))
        if row.vif > 5:
            out.append(Finding(f"Warning: {row.channel}'s spend is collinear with the other channels (VIF "
                               f"{row.vif:.1f}): the model cannot split their effects well; the intervals say how much.",
                               metric="collinearity", segment=row.channel, value=float(row.vif), impact=1.4))
    return out


def _recommend(m: MMModel, roas: pd.DataFrame) -> list[Recommendation]:
    r = roas.sort_values("mroas")
    lo, hi = r.iloc[0], r.iloc[-1]
    if len(r) < 2 or hi.mroas_lo <= lo.mroas_hi:
        return []
    return [Recommendation(f"Move spend from {lo.channel} (marginal ROAS {_n(lo.mroas)}) to {hi.channel} "
                           f"({_n(hi.mroas)}); `mercator mmm optimize` says how far.", expected_impact=float(hi.mroas - lo.mroas),
                           unit="KPI per unit of spend moved", evidence="marginal ROAS intervals do not overlap")]

