"""Mix/rate decomposition of a KPI change across the segments of one dimension: pure pandas.

For a ratio KPI R = sum(num) / sum(den) = sum_s w_s r_s (w_s the segment's share of the
denominator, r_s its own ratio), the change between a baseline (0) and a current (1)
period splits exactly, segment by segment, into

    mix_s  = (w1_s - w0_s) (r0_s - R0)   the segment's weight moved
    rate_s = w1_s (r1_s - r0_s)          the segment's own ratio moved

and sum_s (mix_s + rate_s) = R1 - R0 (a segment absent from the baseline takes r0_s = R0).
For an additive KPI (a sum), a segment's contribution is simply its own change.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mercator.metrics import KPI


def decompose(base: pd.DataFrame, cur: pd.DataFrame, dim: str | list[str], k: KPI) -> pd.DataFrame:
    """One row per segment: values in both periods, mix, rate, contribution and share of the change.

    ``base`` and ``cur`` hold the part sums (``k.num`` and ``k.den``) per value of ``dim``.
    """
    dims = [dim] if isinstance(dim, str) else list(dim)
    cols = [k.num] + ([k.den] if k.den else [])
    b = base[dims + cols].copy()
    c = cur[dims + cols].copy()
    for df in (b, c):  # null dimension values (not reported) are a segment of their own
        for d in dims:
            df[d] = df[d].astype(object).where(df[d].notna(), None)
    m = b.merge(c, on=dims, how="outer", suffixes=("_0", "_1")).fillna({f"{x}_{s}": 0.0 for x in cols for s in "01"})
    n0, n1 = m[f"{k.num}_0"].astype(float), m[f"{k.num}_1"].astype(float)
    if k.den is None:
        m["value_0"], m["value_1"] = n0, n1
        m["mix"] = 0.0
        m["rate"] = n1 - n0
        total0, total1 = float(n0.sum()), float(n1.sum())
    else:
        d0, d1 = m[f"{k.den}_0"].astype(float), m[f"{k.den}_1"].astype(float)
        total0 = k.from_parts(n0.sum(), d0.sum())
        total1 = k.from_parts(n1.sum(), d1.sum())
        w0 = d0 / d0.sum() if d0.sum() else d0 * 0
        w1 = d1 / d1.sum() if d1.sum() else d1 * 0
        m["value_0"] = k.from_parts(n0, d0)
        m["value_1"] = k.from_parts(n1, d1)
        r0 = m["value_0"].fillna(total0)
        r1 = m["value_1"].fillna(r0)
        m["mix"] = (w1 - w0) * (r0 - total0)
        m["rate"] = w1 * (r1 - r0)
    m["contribution"] = m["mix"] + m["rate"]
    change = total1 - total0
    m["share"] = m["contribution"] / change if change and np.isfinite(change) else np.nan
    m = m.sort_values("contribution", key=lambda s: -s * np.sign(change or 1), ignore_index=True)
    m.attrs.update(total_0=total0, total_1=total1, change=change)
    return m


def explaining_set(seg: pd.DataFrame, cover: float = 0.8) -> int:
    """How many segments (largest contribution first) it takes to explain ``cover`` of the change."""
    share = seg["share"].fillna(0).to_numpy()
    cum = np.cumsum(share)
    hit = np.flatnonzero(cum >= cover)
    return int(hit[0]) + 1 if len(hit) else len(share) + 1


__all__ = ["decompose", "explaining_set"]
