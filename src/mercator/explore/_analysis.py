"""The public analyses of ``mercator.explore`` (the package re-exports them)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from mercator.errors import BadParameter, MercatorError
from mercator.explore._anomaly import band
from mercator.explore._scan import FDR, dedupe, discoveries, scan, unit_values, worth
from mercator.metrics import (
    EVENT_COUNT_PREFIX,
    HEADLINE,
    Period,
    date_range,
    default_period,
    event_frame,
    kpi,
    label,
    part_frame,
    with_kpis,
)
from mercator.results import Finding, Result
from mercator.workspace import Workspace

#: KPIs and dimensions the anomaly scan watches by default.
WATCHED_KPIS = ("cvr", "ctr", "conversions", "cpa", "cpc", "cost")
WATCHED_DIMENSIONS = ("device", "channel", "country", "campaign_id", "creative_id")
#: Pairs of dimensions whose largest cells the scan also watches (a drop in one cell).
WATCHED_PAIRS = (("device", "country"), ("channel", "device"), ("channel", "country"))


@dataclass(frozen=True)
class KpiOverview(Result):
    kind = "kpi_overview"
    title = "KPI overview"
    headline = ("totals", "by_channel")

    def figures(self) -> list:
        daily = self.to_frame("daily")
        if daily.empty:
            return []
        fig = go.Figure()
        fig.add_bar(x=daily["date"], y=daily["cost"], name="cost", marker_color="#9ab")
        fig.add_scatter(x=daily["date"], y=daily["conversions"], name="conversions", yaxis="y2")
        fig.update_layout(title="Daily cost and conversions", yaxis_title="cost",
                          yaxis2={"overlaying": "y", "side": "right", "title": "conversions"}, height=380)
        return [fig]


def kpi_overview(ws: Workspace, *, by: str = "channel") -> KpiOverview:
    """Totals and KPIs of ad_performance overall, by ``by``, and per day (computed in the engine)."""
    kpis = list(HEADLINE)
    totals = with_kpis(part_frame(ws, kpis), kpis)[kpis]
    by_dim = with_kpis(part_frame(ws, kpis, by=[by]), kpis)[[by, *kpis]].sort_values("cost", ascending=False)
    by_dim[by] = by_dim[by].map(label)
    daily = with_kpis(part_frame(ws, ["cost", "clicks", "conversions"], grain="day"), ["cost", "clicks", "conversions"])
    daily = daily.rename(columns={"period": "date"})[["date", "cost", "clicks", "conversions"]]
    findings = []
    if len(totals) and totals["impressions"].iloc[0] > 0:
        row = totals.iloc[0]
        shown = ("cost", "conversions", "ctr", "cpc", "cvr", "cpa", "roas")
        findings.append(Finding("Overall: " + ", ".join(f"{kpi(k).label} {kpi(k).format(row[k])}" for k in shown) + ".",
                                metric="cost", value=float(row["cost"])))
        top = by_dim.iloc[0]
        findings.append(Finding(f"{by} {top[by]} has the largest spend: {top['cost']:,.2f} "
                                f"({top['cost'] / row['cost']:.0%} of the total).", metric="cost", segment=str(top[by]),
                                value=float(top["cost"])))
    return KpiOverview(tables={"totals": totals.reset_index(drop=True), f"by_{by}": by_dim.reset_index(drop=True),
                               "daily": daily}, findings=tuple(findings), params={"by": by})


# -- summary ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class KpiSummary(Result):
    kind = "kpi_summary"
    title = "KPI summary"


def _change_text(k, cur: float, ref: float) -> str:
    if ref is None or not np.isfinite(ref) or ref == 0 or not np.isfinite(cur):
        return "n/a"
    return f"{cur / ref - 1:+.1%}"


def kpi_summary(ws: Workspace, period: Period | None = None, *, kpis: tuple[str, ...] = HEADLINE) -> KpiSummary:
    """Each KPI in ``period`` against the period just before and the same period 52 weeks earlier."""
    period = period or default_period(ws)
    refs = {"current": period, "previous": period.previous(), "year_ago": period.year_ago()}
    values = {}
    for name, p in refs.items():
        f = with_kpis(part_frame(ws, list(kpis), period=p), list(kpis))
        values[name] = f.iloc[0] if len(f) else pd.Series(np.nan, index=list(kpis))
    rows = []
    for n in kpis:
        cur, prev, yago = (float(values[x][n]) if values[x][n] is not None else np.nan for x in refs)
        rows.append({"kpi": n, "label": kpi(n).label, "current": cur, "previous": prev,
                     "change": cur / prev - 1 if prev and np.isfinite(prev) else np.nan,
                     "year_ago": yago, "change_year_ago": cur / yago - 1 if yago and np.isfinite(yago) else np.nan})
    table = pd.DataFrame(rows)
    values, _unit = unit_values(ws)
    current = table.set_index("kpi")["current"]
    findings = []
    for r in table.itertuples():
        if np.isfinite(r.change):
            k = kpi(r.kpi)
            amount = current.get(k.den, np.nan) / k.scale if k.den else 1.0
            at_stake = abs(r.current - r.previous) * amount * worth(values, k.num)
            good = (r.change > 0) == k.higher_is_better
            findings.append(Finding(
                f"{k.label} {k.format(r.current)} in {period}, {_change_text(k, r.current, r.previous)} on the "
                f"previous {period.days} days ({k.format(r.previous)}); year on year "
                f"{_change_text(k, r.current, r.year_ago)}{'' if good or abs(r.change) < 0.02 else ' (worse)'}.",
                metric=r.kpi, value=r.current, impact=float(at_stake) if np.isfinite(at_stake) else 0.0))
    return KpiSummary(tables={"summary": table}, findings=tuple(findings),
                      params={"period": str(period), "previous": str(refs["previous"]),
                              "year_ago": str(refs["year_ago"])})


# -- breakdown -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Breakdown(Result):
    kind = "breakdown"
    title = "Breakdown"

    def figures(self) -> list:
        t = self.to_frame("breakdown")
        if t.empty:
            return []
        by = self.params["by"]
        name = t[by].astype(str).agg(" / ".join, axis=1)
        fig = go.Figure(go.Bar(x=name, y=t["cost"], name="cost"))
        fig.update_layout(title=f"Cost by {' x '.join(by)}", height=360)
        return [fig]


def breakdown(ws: Workspace, by: list[str] | tuple[str, ...] = ("channel",), period: Period | None = None, *,
              kpis: tuple[str, ...] = HEADLINE) -> Breakdown:
    """KPIs per segment of one dimension or a pair, with share of cost and change on the previous period."""
    by = list(by)
    have = ws.table("ad_performance").columns
    unknown = [b for b in by if b not in have]
    if unknown:
        raise BadParameter(f"no dimension {unknown[0]!r} in ad_performance (dimensions: "
                           f"{', '.join(c for c in have if ws.table('ad_performance')[c].type().is_string())})")
    period = period or default_period(ws)
    cur = with_kpis(part_frame(ws, list(kpis), by=by, period=period), list(kpis))
    prev = with_kpis(part_frame(ws, list(kpis), by=by, period=period.previous()), list(kpis))
    for df in (cur, prev):
        for b in by:
            df[b] = df[b].map(label)
    t = cur.merge(prev[[*by, *kpis]], on=by, how="left", suffixes=("", "_previous"))
    total_cost = t["cost"].sum()
    t["share_of_cost"] = t["cost"] / total_cost if total_cost else np.nan
    for n in kpis:
        t[f"{n}_change"] = t[n] / t[f"{n}_previous"].where(t[f"{n}_previous"] != 0) - 1
    t = t[[*by, *kpis, "share_of_cost", *(f"{n}_change" for n in kpis)]].sort_values("cost", ascending=False,
                                                                                      ignore_index=True)
    findings = []
    if len(t):
        top = t.iloc[0]
        findings.append(Finding(f"{' / '.join(str(top[b]) for b in by)} takes {top['share_of_cost']:.0%} of spend "
                                f"at CPA {kpi('cpa').format(top['cpa'])} (ROAS {kpi('roas').format(top['roas'])}).",
                                metric="cost", segment="/".join(str(top[b]) for b in by), value=float(top["cost"])))
    return Breakdown(tables={"breakdown": t}, findings=tuple(findings), params={"by": by, "period": str(period)})


# -- trend -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Trend(Result):
    kind = "trend"
    title = "Trend"

    def figures(self) -> list:
        t = self.to_frame("trend")
        if t.empty:
            return []
        k = kpi(self.params["metric"])
        fig = go.Figure()
        fig.add_scatter(x=t["date"], y=t["value"], name=k.label, line={"color": "#9ab"})
        fig.add_scatter(x=t["date"], y=t["trend"], name="trend", line={"color": "#234", "width": 3})
        a = t[t["anomaly"]]
        fig.add_scatter(x=a["date"], y=a["value"], mode="markers", name="anomaly", marker={"color": "red", "size": 7})
        fig.update_layout(title=f"{k.label} per {self.params['grain']}: trend (STL) with anomalies marked", height=380)
        return [fig]


def trend(ws: Workspace, metric: str = "conversions", *, grain: str = "day", period: Period | None = None) -> Trend:
    """A KPI per day or week split into trend, seasonality (STL) and residual, with anomalous days marked."""
    from mercator.explore._trend import stl, weekday_profile

    if grain not in ("day", "week"):
        raise MercatorError(f"grain must be day or week; got {grain!r}")
    k = kpi(metric)
    if k.table == "events":  # daily distinct counts: they do not add up to weeks
        if grain != "day":
            raise MercatorError(f"{metric} is counted per day (distinct visits and users); use grain day")
        frame = event_frame(ws, period=period, counts=metric.startswith("events."))
    else:
        frame = part_frame(ws, [metric], grain=grain, period=period, table=k.table,
                           date_column="date" if k.table == "ad_performance" else "ts")
    if frame.empty:
        return Trend(tables={"trend": pd.DataFrame()}, params={"metric": metric, "grain": grain})
    f = with_kpis(frame, [metric]).set_index("period")
    idx = pd.date_range(f.index.min(), f.index.max(), freq="D" if grain == "day" else "W-MON")
    y = f[metric].reindex(idx)
    comp = stl(y, grain)
    comp["anomaly"] = band(y)["anomaly"] if grain == "day" else False
    findings = []
    tr = comp["trend"].dropna()
    span = 8 if grain == "week" else 56
    if len(tr) > span:
        change = tr.iloc[-1] / tr.iloc[-1 - span] - 1 if tr.iloc[-1 - span] else np.nan
        # at stake: what the change of trend gained or lost over the span (half of it on average)
        at_stake = abs(tr.iloc[-1] - tr.iloc[-1 - span]) * span / 2 * worth(unit_values(ws)[0], k.num) \
            if k.den is None else np.nan
        findings.append(Finding(f"{k.label} trend {change:+.1%} over the last {span} {grain}s "
                                f"({k.format(tr.iloc[-1 - span])} to {k.format(tr.iloc[-1])} per {grain}).",
                                metric=metric, value=float(tr.iloc[-1]),
                                impact=float(at_stake) if np.isfinite(at_stake) else 0.0))
    if grain == "day" and len(y.dropna()) >= 21:
        prof = weekday_profile(comp)
        findings.append(Finding(f"Weekly pattern of {k.label}: highest on {prof.idxmax()} ({prof.max():+.0%} on the "
                                f"trend), lowest on {prof.idxmin()} ({prof.min():+.0%}).", metric=metric,
                                value=float(prof.max() - prof.min())))
    return Trend(tables={"trend": comp.reset_index(names="date")}, findings=tuple(findings),
                 params={"metric": metric, "grain": grain, "period": str(period) if period else None})


# -- anomalies -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Anomalies(Result):
    kind = "anomalies"
    title = "Anomalies and shifts"

    def figures(self) -> list:
        s = self.to_frame("series")
        if s.empty:
            return []
        figs = []
        for (k, seg), g in list(s.groupby(["kpi", "segment"], sort=False))[:3]:
            fig = go.Figure()
            fig.add_scatter(x=g["date"], y=g["upper"], line={"width": 0}, showlegend=False, hoverinfo="skip")
            fig.add_scatter(x=g["date"], y=g["lower"], fill="tonexty", line={"width": 0}, name="expected band",
                            fillcolor="rgba(100,150,220,0.25)")
            fig.add_scatter(x=g["date"], y=g["value"], name=kpi(k).label, line={"color": "#234"})
            a = g[g["anomaly"]]
            fig.add_scatter(x=a["date"], y=a["value"], mode="markers", name="anomaly", marker={"color": "red", "size": 7})
            fig.update_layout(title=f"{kpi(k).label}, {seg}: daily with expected band", height=360)
            figs.append(fig)
        return figs


def anomalies(ws: Workspace, *, kpis: tuple[str, ...] = WATCHED_KPIS, dims: tuple[str, ...] = WATCHED_DIMENSIONS,
              pairs: tuple[tuple[str, str], ...] = WATCHED_PAIRS, top: int = 5,
              since: dt.date | None = None) -> Anomalies:
    """Scan every KPI of ad_performance overall, in the ``top`` segments (by cost) of each
    dimension and in the ``top`` cells of each pair of dimensions.

    Finds lasting level shifts and episodes (with the band the days before implied), single-day
    anomalies against a one-sided robust band, and decay of creatives' CTR (fatigue); false
    discoveries are controlled across the whole scan and findings ranked by the money at
    stake (see ``explore._scan``). Overlapping findings (the same change seen overall, per
    device, per device and country...) are reported once, by the segment where the change is
    sharpest.
    """
    lo, hi = date_range(ws)
    schema = ws.table("ad_performance").schema()
    frames = {("all", "all"): part_frame(ws, list(kpis), grain="day")}
    for d in dims:
        if schema.get(d) is not None:
            f = part_frame(ws, list(kpis), by=[d], grain="day")
            # every creative is checked for fatigue; other dimensions watch their largest segments
            frames.update(_largest_segments(f, [d], "cost", None if d == "creative_id" else top))
    for pair in pairs:
        if all(schema.get(d) is not None for d in pair):
            frames.update(_largest_segments(part_frame(ws, list(kpis), by=list(pair), grain="day"), list(pair),
                                            "cost", top))
    values, unit = unit_values(ws)
    return _anomalies(ws, frames, kpis, since or lo, hi, values, unit, fatigue_dim="creative_id", explain=True)


def event_anomalies(ws: Workspace, *, conversion: str = "purchase", dims: tuple[str, ...] = ("device", "channel"),
                    top: int = 5, since: dt.date | None = None) -> Anomalies:
    """Scan the daily series of ``events``: visits, users, the share of visits that convert
    (reach ``conversion``), and the count of every event name; visits and conversion also in
    the ``top`` segments (by visits) of each of ``dims``.

    Event counts are small, so their bands and shifts use a Poisson noise floor; a new event
    type that appears (a checkout bug, payment errors) is a shift up from zero, and one that
    stops again is an episode with its end.
    """
    lo, hi = date_range(ws, "events", "ts")
    overall = event_frame(ws, conversion=conversion)
    names = tuple(c for c in overall.columns if c.startswith(EVENT_COUNT_PREFIX))
    frames = {("all", "all"): overall}
    schema = ws.table("events").schema()
    for d in dims:
        if schema.get(d) is not None:
            frames.update(_largest_segments(event_frame(ws, conversion=conversion, by=[d], counts=False), [d],
                                            "visits", top))
    series = ("visits", "users", "visit_cvr", *("events." + c[len(EVENT_COUNT_PREFIX):] for c in names))
    values, unit = unit_values(ws, overall)
    return _anomalies(ws, frames, series, since or lo, hi, values, unit, counts=set(series) - {"visit_cvr"},
                      params={"conversion": conversion})


def _largest_segments(f: pd.DataFrame, by: list[str], size: str, top: int | None) -> dict:
    """``{(dimension, label): frame}`` for the ``top`` segments of ``by`` (one dimension, or a
    pair as ``"device+country"``, ``"mobile / US"``) by ``size`` (all if None)."""
    # one groupby pass, not a mask per segment; null (not reported) is a segment of its own
    parts = {" / ".join(label(x) for x in (v if isinstance(v, tuple) else (v,))): sub.drop(columns=by)
             for v, sub in f.groupby(by if len(by) > 1 else by[0], dropna=False, sort=False)}
    if len(by) > 1 and any(f[d].nunique(dropna=False) < 2 for d in by):
        return {}  # a pair with a one-valued dimension is that other dimension again
    largest = sorted(parts, key=lambda s: -parts[s][size].sum())
    return {("+".join(by), s): parts[s] for s in (largest if top is None else largest[:top])}


def _anomalies(ws: Workspace, frames: dict, kpis: tuple[str, ...], since: dt.date, until: dt.date,
               values: dict, unit: str, *, fatigue_dim: str | None = None, explain: bool = False,
               counts: set[str] = frozenset(), params: dict | None = None) -> Anomalies:
    """Shifts, single-day anomalies (and fatigue in ``fatigue_dim``) in every KPI of every frame."""
    found, bands, holes, tested = scan(frames, kpis, since, values, fatigue_dim=fatigue_dim, counts=counts)
    kept = discoveries(found, tested)
    kept = dedupe(kept, kpis) if len(kept) else kept
    findings = [_gap_finding(a, b) for a, b in holes]
    findings += [_finding(ws, r, unit, explain) for r in kept.itertuples()] if len(kept) else []
    # the daily series with their bands, for the three leading findings (decay has no band)
    shown = [(r.kpi, r.dimension, r.segment) for r in kept.head(3).itertuples() if (r.kpi, r.dimension, r.segment)
             in bands]
    series = pd.concat([bands[key].drop(columns="p").assign(kpi=key[0], segment="all" if key[1] == "all" else
                                                            f"{key[1]}={key[2]}").reset_index(names="date")
                        for key in shown], ignore_index=True) if shown else pd.DataFrame()
    table = kept.drop(columns=["parts"]) if len(kept) else kept
    gap_table = pd.DataFrame([{"first_day": a, "last_day": b, "days": (b - a).days + 1} for a, b in holes],
                             columns=["first_day", "last_day", "days"])
    return Anomalies(tables={"findings": table, "series": series, "gaps": gap_table}, findings=tuple(findings),
                     params={"kpis": list(kpis), "dims": sorted({d for d, _ in frames} - {"all"}),
                             "since": str(since), "until": str(until), "tests": len(tested), "fdr": FDR,
                             "at_stake_unit": unit, **(params or {})})


def _gap_finding(a: pd.Timestamp, b: pd.Timestamp) -> Finding:
    days = (b - a).days + 1
    return Finding(f"No rows at all from {a:%Y-%m-%d} to {b:%Y-%m-%d} ({days:,} days): a gap in the data, not a "
                   f"drop; the stretches before and after it are scanned apart.", metric="gap", value=float(days))


def _stake_text(r, unit: str) -> str:
    if not np.isfinite(r.at_stake) or r.at_stake <= 0:
        return ""
    return f" At stake: {r.at_stake:,.0f} {unit}."


def _finding(ws: Workspace, r, unit: str, explain: bool = False) -> Finding:
    k = kpi(r.kpi)
    where = "overall" if r.dimension == "all" else f"{r.dimension}={r.segment}"
    when = f"{r.date:%Y-%m-%d}"
    stake = _stake_text(r, unit)
    impact = float(r.at_stake) if np.isfinite(r.at_stake) else float(r.impact)
    if r.type == "shift":
        verb = "rose" if r.after > r.before else "fell"
        until = f" until {r.end:%Y-%m-%d}" if getattr(r, "end", None) is not None and r.end == r.end else ""
        text = (f"{k.label} ({where}) {verb} from {k.format(r.before)} to {k.format(r.after)} from {when}{until} "
                f"(expected {k.format(r.expected_low)}-{k.format(r.expected_high)}).")
        if explain and r.dimension != "all":
            text = text[:-1] + _share_of_change(ws, r)
        return Finding(text + stake, metric=r.kpi, segment=where, value=float(r.after),
                       interval=(float(r.expected_low), float(r.expected_high)), impact=impact,
                       confidence=float(min(1.0, abs(r.t) / 20)))
    if r.type == "decay":
        return Finding(f"{k.label} of creative {r.segment} fell {abs(r.change):.0%} over its first {int(r.days)} days "
                       f"(from {k.format(r.before)} to {k.format(r.after)}, from {when}): creative fatigue.{stake}",
                       metric=r.kpi, segment=where, value=float(r.after), impact=impact)
    return Finding(f"{k.label} ({where}) on {when}: {k.format(r.value)}, {'above' if r.type == 'spike' else 'below'} "
                   f"the expected {k.format(r.expected_low)}-{k.format(r.expected_high)}.{stake}", metric=r.kpi,
                   segment=where, value=float(r.value), interval=(float(r.expected_low), float(r.expected_high)),
                   impact=impact)


def _share_of_change(ws: Workspace, r) -> str:
    """'; mobile explains 71% of the drop in conversions.' from a decomposition around the shift."""
    from mercator.diagnose import decompose

    k = kpi(r.kpi)
    n = "conversions" if "conversions" in (k.num, k.den) else k.num
    by = r.dimension.split("+")
    cur = Period(r.date.date(), r.date.date() + dt.timedelta(days=27))
    b = part_frame(ws, [n], by=by, period=cur.previous())
    c = part_frame(ws, [n], by=by, period=cur)
    seg = decompose(b, c, by, kpi(n))
    names = seg[by].apply(lambda row: " / ".join(label(x) for x in row), axis=1)
    row = seg[names == r.segment]
    change = seg.attrs["change"]
    if row.empty or not change or not np.isfinite(row["share"].iloc[0]) or row["share"].iloc[0] <= 0:
        return "."  # the segment moved against the total: no share of it to speak of
    word = "rise" if change > 0 else "drop"
    return (f"; {r.segment} explains {row['share'].iloc[0]:.0%} of the {word} in {kpi(n).label.lower()} "
            f"over the next 4 weeks.")


# -- everything ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Exploration(Result):
    kind = "explore"
    title = "What happened"
    headline = ("summary", "by_channel", "by_device", "anomalies", "event_anomalies")

    def figures(self) -> list:
        figs = Trend(tables={"trend": self.to_frame("trend")}, params={"metric": "conversions", "grain": "day"}) \
            .figures() if "trend" in self.tables else []
        return figs + [fig for name in ("series", "event_series") if name in self.tables
                       for fig in Anomalies(tables={"series": self.to_frame(name)}).figures()]


def explore(ws: Workspace, *, since: dt.date | None = None, by: tuple[str, ...] | list[str] = ("channel", "device"),
            kpis: tuple[str, ...] = HEADLINE) -> Exploration:
    """Summary against the previous period and a year ago, breakdowns, and the anomaly scans
    of ad_performance and of events (each where the workspace has rows)."""
    tables: dict[str, pd.DataFrame] = {}
    findings: list[Finding] = []
    params: dict = {"by": list(by)}
    if ws.count("ad_performance"):
        period = default_period(ws, since)
        summary = kpi_summary(ws, period, kpis=kpis)
        tables["summary"] = summary.to_frame("summary")
        findings += summary.findings
        for b in by:
            bd = breakdown(ws, [d.strip() for d in b.split("+")] if isinstance(b, str) else list(b), period, kpis=kpis)
            tables[f"by_{b.replace('+', '_')}"] = bd.to_frame("breakdown")
        tr = trend(ws, "conversions")
        tables["trend"] = tr.to_frame("trend")
        findings += tr.findings
        an = anomalies(ws)
        tables["anomalies"], tables["series"] = an.to_frame("findings"), an.to_frame("series")
        findings += an.findings
        params["period"] = str(period)
    if ws.count("events"):
        ev = event_anomalies(ws)
        tables["event_anomalies"], tables["event_series"] = ev.to_frame("findings"), ev.to_frame("series")
        findings += ev.findings
    # gaps qualify everything else, so they lead; the rest by what is at stake
    gaps = [f for f in findings if f.metric == "gap"]
    findings = gaps + sorted((f for f in findings if f.metric != "gap"), key=lambda f: -f.impact)
    if not tables:
        raise MercatorError("nothing to explore: ad_performance and events are empty (load data with mercator "
                            "ingest, or run mercator demo)")
    return Exploration(tables=tables, findings=tuple(findings), params=params)
