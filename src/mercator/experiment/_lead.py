"""The lead of an experiment's findings: what the data shows on each metric, before any verdict."""

from __future__ import annotations

import pandas as pd

from mercator.results import Finding, number


def levels(r, params: dict) -> str:
    """Control -> treatment and the absolute change, in points for proportions (the bracket
    stays open for the relative change)."""
    if r.metric in params["proportions"]:
        return f"{100 * r.control:.2f}% -> {100 * r.treatment:.2f}% ({100 * r.effect:+.2f} pts"
    return f"{number(r.control)} -> {number(r.treatment)} ({number(r.effect, sign=True)}"


def lead_findings(effects: pd.DataFrame, params: dict) -> list[Finding]:
    """What the data shows, before any verdict: for each metric, which arm is ahead (the
    treated arm with the largest relative change, or the control when every arm is below
    it), by how much, with its interval, significant or not. Ranked above everything else."""
    ctl, alpha = params["control"], params["alpha"]
    out = []
    for metric, rows in effects.groupby("metric", sort=False):
        r = rows.loc[rows.rel_effect.idxmax()]
        others = f" (best of {len(rows)} arms)" if len(rows) > 1 else ""
        if r.rel_effect > 0:
            who = f"{r.variant} is ahead of {ctl}{others}"
        else:
            who = (f"{ctl} is ahead of every arm; the closest is {r.variant}" if len(rows) > 1
                   else f"{ctl} is ahead of {r.variant}")
        word = (f"significant ({params['correction']}-adjusted p = {r.p_adjusted:.2g})" if r.significant else
                f"not significant ({params['correction']}-adjusted p = {r.p_adjusted:.2g}): the interval "
                "includes no change")
        out.append(Finding(
            f"{metric}: {who}, {levels(r, params)}, {100 * r.rel_effect:+.1f}%, {100 * (1 - alpha):.0f}% interval "
            f"{100 * r.rel_effect_lo:+.1f}% to {100 * r.rel_effect_hi:+.1f}%); {word}.",
            metric=metric, segment=r.variant, value=r.rel_effect, interval=(r.rel_effect_lo, r.rel_effect_hi),
            impact=5000.0, confidence=1 - r.p_adjusted))
    if not (params.get("criteria") or {}).get("metric"):
        out.append(Finding("No decision rule was given, so there is no verdict: pass --min-lift (judged on the first metric) or "
                           "register the experiment with its criteria before the data comes in.", impact=900.0))
    return out


__all__ = ["lead_findings", "levels"]
