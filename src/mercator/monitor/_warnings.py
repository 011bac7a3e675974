"""Early warnings: for each live objective, where the primary KPI will land (the forecast
capability's ``pace``: what happened so far plus the forecast of the rest of the period, with
its interval) and the leading indicators that move before it does: spend pace against the
budget, CTR and CVR against the baseline before launch, delivery, frequency and the guardrails.
Each gets a status, on track / at risk / off track, and the reason in numbers; the objective's
status is the worst of them.

Rules of the statuses (stated in docs/monitor.md):

- pace: on track when the landing meets the target; at risk when it misses the target but meets
  the acceptable threshold (or, without one, the target is inside the landing's 95% interval);
  off track otherwise;
- spend pace: spent so far against the budget's share for the days gone, within 15% on track,
  within 30% at risk;
- CTR and CVR over the last ``recent`` days against the baseline period: a fall of more than
  10% significant at 5% is at risk, more than 25% significant at 1% is off track (a two-sample
  test of proportions, statsmodels);
- delivery: impressions per day at least 80% of the baseline's on track, 50% at risk;
- frequency (impression events per person in the last days, where events carry impressions
  with a user id): above 5 at risk, above 10 off track;
- a guardrail beyond its limit so far is off track.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from mercator.errors import MercatorError
from mercator.metrics import Period, kpi, part_frame
from mercator.monitor._objectives import campaign_kpi, campaign_rows, locked_objectives
from mercator.results import Finding, Result

ORDER = {"on track": 0, "at risk": 1, "off track": 2}
PARTS = ("cost", "impressions", "clicks", "conversions", "conversion_value")


@dataclass(frozen=True)
class EarlyWarnings(Result):
    """Live objectives: where each lands and the leading indicators, with a status and a reason."""

    kind = "early_warnings"
    title = "Early warnings"
    headline = ("objectives", "indicators")
    display: ClassVar[dict[str, tuple[str, ...]]] = {
        "objectives": ("objective_id", "overall", "status", "kpi", "landing", "lo_95", "hi_95", "target"),
        "indicators": ("objective_id", "indicator", "status", "value", "reference", "reason")}

    def figures(self) -> list:
        import plotly.graph_objects as go

        df = self.tables.get("objectives")
        if df is None or df.empty or df.landing.isna().all():
            return []
        d = df.dropna(subset=["landing"])
        colors = d.status.map({"on track": "#2e7d32", "at risk": "#f9a825", "off track": "#c62828"}).fillna("#777")
        fig = go.Figure(go.Scatter(x=d.landing / d.target, y=d.objective_id, mode="markers",
                                   marker={"color": colors, "size": 12},
                                   error_x={"type": "data", "symmetric": False,
                                            "array": (d.hi_95 - d.landing) / d.target,
                                            "arrayminus": (d.landing - d.lo_95) / d.target}))
        fig.add_vline(x=1.0, line_dash="dash", annotation_text="target")
        fig.update_layout(title="Where each objective lands, as a share of its target (95% interval)",
                          xaxis_tickformat=".0%", height=160 + 40 * len(d))
        return [fig]


def _good(k, value: float, ref: float) -> bool:
    return value >= ref if k.higher_is_better else value <= ref


def _pace_status(k, landing: float, lo: float, hi: float, target: float, threshold: float | None) -> str:
    if _good(k, landing, target):
        return "on track"
    if threshold is not None and np.isfinite(threshold):
        return "at risk" if _good(k, landing, threshold) else "off track"
    best = hi if k.higher_is_better else lo
    return "at risk" if _good(k, best, target) else "off track"


def run_rate(ws, o: pd.Series, k, day: dt.date, recent_days: int) -> tuple[float, float, float]:
    """Where the KPI lands if the last ``recent_days`` days' daily rate holds to the end: what
    happened so far plus that rate times the days left, with a 95% percentile bootstrap interval
    over those days (scipy.stats.bootstrap). The fallback when the history is too short for the
    forecast models' backtest."""
    from scipy import stats

    so_far = Period(o.start, min(day, o.end))
    where = campaign_rows(o.campaign) if k.table == "ad_performance" else None
    daily = part_frame(ws, [k.name], period=so_far, grain="day", table=k.table,
                       date_column="date" if k.table == "ad_performance" else "ts", where=where)
    if daily.empty:
        raise MercatorError(f"no rows since {o.start} to pace {k.name} from")
    left = (o.end - so_far.end).days
    recent = daily.tail(recent_days)
    done = [daily[k.num].sum()] + ([daily[k.den].sum()] if k.den else [])
    data = (recent[k.num].to_numpy(float),) + ((recent[k.den].to_numpy(float),) if k.den else ())

    def landing(*parts, axis=-1):
        num = done[0] + left * parts[0].mean(axis=axis)
        if k.den is None:
            return num
        den = done[1] + left * parts[1].mean(axis=axis)
        return num * k.scale / np.where(den > 0, den, np.nan)

    value = float(landing(*data))
    if len(recent) < 3:
        return value, np.nan, np.nan
    ci = stats.bootstrap(data, landing, paired=True, vectorized=True, n_resamples=2000, method="percentile",
                         random_state=0).confidence_interval
    return value, float(ci.low), float(ci.high)


