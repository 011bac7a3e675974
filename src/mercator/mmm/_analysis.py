"""The public analyses of ``mercator.mmm`` (the package re-exports them)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from mercator.errors import MercatorError, NotFoundError
from mercator.frames import check_numeric, read_table, require_columns, source_name
from mercator.mmm._budget import Response, budget_for_target, optimize
from mercator.mmm._model import (
    Design,
    LiftTest,
    Posterior,
    Spec,
    baseline,
    contributions,
    design,
    fit,
    media_params,
)
from mercator.mmm._select import AUTO, SELECT_RUN, choice_finding, choose
from mercator.mmm._transforms import ADSTOCKS, SATURATION_PARAMS, SATURATIONS, adstock_weights
from mercator.modelstore import config_hash, load_model, model_path, models_dir, save_model
from mercator.results import Finding, Recommendation, Result
from mercator.results import number as _n
from mercator.workspace import Workspace

_PACKAGES = ("mercator", "numpyro", "jax", "numpy")
#: the interval every MMM figure carries
INTERVAL = (2.5, 97.5)
_SUFFIX = ".mercator-mmm"


# -- data ----------------------------------------------------------------------------------------

def media_frame(ws: Workspace, kpi: str | None = None, granularity: str = "week",
                spend_from: str = "auto") -> tuple[pd.DataFrame, list, list]:
    """One row per period from the workspace: the KPI, spend per channel and the controls.

    Spend from ``media_spend`` when the workspace has it (or ``spend_from="media_spend"``),
    else (or with ``spend_from="ad_performance"``) the cost per channel and week of
    ``ad_performance``; the KPI from ``kpi_series``, else revenue from ``orders``, else the
    platforms' conversion value; controls from ``media_controls``. Aggregated in the engine;
    returns the frame (column ``period``), the channels and the controls."""
    if spend_from not in ("auto", "media_spend", "ad_performance"):
        raise MercatorError(f"spend_from: auto, media_spend or ad_performance, not {spend_from!r}")
    if spend_from == "media_spend" or (spend_from == "auto" and ws.count("media_spend")):
        m = ws.table("media_spend")
        m = m.filter(m.granularity == granularity)
        spend = m.group_by(["period", "channel"]).aggregate(spend=m.spend.sum()).to_pandas()
    elif ws.count("ad_performance"):
        a = ws.table("ad_performance")
        a = a.filter(a.cost.notnull())
        period = a.date.truncate("W") if granularity == "week" else a.date
        spend = a.group_by(period=period, channel=a.channel).aggregate(spend=a.cost.sum()).to_pandas()
    else:
        raise MercatorError("the workspace has neither media_spend nor ad_performance: no spend to model")
    wide = spend.pivot_table(index="period", columns="channel", values="spend", aggfunc="sum", fill_value=0.0)
    channels = [str(c) for c in wide.columns]
    if ws.count("kpi_series"):
        k = ws.table("kpi_series")
        k = k.filter(k.granularity == granularity)
        names = sorted(k.select("kpi").distinct().to_pandas()["kpi"].astype(str))
        name = kpi or ("revenue" if "revenue" in names else names[0])
        if name not in names:
            raise MercatorError(f"kpi_series has no KPI {name!r}; it has {', '.join(names)}")
        y = k.filter(k.kpi == name).group_by("period").aggregate(value=k.value.sum()).to_pandas()
    elif ws.count("orders"):
        o = ws.table("orders")
        period = o.ts.date().truncate("W") if granularity == "week" else o.ts.date()
        y = o.group_by(period=period).aggregate(value=o.revenue.sum()).to_pandas()
        name = "revenue"
    else:
        a = ws.table("ad_performance")
        period = a.date.truncate("W") if granularity == "week" else a.date
        y = a.group_by(period=period).aggregate(value=a.conversion_value.sum()).to_pandas()
        name = "conversion_value"
    y["period"] = pd.to_datetime(y["period"])
    wide.index = pd.to_datetime(wide.index)
    frame = wide.join(y.set_index("period")["value"].rename(name), how="inner")
    controls: list[str] = []
    if ws.count("media_controls"):
        c = ws.table("media_controls")
        c = c.filter(c.granularity == granularity)
        c = c.group_by(["period", "control"]).aggregate(value=c.value.sum()).to_pandas()
        cw = c.pivot(index="period", columns="control", values="value")
        cw.index = pd.to_datetime(cw.index)
        controls = [str(x) for x in cw.columns]
        frame = frame.join(cw, how="left").fillna({x: 0.0 for x in controls})
    frame = frame.reset_index(names="period")
    frame.attrs["kpi"] = name
    return frame, channels, controls


def _read(data: str | Path | pd.DataFrame) -> tuple[pd.DataFrame, str]:
    if not isinstance(data, pd.DataFrame) and not Path(data).exists():
        raise NotFoundError(f"{data}: no such file")
    return read_table(None, data, text_na=True), source_name(data)


def holiday_counts(periods: pd.Series, step_days: float, holidays: str | Path | pd.DataFrame,
                   country: str | None = None) -> np.ndarray:
    """How many holidays fall in each period [start, start + step) of ``periods``."""
    h, name = _read(holidays)
    if "ds" not in h.columns:
        raise MercatorError(f"{name}: a holiday table needs a 'ds' date column (it has {', '.join(map(str, h.columns))})")
    if country is not None:
        if "country" not in h.columns:
            raise MercatorError(f"{name}: no 'country' column to pick {country!r} from")
        h = h[h["country"].astype(str).str.upper() == country.upper()]
        if h.empty:
            raise MercatorError(f"{name}: no holidays for country {country!r}")
    days = np.sort(pd.to_datetime(h["ds"], errors="coerce").dropna().to_numpy().astype("datetime64[D]"))
    start = pd.to_datetime(periods).to_numpy().astype("datetime64[D]")
    end = start + np.timedelta64(round(step_days), "D")
    return (np.searchsorted(days, end) - np.searchsorted(days, start)).astype(float)


def _check(frame: pd.DataFrame, name: str, date_col: str, kpi: str, channels: list, controls: list) -> pd.DataFrame:
    """The modelling columns, checked: present, numeric, spend not negative, one row per date."""
    cols = [date_col, kpi, *channels, *controls]
    require_columns(frame.columns, cols, name)
    if not channels:
        raise MercatorError(f"{name}: name the spend columns (channels)")
    f = frame[cols].copy()
    dates = pd.to_datetime(f[date_col], errors="coerce")
    if dates.isna().any():
        row = int(np.flatnonzero(dates.isna().to_numpy())[0])
        raise MercatorError(f"{name}: row {row + 2}, column {date_col}: {f[date_col].iloc[row]!r} is not a date")
    f = check_numeric(f.assign(**{date_col: dates}), cols[1:], name)
    neg = [c for c in channels if (f[c] < 0).any()]
    if neg:
        row = int(np.flatnonzero((f[neg[0]] < 0).to_numpy())[0])
        raise MercatorError(f"{name}: row {row + 2}, column {neg[0]}: spend {f[neg[0]].iloc[row]} is negative")
    if f[date_col].duplicated().any():
        d = f[date_col][f[date_col].duplicated()].iloc[0]
        raise MercatorError(f"{name}: the date {d.date()} appears twice; the model needs one row per period "
                            "(sum the rows per period first)")
    dead = [c for c in channels if not (f[c] > 0).any()]
    if dead:
        raise MercatorError(f"{name}: channel(s) {', '.join(dead)} never spend: drop them")
    if len(f) < 2 * len(channels) + 10:
        raise MercatorError(f"{name}: {len(f)} periods are too few for {len(channels)} channels")
    return f.sort_values(date_col, ignore_index=True)


# -- the fitted model ----------------------------------------------------------------------------

@dataclass(frozen=True)
class MMModel:
    """A fitted media-mix model: its specification, data and posterior draws."""

    spec: Spec
    design: Design
    draws: dict
    kpi: str
    source: str
    knots: np.ndarray
    lift_tests: tuple[LiftTest, ...] = ()

    @property
    def channels(self) -> tuple[str, ...]:
        return self.spec.channels

    def response(self) -> Response:
        """The per-draw steady-state response curves (KPI per period for a spend per period)."""
        sat = {k: self.draws[k] for k in SATURATION_PARAMS[self.spec.saturation]}
        return Response(self.channels, self.spec.saturation, self.draws["beta"] * self.design.y_scale, sat,
                        self.design.x_scale)

    def contributions(self, spend: np.ndarray | None = None) -> np.ndarray:
        return contributions(self.draws, self.spec, self.design, spend)

    def predict(self, d: Design | None = None) -> np.ndarray:
        """(draws, periods) expected KPI."""
        d = d or self.design
        return (sum(baseline(self.draws, self.spec, d, self.knots).values())
                + contributions(self.draws, self.spec, d).sum(axis=1))

    def recent_spend(self, periods: int = 13) -> np.ndarray:
        """Mean spend per period over the last ``periods`` periods (the 'current' allocation)."""
        return self.design.spend[:, -periods:].mean(axis=1)


def load_mmm(path: str | Path) -> MMModel:
    saved = load_model(path)
    if "mmm" not in saved:
        raise MercatorError(f"{path}: not a media-mix model")
    return saved["mmm"]


def _model(model: MMModel | str | Path | MMMResult) -> MMModel:
    if isinstance(model, MMModel):
        return model
    if isinstance(model, MMMResult):
        return model.model
    return load_mmm(model)


def find_model(location: str | Path | None, model_id: str | None = None) -> Path:
    """The saved media-mix model ``model_id`` (its file name without ``.mercator-mmm``) beside
    a DuckDB workspace file ``location``; the most recent one when ``model_id`` is None."""
    if model_id is None:
        return latest_model(location)
    folder = models_dir(location)
    path = folder / f"{model_id}{_SUFFIX}"
    if "/" in model_id or "\\" in model_id or not path.exists():
        known = sorted(p.name.removesuffix(_SUFFIX) for p in folder.glob(f"*{_SUFFIX}")) if folder.exists() else []
        raise NotFoundError(f"no media-mix model {model_id!r} in {folder}; models: {', '.join(known) or 'none'}")
    return path


def latest_model(location: str | Path | None) -> Path:
    """The most recently saved media-mix model beside a DuckDB workspace file ``location``
    (``None``: in ./models, where models of a Spark or no workspace go)."""
    folder = models_dir(location)
    found = sorted(folder.glob(f"*{_SUFFIX}"), key=lambda p: p.stat().st_mtime) if folder.exists() else []
    if not found:
        raise NotFoundError(f"no media-mix model in {folder}: fit one first (mercator mmm fit)")
    return found[-1]


# -- results -------------------------------------------------------------------------------------

def _q(a: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lo, hi = np.percentile(a, INTERVAL, axis=axis)
    return a.mean(axis=axis), lo, hi


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
        save_model(path, {"mmm": model}, config, _PACKAGES)
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


# -- budget --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class BudgetResult(Result):
    kind = "mmm_budget"
    title = "What should we do: budget"
    headline = ("allocation", "summary")

    def figures(self) -> list:
        a = self.to_frame("allocation")
        fig = go.Figure()
        fig.add_bar(x=a["channel"], y=a["current_spend"], name="current")
        fig.add_bar(x=a["channel"], y=a["optimal_spend"], name="recommended")
        fig.update_layout(barmode="group", title="Spend per period: current and recommended", height=380)
        return [fig]


def _bounds(m: MMModel, budget: float, bounds: Mapping | None, locks: tuple | list) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel spend bounds per period: ``{"x1": (lo, hi)}`` in spend units; locked
    channels stay at their current spend."""
    cur = m.recent_spend()
    lower, upper = np.zeros(len(m.channels)), np.full(len(m.channels), float(budget))
    unknown = [c for c in [*(bounds or {}), *locks] if c not in m.channels]
    if unknown:
        raise MercatorError(f"not a channel of the model: {', '.join(unknown)}; channels: {', '.join(m.channels)}")
    for ch, (lo, hi) in (bounds or {}).items():
        i = m.channels.index(ch)
        lower[i], upper[i] = float(lo), float(hi)
    for ch in locks:
        i = m.channels.index(ch)
        lower[i] = upper[i] = cur[i]
    return lower, upper


