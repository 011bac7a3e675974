"""Segment: who the customers are. RFM scores and named segments (clustering comes next).

Scores are computed in the engine (``_rfm``); the result carries segment sizes and
profiles, and the segmentation is saved to the workspace (``segments`` with each segment's
logic, ``segment_members`` with who is in it) so a target list can always be traced back.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

import ibis
import numpy as np
import pandas as pd
import plotly.graph_objects as go

from mercator.errors import MercatorError
from mercator.results import Finding, Result
from mercator.segment._rfm import RFM_SEGMENTS, cut_points, rfm_table
from mercator.workspace import Workspace

__all__ = ["RFM_SEGMENTS", "RfmResult", "rfm"]

_DESCRIPTIONS = {name: text for name, _r, _f, text in RFM_SEGMENTS} | {"other": "not matched by the grid"}


@dataclass(frozen=True)
class RfmResult(Result):
    kind = "rfm"
    title = "RFM segments"

    def figures(self) -> list:
        seg = self.to_frame("segments")
        if seg.empty:
            return []
        tree = go.Figure(go.Treemap(labels=seg["segment"], parents=[""] * len(seg), values=seg["customers"],
                                    customdata=seg["share_of_revenue"],
                                    texttemplate="%{label}<br>%{value:,} customers<br>%{customdata:.0%} of revenue"))
        tree.update_layout(title="Segment map: customers per RFM segment", height=420)
        grid = self.to_frame("grid")
        heat = go.Figure(go.Heatmap(x=grid.columns.astype(str), y=grid.index.astype(str), z=grid.to_numpy(),
                                    colorscale="Blues", hovertemplate="F %{x}, R %{y}: %{z:,} customers"))
        heat.update_layout(title="Customers by recency (R) and frequency (F) score", xaxis_title="F",
                           yaxis_title="R", height=380)
        return [tree, heat]


def rfm(ws: Workspace, *, quantiles: int | list[float] = 5, as_of: dt.date | None = None, min_size: int = 50,
        save: bool = True) -> RfmResult:
    """RFM scores and named segments of every customer with orders up to ``as_of`` (default: the
    day after the last order); profiles in words; saved to the workspace when ``save``."""
    cut_points(quantiles)  # validates before any query
    o = ws.table("orders")
    last = o.aggregate(hi=o.ts.max()).to_pyarrow().to_pylist()[0]["hi"]
    if last is None:
        raise MercatorError("orders is empty: load orders first (mercator ingest)")
    as_of = as_of or (last.date() + dt.timedelta(days=1))
    t = rfm_table(o, as_of, quantiles)
    per = t.group_by("segment").aggregate(
        customers=t.count(), revenue=t.monetary.sum(), recency_days=t.recency_days.mean(),
        frequency=t.frequency.mean(), monetary=t.monetary.mean(), r=t.r.mean(), f=t.f.mean(),
        m=t.m.mean()).to_pandas()
    if per.empty:
        raise MercatorError(f"no customers with orders up to {as_of}")
    grid = t.group_by(["r", "f"]).aggregate(n=t.count()).to_pandas().pivot(index="r", columns="f", values="n") \
        .fillna(0).astype(int).sort_index(ascending=False)
    total_n, total_rev = per["customers"].sum(), per["revenue"].sum()
    overall = {c: float((per[c] * per["customers"]).sum() / total_n) for c in ("recency_days", "frequency", "monetary")}
    per["share_of_customers"] = per["customers"] / total_n
    per["share_of_revenue"] = per["revenue"] / total_rev if total_rev else np.nan
    per["too_small"] = per["customers"] < min_size
    per["description"] = per["segment"].map(_DESCRIPTIONS)
    per["profile"] = [_profile(r, overall) for r in per.itertuples()]
    order = {name: i for i, (name, *_rest) in enumerate(RFM_SEGMENTS)}
    per = per.sort_values("segment", key=lambda s: s.map(order).fillna(len(order)), ignore_index=True)
    params = {"quantiles": quantiles, "as_of": as_of.isoformat(), "min_size": min_size,
              "customers": int(total_n), "cut_points": cut_points(quantiles)}
    segment_set = "rfm-" + hashlib.sha256(json.dumps({**params, "revenue": round(float(total_rev), 2)},
                                                     sort_keys=True).encode()).hexdigest()[:12]
    params["segment_set"] = segment_set
    if save:
        _save(ws, t, per, segment_set, params)
    findings = [Finding(r.profile, metric="customers", segment=r.segment, value=float(r.customers),
                        impact=float(r.share_of_revenue) if r.share_of_revenue == r.share_of_revenue else 0.0)
                for r in per.itertuples()]
    small = per[per.too_small]
    if len(small):
        findings.append(Finding(f"Segments under {min_size} customers, too small to act on alone: "
                                + ", ".join(f"{r.segment} ({r.customers})" for r in small.itertuples()) + ".",
                                metric="customers", impact=0.0))
    return RfmResult(tables={"segments": per, "grid": grid}, findings=tuple(findings), params=params)


def _profile(r, overall: dict) -> str:  # noqa: ANN001
    return (f"{r.segment} ({r.description}): {r.customers:,} customers ({r.share_of_customers:.0%}), "
            f"{r.share_of_revenue:.0%} of revenue; last purchase {r.recency_days:,.0f} days ago on average "
            f"(all customers {overall['recency_days']:,.0f}), {r.frequency:.1f} purchase days "
            f"({overall['frequency']:.1f}), {r.monetary:,.2f} spent ({overall['monetary']:,.2f}).")


def _save(ws: Workspace, t, per: pd.DataFrame, segment_set: str, params: dict) -> None:  # noqa: ANN001
    """The definitions and the members, replacing an earlier save of the same run."""
    grid = {name: {"r": list(r), "f": list(f)} for name, r, f, _ in RFM_SEGMENTS}
    now = pd.Timestamp.now(tz="UTC").tz_localize(None)
    defs = pd.DataFrame({
        "segment_set": segment_set, "segment": per["segment"], "kind": "rfm",
        "definition": [json.dumps({"scores_5_level": grid.get(s), "rule": "first match in RFM_SEGMENTS order"
                                   if s != "other" else "no rule matched"}) for s in per["segment"]],
        "params": json.dumps(params), "customers": per["customers"].astype("int64"), "created_at": now})
    members = t.select(segment_set=ibis.literal(segment_set), customer_id=t.customer_id, segment=t.segment)
    ws.replace("segments", defs, on=["segment_set"])
    ws.replace("segment_members", members, on=["segment_set"])
