"""The anomaly scan behind explore: every KPI of every watched series, judged together.

One scan looks at hundreds of series (each KPI overall, per segment and per pair of
segments) over hundreds of days, so a per-series threshold alone would report dozens of
one-day blips on perfectly clean data. Here:

1. Every tested day and every level shift gets a p-value. A day's is the larger of two:
   its robust z against the trailing band (Student t with :data:`Z_DF` degrees of freedom,
   since the band's scale is itself estimated from four weeks), and, where the KPI rests on
   a count (conversions, clicks, events), the Poisson probability of that count given the
   expected rate. A ratio with few events a day is therefore never flagged on noise.
2. Benjamini-Hochberg across the whole scan (all series, all days; SciPy's
   ``false_discovery_control``) keeps the expected share of false findings at :data:`FDR`.
3. A single day must also be off by :data:`MIN_DAY_CHANGE` of its expected value (size),
   and a shift lasts at least two weeks (``level_shift``'s minimum segment).
4. What remains is ranked by what is at stake, in money where the workspace knows prices
   (:func:`unit_values`): a CVR drop is the conversions lost times the value of one.

A stretch of at least :data:`GAP_DAYS` days without any row is a gap in the data, not a
drop: it is reported as such and the stretches either side are scanned apart.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
from scipy import stats

from mercator.explore._anomaly import band, decay, level_shift
from mercator.metrics import EVENT_COUNT_PREFIX, kpi, part_frame, with_kpis
from mercator.workspace import Workspace

#: Expected share of false findings among those reported (Benjamini-Hochberg, whole scan).
FDR = 0.05
#: A single day is reported only when it is at least this far (relative) from its expected value.
MIN_DAY_CHANGE = 0.20
#: Degrees of freedom of a day's robust z: its scale is a median absolute deviation over 28
#: days, about as reliable as a standard deviation from 10 (its efficiency is 37%).
Z_DF = 10
#: Days without a single row that make a gap (the scan does not bridge it).
GAP_DAYS = 7
#: Parts that count events, so that Poisson noise bounds what one day can show.
COUNT_PARTS = frozenset({"impressions", "clicks", "conversions", "sessions", "bounces", "orders", "visits", "users",
                         "converting_visits"})


def is_count(part: str) -> bool:
    return part in COUNT_PARTS or part.startswith(EVENT_COUNT_PREFIX)


def unit_values(ws: Workspace, events: pd.DataFrame | None = None) -> tuple[dict[str, float], str]:
    """What one unit of each KPI part is worth, and the unit of that worth.

    In currency where ad_performance has conversions: a conversion is worth its mean
    conversion value (or, without values, its mean cost: what buying one costs), a click its
    CPC, an impression its cost. Events' visits are worth the visit conversion rate times a
    conversion; one event of a named type counts as one visit at stake. The unit is the ads'
    currency code (or "currency" where they mix several); without ads, worth is in
    "conversions"."""
    values: dict[str, float] = {"cost": 1.0, "conversion_value": 1.0, "revenue": 1.0}
    per_conversion, unit = 1.0, "conversions"
    if ws.count("ad_performance"):
        t = part_frame(ws, ["cost", "clicks", "impressions", "conversions", "conversion_value"]).iloc[0]
        if t["conversions"] > 0:
            per_conversion = float((t["conversion_value"] or t["cost"]) / t["conversions"])
            ads = ws.table("ad_performance")
            codes = ads.select("currency").distinct().limit(2).to_pandas()["currency"].dropna() \
                if "currency" in ads.columns else pd.Series(dtype=str)
            unit = str(codes.iloc[0]) if len(codes) == 1 else "currency"
        if t["clicks"] > 0:
            values["clicks"] = float(t["cost"] / t["clicks"])
        if t["impressions"] > 0:
            values["impressions"] = float(t["cost"] / t["impressions"])
    if unit == "conversions":  # no prices: money-valued parts cannot be ranked against conversions
        values.update({"cost": math.nan, "conversion_value": math.nan, "revenue": math.nan})
    values["conversions"] = values["converting_visits"] = per_conversion
    if events is not None and events["visits"].sum() > 0:
        values["visits"] = values["users"] = per_conversion * events["converting_visits"].sum() / events["visits"].sum()
    return values, unit


def worth(values: dict[str, float], part: str) -> float:
    if part.startswith(EVENT_COUNT_PREFIX):
        return values.get("visits", math.nan)
    return values.get(part, math.nan)


def gaps(days: pd.DatetimeIndex, lo: pd.Timestamp, hi: pd.Timestamp) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """``(first, last)`` missing day of every run of at least :data:`GAP_DAYS` days without rows."""
    have = pd.Series(True, index=pd.DatetimeIndex(days).unique()).reindex(pd.date_range(lo, hi, freq="D"),
                                                                            fill_value=False)
    run = (have != have.shift()).cumsum()
    out = []
    for _, g in have[~have].groupby(run[~have]):
        if len(g) >= GAP_DAYS:
            out.append((g.index[0], g.index[-1]))
    return out


def stretches(lo: pd.Timestamp, hi: pd.Timestamp, holes: list) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """The spans between the gaps."""
    out, start = [], lo
    for a, b in holes:
        if a > start:
            out.append((start, a - pd.Timedelta(days=1)))
        start = b + pd.Timedelta(days=1)
    if start <= hi:
        out.append((start, hi))
    return out


def day_pvalues(b: pd.DataFrame, k, parts: pd.DataFrame) -> pd.Series:
    """Two-sided p-value of every day of a band: the larger of the robust z's (Student t) and,
    where the KPI rests on a count, the Poisson probability of that count."""
    p = 2 * stats.t.sf(np.abs(b["z"].to_numpy(float)), Z_DF)
    expected = b["expected"].where(b["expected"] > 0)
    observed = mean = None
    if k.den is None and is_count(k.num):
        observed, mean = b["value"], expected
    elif k.den is not None and is_count(k.num):
        observed, mean = parts[k.num], expected * parts[k.den] / k.scale
    elif k.den is not None and is_count(k.den):  # cost per conversion: the conversions are the count
        observed, mean = parts[k.den], parts[k.num] * k.scale / expected
    if observed is not None:
        o, m = observed.to_numpy(float), np.maximum(mean.to_numpy(float), 1e-9)
        pc = np.minimum(1.0, 2 * np.minimum(stats.poisson.cdf(o, m), stats.poisson.sf(o - 1, m)))
        p = np.fmax(p, pc)
    return pd.Series(p, index=b.index).where(b["z"].notna() & b["value"].notna())


def _events_per_day(k, part: pd.DataFrame) -> float | None:
    """The median daily count behind a ratio KPI (its counted part), if it has one."""
    counted = [c for c in (k.num, k.den) if c is not None and is_count(c)] if k.den is not None else []
    return float(part[counted[0]].median()) if counted else None


def scan(frames: dict, kpis: tuple[str, ...], since: dt.date, values: dict[str, float], *,
         fatigue_dim: str | None = None, counts: set[str] = frozenset()) -> tuple:
    """Every candidate finding of every series, before the false-discovery control.

    Returns ``(records, bands, holes, tested)``: the shifts, decays and out-of-band days of
    sufficient size (each with its p-value); each series' band; the gaps of the overall
    series; and the p-value of every day tested, for :func:`discoveries` to judge them all."""
    totals = frames[("all", "all")].set_index("period")
    holes = gaps(totals.index, totals.index.min(), totals.index.max()) if len(totals) else []
    spans = stretches(totals.index.min(), totals.index.max(), holes) if len(totals) else []
    records, tested, bands = [], [], {}
    for (d, seg), f in frames.items():
        if len(f) < 28:
            continue
        names = [n for n in (("ctr",) if d == fatigue_dim else kpis)
                 if kpi(n).num in f and (kpi(n).den is None or kpi(n).den in f)]
        if not names:
            continue
        daily = with_kpis(f, names).set_index("period").reindex(pd.date_range(f.period.min(), f.period.max(),
                                                                              freq="D"))
        for n in names:
            k = kpi(n)
            if d == fatigue_dim:
                dc = decay(daily[n])
                if dc is not None and dc.start.date() >= since:
                    records.append(_decay_record(dc, f, totals, seg, values))
                continue
            for a, b_ in spans:
                part = daily.loc[a:b_]
                if part[n].notna().sum() < 28:
                    continue
                sh = level_shift(part[n], counts=n in counts, events_per_day=_events_per_day(k, part))
                if sh is not None and sh.date.date() >= since:
                    records.append(_shift_record(sh, k, d, seg, f, totals, values))
                bd = band(part[n], counts=n in counts)
                bd["p"] = day_pvalues(bd, k, part)
                bd = bd[bd.index.date >= since]
                tested.append(bd["p"].dropna().to_numpy())
                sized = (bd["value"] / bd["expected"].where(bd["expected"] > 0) - 1).abs() >= MIN_DAY_CHANGE
                for day, r in bd[bd["anomaly"] & sized].iterrows():
                    records.append(_day_record(day, r, k, d, seg, part, totals, values))
                bands[(n, d, seg)] = pd.concat([bands[(n, d, seg)], bd]) if (n, d, seg) in bands else bd
    return pd.DataFrame(records), bands, holes, np.concatenate(tested) if tested else np.array([])


def discoveries(found: pd.DataFrame, tested: np.ndarray) -> pd.DataFrame:
    """The records that survive Benjamini-Hochberg at :data:`FDR` over every test of the scan
    (every tested day and every shift); decays have their own 95% test and pass through."""
    if found.empty:
        return found
    ps = np.concatenate([tested, found.loc[found["type"] == "shift", "p"].to_numpy(float)])
    adjusted = stats.false_discovery_control(np.clip(ps, 0.0, 1.0), method="bh")
    cut = ps[adjusted <= FDR].max() if (adjusted <= FDR).any() else -1.0
    return found[(found["type"] == "decay") | (found["p"] <= cut)].reset_index(drop=True)


def _moved_part(k) -> str:
    """The part a change of ``k`` moves: its numerator, or for a cost per event (CPA, CPC) the
    events, since the same spend then buys more or fewer of them."""
    return k.den if k.den is not None and is_count(k.den) and not is_count(k.num) else k.num


def _shift_record(sh, k, d: str, seg: str, f: pd.DataFrame, totals: pd.DataFrame, values: dict) -> dict:
    # at stake: everything the change moved so far (to its end, or to the end of the data)
    stop = sh.end + pd.Timedelta(days=1) if sh.end is not None else f.period.max() + pd.Timedelta(days=1)
    after = f[(f.period >= sh.date) & (f.period < stop)]
    part = _moved_part(k)
    window_total = totals.loc[sh.date: stop - pd.Timedelta(days=1), part].sum()
    if part != k.num:  # a cost per conversion: the conversions its rise costs
        moved = after[k.num].sum() * k.scale * (1 / sh.after - 1 / sh.before) if sh.after and sh.before else 0.0
    else:
        moved = (sh.after - sh.before) * (after[k.den].sum() / k.scale if k.den else after.period.nunique())
    return {"type": "shift", "kpi": k.name, "dimension": d, "segment": seg, "date": sh.date, "end": sh.end,
            "before": sh.before, "after": sh.after, "change": sh.change, "expected_low": sh.expected_low,
            "expected_high": sh.expected_high, "t": sh.t, "p": sh.p,
            "impact": abs(moved) / window_total if window_total else 0.0,
            "at_stake": abs(moved) * worth(values, part), "parts": {k.num, k.den} - {None}}


def _day_record(day, r, k, d: str, seg: str, part: pd.DataFrame, totals: pd.DataFrame, values: dict) -> dict:
    counted = _moved_part(k)
    day_total = totals.loc[day, counted] if day in totals.index else np.nan
    if counted != k.num:  # a cost per conversion: the conversions it missed or gained
        moved = abs(part.loc[day, k.num] * k.scale * (1 / r.value - 1 / r.expected)) if r.value else 0.0
    else:
        moved = abs(r.value - r.expected) * (part.loc[day, k.den] / k.scale if k.den else 1.0)
    return {"type": "spike" if r.value > r.expected else "dip", "kpi": k.name, "dimension": d, "segment": seg,
            "date": day, "value": r.value, "expected": r.expected, "expected_low": r.lower,
            "expected_high": r.upper, "z": r.z, "p": r.p, "change": r.value / r.expected - 1 if r.expected else np.nan,
            "impact": moved / (28 * day_total) if day_total else 0.0, "at_stake": moved * worth(values, counted),
            "parts": {k.num, k.den} - {None}}


def _decay_record(dc, f: pd.DataFrame, totals: pd.DataFrame, seg: str, values: dict) -> dict:
    head = f[(f.period >= dc.start) & (f.period < dc.start + pd.Timedelta(days=dc.days))]
    lost = (dc.first - dc.last) / 2 * head["impressions"].sum()  # clicks lost to the decline, roughly
    total_clicks = totals.loc[dc.start: dc.start + pd.Timedelta(days=dc.days - 1), "clicks"].sum()
    return {"type": "decay", "kpi": "ctr", "dimension": "creative_id", "segment": seg, "date": dc.start,
            "before": dc.first, "after": dc.last, "change": dc.change, "days": dc.days, "p": np.nan,
            "impact": lost / total_clicks if total_clicks else 0.0, "at_stake": lost * worth(values, "clicks"),
            "parts": {"clicks", "impressions", "creative"}}


def dedupe(found: pd.DataFrame, kpis: tuple[str, ...]) -> pd.DataFrame:
    """One finding per change, ranked by what is at stake.

    The same change shows in several KPIs of one segment (a CVR drop is also a CPA rise) and
    in every segment that contains it (overall, per device, per device and country...).
    Findings within 7 days (14 for a shift) that share a KPI part are one change: per segment the most basic
    KPI (earliest in ``kpis``) speaks for it, and across segments the sharpest (share of the
    total moved x |log change|), so a cell's drop is named by the cell, not by its parents.
    """
    order = {n: i for i, n in enumerate(kpis)}
    change = found["change"] if "change" in found else pd.Series(np.nan, index=found.index)
    found = found.assign(score=found["impact"] * np.abs(np.log1p(change.astype(float).clip(-0.9, 9.0))).fillna(0.05),
                         kpi_order=found["kpi"].map(order).fillna(len(order)))

    def clash(r, q) -> bool:
        # a shift's date is uncertain by days in a noisy series (more in a skewed one, a CPA)
        near = 14 if "shift" in (r.type, q.type) else 7
        return abs((r.date - q.date).days) <= near and bool(r.parts & q.parts) and \
            (r.type == q.type or "shift" in (r.type, q.type))

    def same_segment_clash(r, q) -> bool:
        return (r.dimension, r.segment) == (q.dimension, q.segment) and clash(r, q)

    def first_of_each(df: pd.DataFrame, by: list[str], ascending: list[bool], same) -> pd.DataFrame:
        """Walk in order; keep a finding unless a kept one is the same change."""
        df = df.sort_values(by, ascending=ascending, ignore_index=True)
        rows = list(df.itertuples())
        kept: list[int] = []
        for i, r in enumerate(rows):
            if not any(same(r, rows[j]) for j in kept):
                kept.append(i)
        return df.iloc[kept]

    found = first_of_each(found, ["kpi_order", "score"], [True, False], same_segment_clash)
    found = first_of_each(found, ["score"], [False], clash)
    rank = found["at_stake"].fillna(0.0) if found["at_stake"].notna().any() else found["impact"]
    return found.assign(rank=rank).sort_values(["rank", "impact"], ascending=False, ignore_index=True) \
        .drop(columns=["kpi_order", "rank"])