def optimize_budget(model, budget: float | None = None, *, bounds: Mapping | None = None, locks=(),
                    risk_aversion: float = 0.0, target_roas: float | None = None,
                    target_cpa: float | None = None) -> BudgetResult:
    """The allocation of a budget per period (default: the current total, the mean of the last
    13 periods) that maximizes the expected KPI, or ``mean - risk_aversion * sd`` over the
    posterior; with ``target_roas`` (or ``target_cpa`` for a count KPI) the largest budget
    whose optimal allocation still returns that much instead. Steady state: carryover counted
    in full (see ``plan`` for a horizon)."""
    m = _model(model)
    resp = m.response()
    cur = m.recent_spend()
    if cur.sum() <= 0:  # nothing spent lately: the whole period's mix is the reference
        cur = m.recent_spend(m.design.periods)
    if target_roas is not None or target_cpa is not None:
        target = target_roas if target_roas is not None else 1.0 / float(target_cpa)
        cap = budget or 3 * cur.sum()
        lower, upper = _bounds(m, cap, bounds, locks)
        try:
            budget, x = budget_for_target(resp, target, lower, upper, risk_aversion)
        except ValueError as e:
            raise MercatorError(str(e)) from None
    else:
        budget = float(budget if budget is not None else cur.sum())
        lower, upper = _bounds(m, budget, bounds, locks)
        try:
            x = optimize(resp, budget, lower, upper, risk_aversion, start=cur * budget / cur.sum())
        except ValueError as e:
            raise MercatorError(str(e)) from None
    now_tot = resp(cur * budget / cur.sum()).sum(axis=1)  # the current mix at the same budget
    opt_tot = resp(x).sum(axis=1)
    gain = opt_tot - now_tot
    g, gl, gh = _q(gain)
    base, *_ = _q(now_tot)
    per = resp(x)
    alloc = pd.DataFrame({"channel": m.channels, "current_spend": cur, "current_share": cur / cur.sum(),
                          "optimal_spend": x, "optimal_share": x / x.sum() if x.sum() > 0 else x,
                          "change": x - cur * budget / cur.sum(), "expected_response": per.mean(axis=0),
                          "marginal_roas": m.response().slope(x).mean(axis=0)})
    summary = pd.DataFrame([{"budget": budget, "current_mix_response": base, "optimal_response": opt_tot.mean(),
                             "gain": g, "gain_lo": gl, "gain_hi": gh, "gain_pct": g / base if base else np.nan,
                             "probability_better": float((gain > 0).mean()), "risk_aversion": risk_aversion}])
    moves = alloc.sort_values("change")
    action = (f"Reallocate the {budget:,.2f} per period: " + ", ".join(
        f"{r.channel} {r.current_share:.0%} -> {r.optimal_share:.0%}" for r in moves.itertuples()) + ".")
    rec = Recommendation(action, expected_impact=g, interval=(gl, gh), unit=f"{m.kpi} per period",
                         evidence=f"posterior of the media-mix model ({len(gain)} draws); chance it beats the "
                              f"current mix {float((gain > 0).mean()):.0%}")
    findings = [Finding(f"At {budget:,.2f} per period, the recommended mix is expected to bring {_n(g)} more {m.kpi} "
                        f"per period than the current mix ({g / base:+.1%}; 95% interval {_n(gl)} to {_n(gh)}).",
                        metric=m.kpi, value=g, interval=(gl, gh), impact=1.0)]
    if target_roas is not None or target_cpa is not None:
        findings.append(Finding(f"The largest budget that still returns {'ROAS ' + format(target_roas, ',.4g') if target_roas is not None else 'CPA ' + format(target_cpa, ',.4g')} "
                                f"is {budget:,.2f} per period.", metric="budget", value=budget, impact=0.9))
    return BudgetResult(tables={"allocation": alloc, "summary": summary}, findings=tuple(findings),
                        recommendations=(rec,), params={"budget": budget, "kpi": m.kpi, "target_roas": target_roas,
                                                        "target_cpa": target_cpa, "bounds": dict(bounds or {}),
                                                        "locks": list(locks)})