def _sums(ws, period: Period, campaign: str | None) -> dict:
    df = part_frame(ws, list(PARTS), period=period, where=campaign_rows(campaign))
    return {c: float(df[c].iloc[0]) if len(df) else 0.0 for c in PARTS}


def _rate_indicator(name: str, num: str, den: str, recent: dict, base: dict) -> dict:
    from statsmodels.stats.proportion import proportions_ztest

    if base[den] <= 0 or recent[den] <= 0:
        return {"indicator": name, "status": "unknown", "value": np.nan, "reference": np.nan,
                "reason": f"no {den} to compare {name} over"}
    r, b = recent[num] / recent[den], base[num] / base[den]
    change = r / b - 1 if b > 0 else np.nan
    _, p = proportions_ztest([recent[num], base[num]], [recent[den], base[den]], alternative="smaller")
    status = ("off track" if change < -0.25 and p < 0.01 else "at risk" if change < -0.10 and p < 0.05
              else "on track")
    return {"indicator": name, "status": status, "value": r, "reference": b,
            "reason": f"{name.upper()} {r:.2%} in the last days against {b:.2%} before launch ({change:+.0%}, "
                      f"one-sided p {p:.2g})"}


def _frequency(ws, campaign: str | None, period: Period) -> dict:
    e = ws.table("events")
    e = e.filter((e.event_name == "impression") & (e.ts >= pd.Timestamp(period.start))
                 & (e.ts < pd.Timestamp(period.end) + pd.Timedelta(days=1)) & e.user_id.notnull())
    if campaign is not None:
        e = e.filter(e.campaign == campaign)
    row = e.aggregate(n=e.count(), people=e.user_id.nunique()).to_pyarrow().to_pylist()[0]
    if not row["people"]:
        return {"indicator": "frequency", "status": "unknown", "value": np.nan, "reference": np.nan,
                "reason": "no impression events with a user id for this campaign: frequency needs reach"}
    f = row["n"] / row["people"]
    return {"indicator": "frequency", "status": "off track" if f > 10 else "at risk" if f > 5 else "on track",
            "value": f, "reference": np.nan,
            "reason": f"{f:.1f} impressions per person over {row['people']:,} people in the last days"}


def _indicators(ws, o: pd.Series, today: dt.date, recent_days: int) -> list[dict]:
    start, end = o.start, o.end
    days_total = (end - start).days + 1
    gone = (min(today, end) - start).days + 1
    so_far = Period(start, min(today, end))
    recent = Period(max(start, so_far.end - dt.timedelta(days=recent_days - 1)), so_far.end)
    base_period = Period(start - dt.timedelta(days=days_total), start - dt.timedelta(days=1))
    now_s, rec_s, base_s = (_sums(ws, p, o.campaign) for p in (so_far, recent, base_period))
    out = []
    if pd.notna(o.budget) and o.budget > 0:
        due = o.budget * gone / days_total
        dev = now_s["cost"] / due - 1
        out.append({"indicator": "spend pace", "value": now_s["cost"], "reference": due,
                    "status": "on track" if abs(dev) <= 0.15 else "at risk" if abs(dev) <= 0.30 else "off track",
                    "reason": f"spent {now_s['cost']:,.0f} of {o.budget:,.0f} with {gone} of {days_total} days "
                              f"gone ({dev:+.0%} against an even pace)"})
    out.append(_rate_indicator("ctr", "clicks", "impressions", rec_s, base_s))
    out.append(_rate_indicator("cvr", "conversions", "clicks", rec_s, base_s))
    per_day, base_day = rec_s["impressions"] / recent.days, base_s["impressions"] / base_period.days
    if base_day > 0:
        share = per_day / base_day
        out.append({"indicator": "delivery", "value": per_day, "reference": base_day,
                    "status": "on track" if share >= 0.8 else "at risk" if share >= 0.5 else "off track",
                    "reason": f"{per_day:,.0f} impressions a day in the last days, {share:.0%} of the "
                              f"{base_day:,.0f} a day before launch"})
    out.append(_frequency(ws, o.campaign, recent))
    for name, limit in json.loads(o.guardrails or "{}").items():
        g = kpi(name)
        v = campaign_kpi(ws, name, o.campaign, so_far) if g.table == "ad_performance" else np.nan
        if not np.isfinite(v):
            out.append({"indicator": f"guardrail {name}", "status": "unknown", "value": np.nan, "reference": limit,
                        "reason": f"no ad delivery rows to compute {name} from so far"})
            continue
        ok = _good(g, v, limit)
        out.append({"indicator": f"guardrail {name}", "status": "on track" if ok else "off track", "value": v,
                    "reference": limit, "reason": f"{g.label} {g.format(v)} so far, limit {g.format(limit)}"
                                                  + ("" if ok else ": breached")})
    return out


