"""What to do with a fitted model: the best budget split, scenarios and spend plans."""


from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from mercator.errors import MercatorError
from mercator.mmm._budget import budget_for_target, optimize
from mercator.mmm._fitted import MMModel, _q, as_model
from mercator.results import Finding, Recommendation, Result
from mercator.results import number as _n


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
    m = as_model(model)
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
    m = as_model(model)
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
    m = as_model(model)
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