def scenario(model, shift: Mapping[str, float], periods: int = 13) -> ScenarioResult:
    """'Move 15% of spend from A to B': ``shift={"A": -0.15, "B": 0.15}`` changes each channel's
    spend per period by that share of its current spend (the mean of the last ``periods``);
    the expected change in KPI per period, with its interval, at steady state."""
    m = _model(model)
    unknown = [c for c in shift if c not in m.channels]
    if unknown:
        raise MercatorError(f"not a channel of the model: {', '.join(unknown)}; channels: {', '.join(m.channels)}")
    cur = m.recent_spend(periods)
    new = cur * (1 + np.array([float(shift.get(c, 0.0)) for c in m.channels]))
    if (new < 0).any():
        raise MercatorError("a shift takes a channel's spend below zero")
    resp = m.response()
    before, after = resp(cur).sum(axis=1), resp(new).sum(axis=1)
    delta = after - before
    d, lo, hi = _q(delta)
    b = before.mean()
    t = pd.DataFrame({"channel": m.channels, "current_spend": cur, "new_spend": new,
                      "response_change": (resp(new) - resp(cur)).mean(axis=0)})
    s = pd.DataFrame([{"spend_change": new.sum() - cur.sum(), "kpi_change": d, "kpi_change_lo": lo,
                       "kpi_change_hi": hi, "kpi_change_pct": d / b if b else np.nan,
                       "probability_positive": float((delta > 0).mean())}])
    text = ", ".join(f"{c} {v:+.0%}" for c, v in shift.items())
    f = Finding(f"{text}: expected {m.kpi} change {_n(d, sign=True)} per period ({d / b:+.1%} of media-driven {m.kpi}; 95% "
                f"interval {_n(lo, sign=True)} to {_n(hi, sign=True)}; chance it helps {float((delta > 0).mean()):.0%}).",
                metric=m.kpi, value=d, interval=(lo, hi), impact=1.0)
    return ScenarioResult(tables={"summary": s, "channels": t}, findings=(f,), params={"shift": dict(shift),
                                                                                       "periods": periods})