def early_warnings(ws, objective_id: str | None = None, *, today: dt.date | str | None = None,
                   recent_days: int = 7) -> EarlyWarnings:
    """Every locked objective live on ``today`` (default: the last day with ad data), or the one
    named: where it lands and its leading indicators, each with a status and a reason."""
    from mercator.forecast import pace
    from mercator.metrics import date_range

    rows = locked_objectives(ws)
    if objective_id is not None:
        rows = rows[rows.objective_id == objective_id]
        if rows.empty:
            raise MercatorError(f"objective {objective_id!r} is not locked (or does not exist): warnings judge "
                                "locked objectives only")
    day = pd.Timestamp(today).date() if today is not None else date_range(ws)[1]
    if objective_id is None:
        rows = rows[(rows.start <= day) & (rows.end >= day)]
    objectives, indicators, findings = [], [], []
    for o in rows.itertuples(index=False):
        o = pd.Series(o._asdict())
        k = kpi(o.kpi)
        threshold = None if pd.isna(o.threshold) else float(o.threshold)
        entry = {"objective_id": o.objective_id, "kpi": o.kpi, "campaign": o.campaign, "target": o.target,
                 "threshold": threshold, "start": o.start, "end": o.end, "landing": np.nan, "lo_95": np.nan,
                 "hi_95": np.nan}
        if day < o.start:
            entry.update(status="not started", reason=f"starts {o.start}")
        else:
            how = "forecast"
            try:
                if day >= o.end:
                    raise MercatorError("the period has ended")
                res = pace(ws, o.kpi, target=float(o.target), start=o.start, end=o.end,
                           by="campaign" if o.campaign else None, segment=o.campaign, until=day, n_jobs=1)
                p = res.to_frame("pace").iloc[0]
                landing, lo, hi = float(p.landing), float(p.lo_95), float(p.hi_95)
            except MercatorError as exc:
                how = f"run rate of the last {recent_days} days ({exc})"
                try:
                    landing, lo, hi = run_rate(ws, o, k, day, recent_days)
                except MercatorError as exc2:
                    landing = lo = hi = np.nan
                    entry.update(status="unknown", reason=f"no pace: {exc2}")
            if np.isfinite(landing):
                entry.update(landing=landing, lo_95=lo, hi_95=hi)
                entry["status"] = _pace_status(k, landing, lo, hi, float(o.target), threshold)
                entry["reason"] = (f"{k.label} lands at {k.format(landing)} ({k.format(lo)} to {k.format(hi)}) "
                                   f"against the target {k.format(o.target)}"
                                   + (f", acceptable {k.format(threshold)}" if threshold is not None else "")
                                   + f"; projected by the {how}")
            ind = _indicators(ws, o, day, recent_days)
            for i in ind:
                i["objective_id"] = o.objective_id
            indicators += ind
            worst = max([entry["status"], *(i["status"] for i in ind)], key=lambda s: ORDER.get(s, -1))
            if ORDER.get(worst, -1) > ORDER.get(entry["status"], -1):
                entry["overall"] = worst
        entry["overall"] = entry.get("overall", entry["status"])
        objectives.append(entry)
        flagged = [i for i in indicators if i["objective_id"] == o.objective_id and i["status"] in
                   ("at risk", "off track")]
        text = f"{o.objective_id} is {entry['overall']} on {day}: {entry['reason']}"
        if flagged:
            text += "; " + "; ".join(f"{i['indicator']} {i['status']} ({i['reason']})" for i in flagged)
        findings.append(Finding(text + ".", metric=o.kpi, value=None if np.isnan(entry["landing"]) else
                                entry["landing"], interval=None if np.isnan(entry["landing"]) else
                                (entry["lo_95"], entry["hi_95"]),
                                impact=1.0 + ORDER.get(entry["overall"], 0)))
    if not objectives:
        findings.append(Finding(f"No locked objective is live on {day}.", impact=0.5))
    cols = ["objective_id", "overall", "status", "kpi", "campaign", "landing", "lo_95", "hi_95", "target",
            "threshold", "start", "end", "reason"]
    return EarlyWarnings(tables={"objectives": pd.DataFrame(objectives, columns=cols),
                                 "indicators": pd.DataFrame(indicators, columns=["objective_id", "indicator", "status",
                                                                                 "value", "reference", "reason"])},
                         findings=tuple(findings), params={"today": day, "objective_id": objective_id})
