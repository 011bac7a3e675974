"""`mercator decide budget`: the budget allocator and the bid learner run day by day in a world
built from the workspace's media-mix model and ad performance, against the static media-mix
optimum and an oracle; the daily budget plan, the bid adjustments and the change log."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from mercator.decide._bids import BidLearner, auction_world, bulk_upload, run_bids
from mercator.decide._budget import BudgetAllocator, Guardrails, budget_world, run_budget
from mercator.errors import BadParameter
from mercator.mmm import MMModel, load_mmm
from mercator.results import Finding, Recommendation, Result

NAMES = {"learning": "learning allocator", "static": "static media-mix optimum", "oracle": "oracle"}


@dataclass(frozen=True)
class BudgetSimulation(Result):
    """Budgets and bids that learn, proved in simulation before they touch a real account."""

    kind = "decide_budget"
    title = "Budgets and bids that learn (simulated)"
    headline = ("summary", "bids")
    display: ClassVar[dict[str, tuple[str, ...]]] = {
        "summary": ("what", "allocator", "total", "share_of_oracle"),
        "plan": ("day", "channel", "spend", "status"),
        "bids": ("segment", "device", "hours", "adjustment", "oracle_multiplier"),
        "changes": ("day", "channel", "spend_before", "spend", "status")}

    def figures(self) -> list:
        daily = self.to_frame("daily")
        wide = daily.pivot(index="day", columns="allocator", values="kpi")
        fig = go.Figure()
        for name in ("learning", "static"):
            fig.add_scatter(x=wide.index, y=wide[name] / wide["oracle"], mode="lines", name=NAMES[name])
        fig.add_hline(y=1.0, line_dash="dot", annotation_text="oracle")
        fig.update_layout(title=f"Each day's {self.params['kpi']} as a share of the oracle's", height=380,
                          xaxis_title="day", yaxis_title="share of the oracle", yaxis_tickformat=".0%")
        plan = self.to_frame("plan")
        pace = go.Figure()
        for channel, part in plan.groupby("channel", sort=False):
            pace.add_scatter(x=part.day, y=part.spend, mode="lines", stackgroup="spend", name=channel)
        pace.update_layout(title="Budget pacing: the learning allocator's spend per channel per day", height=380,
                           xaxis_title="day", yaxis_title="spend per day")
        bids = self.to_frame("bids")
        learned = go.Figure()
        for device, part in bids.groupby("device", sort=False):
            learned.add_scatter(x=part.oracle_multiplier, y=part.multiplier, mode="markers", name=device,
                                text=part.segment + ", " + part.hours)
        top = float(max(bids.oracle_multiplier.max(), bids.multiplier.max()))
        learned.add_scatter(x=[0, top], y=[0, top], mode="lines", name="learned = best", line={"dash": "dot"})
        learned.update_layout(title="Bid multipliers per segment, device and hours: learned against the best",
                              height=380, xaxis_title="best multiplier (oracle)", yaxis_title="learned multiplier")
        return [fig, pace, learned]


def _device_figures(ws) -> pd.DataFrame | None:
    """CPC, value per click and relative volume per device from ad performance (in the engine)."""
    if ws is None or not ws.count("ad_performance"):
        return None
    t = ws.table("ad_performance")
    t = t.filter(t.device.notnull())
    g = t.group_by("device").aggregate(clicks=t.clicks.sum(), cost=t.cost.sum(), value=t.conversion_value.sum())
    g = g.filter((g.clicks > 0) & (g.cost > 0) & (g.value > 0))
    g = g.mutate(cpc=g.cost / g.clicks, value_per_click=g.value / g.clicks).to_pandas()
    if g.empty:
        return None
    return g.assign(volume=g.clicks / g.clicks.mean())[["device", "cpc", "value_per_click", "volume"]]


def _model(model) -> MMModel:
    if isinstance(model, MMModel):
        return model
    if isinstance(getattr(model, "model", None), MMModel):
        return model.model
    return load_mmm(model)


def simulate_budget(model, *, ws=None, days: int = 90, budget: float | None = None, drift: float = 0.5,
                    noise: float = 0.05, guardrails: Guardrails | None = None, price_drift: float = 0.3,
                    campaign: str = "All campaigns", seed: int = 0) -> BudgetSimulation:
    """The learning budget allocator and bid learner over ``days`` simulated days.

    ``model``: a fitted media-mix model (or its saved path); its curves (daily), with one
    posterior draw as the truth and ``drift`` (each channel's effect moves by up to that share
    over the horizon), make the budget world. ``budget``: per day (default: the model's recent
    spend per period, per day). ``ws``: where ad performance gives each device's CPC and value
    per click for the auctions (planted figures otherwise)."""
    if days < 7:
        raise BadParameter(f"days must be at least 7; got {days}")
    m = _model(model)
    period = float(m.design.period_days)
    budget = float(budget if budget is not None else m.recent_spend().sum() / period)
    rails = guardrails or Guardrails()
    world = budget_world(m.response(), budget, days=days, drift=drift, noise=noise, period_days=period, seed=seed)
    allocator = BudgetAllocator(m.response(), budget, period_days=period, guardrails=rails, seed=seed)
    daily, changes = run_budget(world, allocator, seed=seed)
    devices = _device_figures(ws)
    auctions = auction_world(devices, days=days, drift=price_drift, seed=seed)
    profit, bids = run_bids(auctions, BidLearner(len(auctions.cells), guardrails=rails, seed=seed), seed=seed)

    tot = daily.groupby("allocator", sort=False).kpi.sum()
    pro = profit.groupby("allocator", sort=False).profit.sum()
    summary = pd.concat([
        pd.DataFrame({"what": "budget", "allocator": tot.index, "total": tot.to_numpy(),
                      "share_of_oracle": (tot / tot["oracle"]).to_numpy()}),
        pd.DataFrame({"what": "bids", "allocator": pro.index, "total": pro.to_numpy(),
                      "share_of_oracle": (pro / pro["oracle"]).to_numpy()})], ignore_index=True)
    plan = changes[["day", "channel", "spend", "spend_before", "change", "status", "evidence"]]
    moved = changes[changes.status != "unchanged"]
    held = int(moved.status.str.startswith(("held", "limited")).sum())
    learn, static = float(tot["learning"] / tot["oracle"]), float(tot["static"] / tot["oracle"])
    gain = float(tot["learning"] - tot["static"])
    findings = [
        Finding(f"Over {days} simulated days the learning allocator earned {learn:.1%} of the oracle's {m.kpi} "
                f"(the static media-mix optimum {static:.1%}; {gain:+,.0f} {m.kpi} against it) with a budget of "
                f"{budget:,.2f} a day and the channels' effects drifting by up to {drift:.0%}.",
                metric="share_of_oracle", value=learn, impact=1.0),
        Finding(f"The bid learner earned {pro['learning'] / pro['oracle']:.1%} of the oracle's profit over "
                f"{len(auctions.cells)} segment x device x hour cells (today's bids {pro['static'] / pro['oracle']:.1%});"
                f" its multipliers are within a median {np.median(np.abs(np.log(bids.multiplier / bids.oracle_multiplier))):.0%}"
                f" of the best ones." + ("" if devices is not None else " Device figures are planted (the workspace "
                                                                      "has no ad performance with clicks and value)."),
                metric="bids_share_of_oracle", value=float(pro["learning"] / pro["oracle"]), impact=0.8),
        Finding(f"Guardrails: {len(moved)} channel-day moves, {held} of them limited or held "
                f"(at most {rails.max_change:.0%} a day"
                + (f", approval above {rails.approval_above:,.2f}" if rails.approval_above else "")
                + f"); the kill switch {'was thrown' if allocator.killed else 'stayed off'}.", impact=0.6),
    ]
    last = plan[plan.day == plan.day.max()]
    rec = Recommendation(
        "Start from the media-mix plan and let the allocator move it within the rails: " + ", ".join(
            f"{r.channel} {r.spend:,.0f}/day" for r in last.itertuples()) + " by the last simulated day.",
        expected_impact=gain, unit=f"{m.kpi} over {days} days", interval=None,
        evidence=f"simulation on the media-mix model's curves (seed {seed}); not yet a live account")
    return BudgetSimulation(
        tables={"summary": summary, "daily": daily[["day", "allocator", "kpi"]], "plan": plan, "bids": bids,
                "bulk_upload": bulk_upload(bids, campaign), "changes": moved.reset_index(drop=True)},
        findings=tuple(findings), recommendations=(rec,),
        params={"kpi": m.kpi, "days": days, "budget": budget, "drift": drift, "noise": noise, "seed": seed,
                "price_drift": price_drift, "channels": list(m.channels), "killed": allocator.killed,
                "guardrails": {"max_change": rails.max_change, "min_share": rails.min_share, "caps": rails.caps,
                               "approval_above": rails.approval_above, "auto_approve": rails.auto_approve,
                               "kill": rails.kill, "kill_below": rails.kill_below},
                "device_figures": "ad_performance" if devices is not None else "planted"})


__all__ = ["BudgetSimulation", "simulate_budget"]