@dataclass(frozen=True)
class ScenarioResult(Result):
    kind = "mmm_scenario"
    title = "Scenario: a change of the media mix"


@dataclass(frozen=True)
class PlanResult(Result):
    kind = "mmm_plan"
    title = "Plan: media-driven KPI over a horizon"


def plan(model, spend: Mapping[str, float], horizon: int) -> PlanResult:
    """Expected media-driven KPI over the next ``horizon`` periods for a spend per period per
    channel, counting the carryover of past spend into the horizon and of the plan's spend
    beyond it."""
    m = _model(model)
    d = m.design
    L = m.spec.lmax
    x = np.array([float(spend.get(c, 0.0)) for c in m.channels])
    path = np.concatenate([d.spend[:, -L:], np.repeat(x[:, None], horizon, axis=1), np.zeros((len(x), L))], axis=1)
    base = np.concatenate([d.spend[:, -L:], np.zeros((len(x), horizon + L))], axis=1)
    with_plan = m.contributions(path)[:, :, L:]
    carry_in = m.contributions(base)[:, :, L:L + horizon].sum(axis=(1, 2))
    inside = with_plan[:, :, :horizon].sum(axis=(1, 2))
    after = with_plan[:, :, horizon:].sum(axis=(1, 2))
    rows = []
    for name, v in (("within_horizon", inside), ("carryover_from_past", carry_in), ("carryover_after_horizon", after)):
        mean, lo, hi = _q(v)
        rows.append({"part": name, "kpi": mean, "kpi_lo": lo, "kpi_hi": hi})
    t = pd.DataFrame(rows)
    f = Finding(f"Over the next {horizon} periods the plan ({x.sum():,.2f} per period) is expected to bring "
                f"{_n(t.kpi[0])} {m.kpi} from media ({_n(t.kpi_lo[0])} to {_n(t.kpi_hi[0])}), of which "
                f"{_n(t.kpi[1])} is carryover from past spend; {_n(t.kpi[2])} more lands after the horizon.",
                metric=m.kpi, value=float(t.kpi[0]), interval=(float(t.kpi_lo[0]), float(t.kpi_hi[0])), impact=1.0)
    return PlanResult(tables={"plan": t}, findings=(f,), params={"spend": dict(spend), "horizon": horizon})


def read_lift_tests(path: str | Path) -> tuple[LiftTest, ...]:
    """Lift tests from a CSV with columns channel, spend_before, spend_after, delta_kpi, sd
    (spend and KPI per period)."""
    f, name = _read(path)
    cols = ["channel", "spend_before", "spend_after", "delta_kpi", "sd"]
    missing = [c for c in cols if c not in f.columns]
    if missing:
        raise MercatorError(f"{name}: no column(s) {', '.join(missing)}; a lift test file has {', '.join(cols)}")
    out = []
    for i, row in enumerate(f[cols].itertuples(index=False)):  # a handful of rows: one per test
        try:
            vals = [float(v) for v in row[1:]]
        except ValueError:
            raise MercatorError(f"{name}: row {i + 2}: spend, delta_kpi and sd must be numbers") from None
        if vals[3] <= 0:
            raise MercatorError(f"{name}: row {i + 2}, column sd: the standard error must be positive")
        out.append(LiftTest(str(row[0]), *vals))
    return tuple(out)


def parse_shift(text: str) -> dict[str, float]:
    """``"A:-15%,B:+15%"`` -> {"A": -0.15, "B": 0.15}."""
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        if ":" not in part:
            raise MercatorError(f"shift {part!r}: write CHANNEL:+N% (for example tv:-15%)")
        ch, v = part.rsplit(":", 1)
        v = v.strip()
        try:
            out[ch.strip()] = float(v.rstrip("%")) / (100 if v.endswith("%") else 1)
        except ValueError:
            raise MercatorError(f"shift {part!r}: {v!r} is not a number or percentage") from None
    return out


def parse_bounds(text: str) -> dict[str, tuple[float, float]]:
    """``"A:0-1000,B:200-500"`` -> {"A": (0, 1000), "B": (200, 500)} (spend per period)."""
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        try:
            ch, rng = part.rsplit(":", 1)
            lo, hi = (float(v) for v in rng.split("-", 1))
        except ValueError:
            raise MercatorError(f"bounds {part!r}: write CHANNEL:LOW-HIGH (spend per period)") from None
        out[ch.strip()] = (lo, hi)
    return out
