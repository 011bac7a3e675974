"""Reading an experiment: the effects, the checks and the verdict, as results.

``analyze`` takes a file, a frame or a workspace experiment, has the engine compute the
sufficient statistics (``_engine.aggregate``), and turns them into one
:class:`ExperimentResult`: every arm against control on every metric (Welch t, relative
intervals, CUPED where a covariate is given, Holm or Benjamini-Hochberg over arms x metrics),
the Bayesian reading, always-valid intervals when read sequentially, the sample-ratio check,
guardrail non-inferiority, segment breakdowns (corrected over segments, with a heterogeneity
test) and factorial terms; and, when the experiment's criteria were locked beforehand, the
verdict they imply. ``design`` and ``impact`` give the planning and the incrementality results.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import scipy.stats as st

from mercator.errors import MercatorError
from mercator.experiment._bayes import beta_binomial, confidence_sequence, normal
from mercator.experiment._engine import aggregate, experiment_units, quality
from mercator.experiment._extremes import (
    DEFAULT_CAP,
    capped,
    capping_table,
    check_cap,
    extreme_findings,
    extremes,
)
from mercator.experiment._factorial import factorial_effects, metric_name
from mercator.experiment._lead import lead_findings, levels
from mercator.experiment._srm import SRM_ALPHA, parse_split, srm_findings, srm_table
from mercator.experiment._stats import (
    Aggregates,
    Metric,
    adjust,
    compare,
    compare_counts,
    small_counts,
)
from mercator.frames import engine_table, require_columns
from mercator.results import Finding, Recommendation, Result

GUARDRAIL_MARGIN = 0.02  # a guardrail named without a margin may not fall by more than 2%
_GUARD = re.compile(r"^\s*([^<>\s]+)\s*(?:([<>])\s*([-+]?\d*\.?\d+)\s*(%?))?\s*$")


def parse_metric(spec: str) -> tuple[str, str | None]:
    """``revenue`` (per unit) or ``revenue/orders`` (a ratio of totals)."""
    num, _, den = spec.strip().partition("/")
    if not num:
        raise MercatorError(f"metric {spec!r}: expected a column name or numerator/denominator")
    return num.strip(), den.strip() or None


@dataclass(frozen=True)
class Guardrail:
    """A metric that must not get worse by more than ``margin`` (relative): ``aov>-0.05`` (may
    fall at most 5%), ``refund_rate<0.1`` (may rise at most 10%); a bare name means it may
    fall at most 2%."""

    metric: str
    margin: float
    higher_is_better: bool

    @classmethod
    def parse(cls, spec: str) -> Guardrail:
        m = _GUARD.match(spec)
        if not m:
            raise MercatorError(f"guardrail {spec!r}: write metric, metric>-0.05 (may fall 5%) or metric<0.1 "
                                "(may rise 10%)")
        name, op, value, pct = m.groups()
        if op is None:
            return cls(name, GUARDRAIL_MARGIN, True)
        v = float(value) / (100 if pct else 1)
        return cls(name, abs(v), op == ">")

    @property
    def spec(self) -> str:
        return f"{self.metric}{'>' if self.higher_is_better else '<'}{-self.margin if self.higher_is_better else self.margin:+g}"


def _metrics(metrics: Sequence[str], covariate: str | Mapping[str, str] | None) -> dict[str, Metric]:
    """Metric specs to :class:`Metric`. A covariate with ``*`` is a pattern over each metric's
    columns: ``pre_*`` gives revenue the covariate pre_revenue and revenue/orders
    pre_revenue/pre_orders."""
    out = {}
    for spec in metrics:
        num, den = parse_metric(spec)
        cov = covariate.get(spec) if isinstance(covariate, Mapping) else covariate
        if cov and "*" in cov:
            cov = cov.replace("*", num) + (f"/{cov.replace('*', den)}" if den else "")
        cnum, cden = parse_metric(cov) if cov else (None, None)
        out[spec if den is None else f"{num}/{den}"] = Metric(num, den, cnum, cden)
    return out


@dataclass(frozen=True)
class ExperimentResult(Result):
    """Effects per arm and metric with intervals, checks (SRM, guardrails) and the verdict."""

    kind = "experiment"
    title = "Experiment"
    headline = ("verdict", "effects", "variants", "guardrails")
    display: ClassVar[dict[str, tuple[str, ...]]] = {"effects": ("metric", "variant", "control", "treatment", "rel_effect", "p_adjusted", "significant",
                           "rel_effect_lo", "rel_effect_hi", "chance_to_win"),
               "capping": ("metric", "variant", "rel_effect", "pvalue", "rel_effect_capped", "pvalue_capped")}

    def figures(self) -> list:
        figs = []
        e = self.tables.get("effects")
        if e is not None and not e.empty:
            figs.append(_forest(e.assign(rel_effect=100 * e.rel_effect, rel_effect_lo=100 * e.rel_effect_lo,
                                         rel_effect_hi=100 * e.rel_effect_hi), "variant", "metric", "rel_effect")
                        .update_layout(title=f"Relative effect against {self.params.get('control')} (%, "
                                             f"{100 * (1 - self.params.get('alpha', 0.05)):.0f}% intervals)",
                                       height=120 + 40 * len(e), xaxis_title="%"))
        s = self.tables.get("segments")
        if s is not None and not s.empty:
            s = s.assign(label=s["by"] + "=" + s["segment"].astype(str), series=s["metric"] + ", " + s["variant"])
            figs.append(_forest(s, "series", "label", "effect").update_layout(
                title="Effect by segment (absolute, intervals not corrected)", height=140 + 30 * len(s)))
        f = self.tables.get("factorial")
        if f is not None and not f.empty:
            figs.append(_forest(f, "metric", "term", "effect").update_layout(
                title="Factorial terms: main effects and interactions", height=140 + 30 * len(f)))
        return figs


def _forest(t: pd.DataFrame, series: str, label: str, x: str):
    """A forest plot: ``x`` with its ``x_lo``/``x_hi`` interval against ``label``, one trace
    per value of ``series``, and the line of no effect."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for name, part in t.groupby(series, sort=False):
        fig.add_scatter(x=part[x], y=part[label], mode="markers", name=str(name),
                        error_x={"type": "data", "symmetric": False, "array": part[f"{x}_hi"] - part[x],
                                 "arrayminus": part[x] - part[f"{x}_lo"]})
    return fig.add_vline(x=0, line_dash="dot")


def analyze(data=None, *, ws=None, experiment: str | None = None, variant_col: str = "variant",
            metrics: Sequence[str] = ("converted",), covariate: str | Mapping[str, str] | None = None,
            control: str | None = None, by: Sequence[str] = (), factors: Sequence[str] = (),
            guardrails: Sequence[str] = (), alpha: float = 0.05, correction: str = "holm",
            sequential: bool = False, n_target: float | None = None, expected_split: Mapping[str, float] | None = None,
            criteria: Mapping | None = None, window_days: int | None = None, unit_col: str | None = None,
            exposure_col: str | None = None, clean: bool = False, cap: float | None = None) -> ExperimentResult:
    """Analyse an experiment from ``data`` (a CSV/Parquet path or glob, a DataFrame, an Ibis
    table, or a workspace table name) or the workspace ``experiment`` (``ws`` needed).

    Metrics are column names (means per unit; 0/1 columns are proportions) or ``num/den``
    ratios of totals (revenue per session: the delta method). ``covariate`` is a pre-period
    column for CUPED (one for all metrics, or a mapping per metric). ``guardrails`` are
    non-inferiority checks (:class:`Guardrail`). ``unit_col`` and ``exposure_col`` turn on
    data-quality checks (units in several variants or rows, an exposure that disagrees with the
    variant); ``clean`` drops what they flag. ``criteria`` is a decision rule
    (``{"metric", "min_relative_lift", "alpha", "guardrails"}``); a workspace experiment's
    locked criteria are used, after checking their hash. Metric columns that are not 0/1 are
    checked for extreme units (``extremes`` table); ``cap`` (a quantile such as 0.999) caps them
    there before the effects are computed, and the ``capping`` table gives every effect with
    and without (without ``cap``, flagged columns get that comparison at the 99.9th percentile)."""
    check_cap(cap)
    if (data is None) == (experiment is None):
        raise MercatorError("give either data (a file, frame or table) or a workspace experiment id")
    locked = None
    if experiment is not None:
        if ws is None:
            raise MercatorError("reading a workspace experiment needs the workspace")
        table, row = experiment_units(ws, experiment, window_days=window_days)
        name, variant_col = f"experiment {experiment}", "variant"
        locked = _locked(ws, experiment, row)
    else:
        table, name = engine_table(data, ws)
        row = {}
    checks = None
    if unit_col or exposure_col:
        require_columns(table.columns, [variant_col, unit_col, exposure_col], name)
        checks, table = quality(table, variant_col, unit=unit_col, exposure=exposure_col, clean=clean)
    if criteria is None and locked is not None:
        criteria = locked["success_criteria"] | {"guardrails": locked["guardrails"]}
    elif criteria is None and row.get("success_criteria"):  # stated but never locked: used, and said so
        criteria = json.loads(row["success_criteria"]) | {"guardrails": json.loads(row.get("guardrails") or "[]")}
    criteria = dict(criteria or {})
    guards = [Guardrail.parse(g) for g in (*guardrails, *criteria.get("guardrails", ()))]
    guards = list({g.metric: g for g in guards}.values())
    specs = list(dict.fromkeys([*metrics, *([criteria["metric"]] if criteria.get("metric") else []),
                                *(g.metric for g in guards)]))
    mets = _metrics(specs, covariate)
    aggs, binary = aggregate(table, variant_col, list(mets.values()), name=name)
    arms = {k[0]: a for k, a in aggs.items()}
    control = _control(arms, control, name, variant_col)
    treated = [v for v in sorted(arms) if v != control]
    if not treated:
        raise MercatorError(f"{name}: only one variant ({control}) in column {variant_col}")

    expected_split = expected_split or criteria.get("expected_split")
    variants, srm_p = srm_table(arms, expected_split, name)
    primary = _metrics([criteria["metric"]], None).popitem()[0] if criteria.get("metric") else None
    effects = _effects(mets, arms, control, treated, binary, alpha, correction, sequential, n_target, primary)
    ext = extremes(table, {c for m in mets.values() for c in m.columns} - binary, cap or DEFAULT_CAP)
    capping = None
    if cap or ext.extreme.any():
        cut = ext if cap else ext[ext.extreme]
        touched = {label: [c for c in m.columns if c in set(cut.column)] for label, m in mets.items()}
        touched = {label: cols for label, cols in touched.items() if cols}
        sub = {label: m for label, m in mets.items() if label in touched}
        c_aggs, _ = aggregate(capped(table, cut), variant_col, list(sub.values()), name=name)
        c_arms = {k[0]: a for k, a in c_aggs.items()}
        c_effects = _effects(sub, c_arms, control, treated, binary, alpha, correction, sequential, n_target, primary)
        capping = capping_table(effects, c_effects, touched)
        if cap:  # the capped reading is the analysis; every later step (guardrails, verdict) uses it
            arms = {a: Aggregates(agg.n, agg.means | c_arms[a].means, agg.covs | c_arms[a].covs)
                    for a, agg in arms.items()}
            effects = _effects(mets, arms, control, treated, binary, alpha, correction, sequential, n_target,
                               primary)
    tables = {"effects": effects, "variants": variants}
    if cap or ext.extreme.any():
        tables["extremes"] = ext
    if capping is not None:
        tables["capping"] = capping
    if checks is not None:
        tables["checks"] = checks
    if guards:
        tables["guardrails"] = _guardrails(guards, mets, arms, control, treated, alpha)
    if by:
        tables["segments"], tables["heterogeneity"] = _segments(table, variant_col, mets, by, control, alpha,
                                                                 correction, name)
    if factors:
        tables["factorial"] = _factorial(table, factors, mets, alpha, correction, name)
    verdicts = _verdicts(criteria, mets, arms, control, treated, alpha, srm_p, tables.get("guardrails")) \
        if criteria.get("metric") else None
    if verdicts is not None:
        tables["verdict"] = verdicts
    params = {"source": name, "variant_col": variant_col, "control": control, "variants": sorted(arms),
              "metrics": list(mets), "covariate": covariate, "alpha": alpha, "correction": correction,
              "sequential": sequential, "srm_pvalue": srm_p,
              "expected_split": {k: float(w) / sum(expected_split.values()) for k, w in expected_split.items()}
              if expected_split else None, "cleaned": bool(clean and checks is not None), "units": sum(a.n for a in arms.values()),
              "proportions": sorted(binary), "criteria": criteria or None, "cap": cap,
              "locked_at": str(locked["locked_at"]) if locked else None,
              "criteria_hash": locked["criteria_hash"] if locked else None}
    if experiment is not None:
        params |= {"experiment_id": experiment, "name": row.get("name"), "hypothesis": row.get("hypothesis"),
                   "window_days": row.get("window_days")}
    findings, recs = _findings(tables, params)
    return ExperimentResult(tables=tables, findings=findings, recommendations=recs, params=params)


def _locked(ws, experiment: str, row: dict) -> dict | None:
    from mercator.experiment._registry import verify

    if not row.get("criteria_hash"):
        return None  # never locked: the result says the verdict is not pre-registered
    return verify(ws, experiment)


def _control(arms: dict[str, Aggregates], control: str | None, name: str, variant_col: str) -> str:
    if control is not None:
        if control not in arms:
            raise MercatorError(f"{name}: no variant {control!r} in column {variant_col} (variants: {sorted(arms)})")
        return control
    for guess in ("control", "holdout", "A", "a", "0", "baseline", "no"):
        if guess in arms:
            return guess
    return min(arms)


def _effects(mets: dict[str, Metric], arms: dict[str, Aggregates], control: str, treated: list[str],
             binary: set[str], alpha: float, correction: str, sequential: bool, n_target: float | None,
             primary: str | None = None) -> pd.DataFrame:
    rows = []
    for label, m in mets.items():
        for arm in treated:
            c, t = arms[control], arms[arm]
            rate = m.num in binary and m.den is None and m.covariate is None
            counts = (c.mean(m.num) * c.n, c.n, t.mean(m.num) * t.n, t.n) if rate else None
            small = bool(counts) and small_counts(*counts)
            e = compare_counts(*counts, alpha=alpha) if small else compare(m, c, t, alpha=alpha)
            row = {"metric": label, "variant": arm, "covariate": metric_name(Metric(m.covariate, m.covariate_den))
                   if m.covariate else None} | e.to_dict() | {
                       "method": "score (small counts)" if small else ("z" if rate else "welch"),
                       "events_control": round(counts[0]) if rate else math.nan,
                       "events_treatment": round(counts[2]) if rate else math.nan}
            if m.num in binary and m.den is None and m.covariate is None:
                bayes = beta_binomial(c.mean(m.num) * c.n, c.n, t.mean(m.num) * t.n, t.n)
                row["bayes"] = "beta-binomial"
            else:
                bayes = normal(e.effect, e.se)
                row["bayes"] = "normal"
            row |= {k: bayes[k] for k in ("chance_to_win", "expected_loss_ship", "expected_loss_keep")}
            if sequential:
                n = c.n + t.n
                row["cs_lo"], row["cs_hi"] = confidence_sequence(e.effect, e.se, n, n_target or n, alpha)
            # what the arm added in total, for holdouts: the per-unit effect times its units
            row["incremental"], row["incremental_lo"], row["incremental_hi"] = (
                e.effect * t.n, e.effect_lo * t.n, e.effect_hi * t.n) if m.den is None else (math.nan,) * 3
            rows.append(row)
    df = pd.DataFrame(rows)
    # the pre-registered primary metric is its own family (corrected over the arms only, by
    # Holm); every other metric is one family over arms x metrics, by ``correction``
    first = (df["metric"] == primary).to_numpy()
    df["p_adjusted"] = df["pvalue"]
    for part, how in ((first, "holm"), (~first, correction)):
        if part.sum() > 1:
            df.loc[part, "p_adjusted"] = adjust(df.loc[part, "pvalue"].to_numpy(), how)
    df["significant"] = df["p_adjusted"] < alpha
    if sequential:
        df["significant_sequential"] = (df["cs_lo"] > 0) | (df["cs_hi"] < 0)
    return df


def _guardrails(guards: list[Guardrail], mets: dict[str, Metric], arms: dict[str, Aggregates], control: str,
                treated: list[str], alpha: float) -> pd.DataFrame:
    """Non-inferiority: the one-sided 1 - alpha bound of the relative change must stay within
    the margin. "fail" when the whole two-sided interval lies beyond the margin, "not shown"
    when the data cannot tell yet."""
    rows = []
    for g in guards:
        m = mets[g.metric]
        for arm in treated:
            side = "greater" if g.higher_is_better else "less"
            one = compare(m, arms[control], arms[arm], alpha=alpha, alternative=side)
            two = compare(m, arms[control], arms[arm], alpha=alpha)
            bound = one.rel_effect_lo if g.higher_is_better else one.rel_effect_hi
            ok = bound > -g.margin if g.higher_is_better else bound < g.margin
            bad = two.rel_effect_hi < -g.margin if g.higher_is_better else two.rel_effect_lo > g.margin
            rows.append({"metric": g.metric, "variant": arm, "rule": g.spec, "rel_effect": one.rel_effect,
                         "bound": bound, "margin": g.margin, "higher_is_better": g.higher_is_better,
                         "status": "pass" if ok else ("fail" if bad else "not shown")})
    return pd.DataFrame(rows)


def _segments(table, variant_col: str, mets: dict[str, Metric], by: Sequence[str], control: str, alpha: float,
              correction: str, name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Effects within each segment of each ``by`` column, corrected over the segments of a
    column (per metric and arm), and Cochran's Q test of whether the effect differs at all."""
    rows, het = [], []
    for col in by:
        aggs, _ = aggregate(table, variant_col, list(mets.values()), by=[col], name=name)
        segs = sorted({k[1] for k in aggs})
        for label, m in mets.items():
            arms = sorted({k[0] for k in aggs} - {control})
            for arm in arms:
                part = []
                for s in segs:
                    c, t = aggs.get((control, s)), aggs.get((arm, s))
                    if c is None or t is None or c.n < 2 or t.n < 2:
                        continue
                    e = compare(m, c, t, alpha=alpha)
                    part.append({"by": col, "segment": s, "metric": label, "variant": arm} | e.to_dict())
                if not part:
                    continue
                p = pd.DataFrame(part)
                p["p_adjusted"] = adjust(p["pvalue"].to_numpy(), correction) if len(p) > 1 else p["pvalue"]
                rows.append(p)
                w = 1 / p["se"].to_numpy() ** 2
                ok = np.isfinite(w)
                if ok.sum() > 1:
                    mean = (w[ok] * p["effect"].to_numpy()[ok]).sum() / w[ok].sum()
                    q = float((w[ok] * (p["effect"].to_numpy()[ok] - mean) ** 2).sum())
                    het.append({"by": col, "metric": label, "variant": arm, "segments": int(ok.sum()), "q": q,
                                "pvalue": float(st.chi2.sf(q, ok.sum() - 1))})
    seg = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    if not seg.empty:
        seg["significant"] = seg["p_adjusted"] < alpha
    return seg, pd.DataFrame(het)


def _factorial(table, factors: Sequence[str], mets: dict[str, Metric], alpha: float, correction: str, name: str
               ) -> pd.DataFrame:
    missing = [f for f in factors if f not in table.columns]
    if missing:
        raise MercatorError(f"{name}: no factor column(s) {', '.join(missing)}")
    key = factors[0]
    aggs, _ = aggregate(table, key, list(mets.values()), by=list(factors[1:]), name=name)
    levels = {}
    for i, f in enumerate(factors):
        lv = sorted({k[i] for k in aggs})
        if len(lv) != 2:
            raise MercatorError(f"{name}: factor {f} has {len(lv)} level(s) ({lv[:6]}); a 2^k factorial test needs "
                                "exactly two per factor")
        levels[f] = (lv[0], lv[1])
    out = pd.concat([factorial_effects(aggs, factors, m, levels, alpha).assign(metric=label)
                     for label, m in mets.items()], ignore_index=True)
    out["p_adjusted"] = adjust(out["pvalue"].to_numpy(), correction) if len(out) > 1 else out["pvalue"]
    out["significant"] = out["p_adjusted"] < alpha
    return out


def _verdicts(criteria: Mapping, mets: dict[str, Metric], arms: dict[str, Aggregates], control: str,
              treated: list[str], alpha_default: float, srm_p: float, guards: pd.DataFrame | None) -> pd.DataFrame:
    """The decision the locked rule implies, per arm:

    - invalid: the sample ratio is off (p < 0.001), so the assignment is not to be trusted;
    - do not ship: the primary metric is significantly worse, a guardrail failed, or the
      interval shows the lift is below the minimum worth shipping;
    - ship: the primary metric is significantly better (Holm over the arms) with a lift at least
      the minimum, and every guardrail shown non-inferior;
    - inconclusive: anything else (run to the planned size)."""
    metric = criteria["metric"]
    if metric not in mets:
        mets = mets | _metrics([metric], None)
    alpha = float(criteria.get("alpha", alpha_default))
    min_lift = float(criteria.get("min_relative_lift", 0.0))
    effs = [compare(mets[metric], arms[control], arms[arm], alpha=alpha) for arm in treated]
    padj = adjust([e.pvalue for e in effs], "holm") if len(effs) > 1 else [effs[0].pvalue]
    rows = []
    for arm, e, p in zip(treated, effs, padj, strict=True):
        g = guards[guards.variant == arm] if guards is not None and not guards.empty else pd.DataFrame()
        failed = g.loc[g.status == "fail", "metric"].tolist() if not g.empty else []
        unshown = g.loc[g.status == "not shown", "metric"].tolist() if not g.empty else []
        if srm_p < SRM_ALPHA:
            v, why = "invalid", f"sample ratio mismatch (p = {srm_p:.2g}): the assignment is broken"
        elif p < alpha and e.effect < 0:
            v, why = "do not ship", f"{metric} is significantly worse ({100 * e.rel_effect:+.1f}%, p = {p:.2g})"
        elif failed:
            v, why = "do not ship", f"guardrail(s) failed: {', '.join(failed)}"
        elif p < alpha and e.rel_effect >= min_lift and not unshown:
            v, why = "ship", (f"{metric} {100 * e.rel_effect:+.1f}% (interval {100 * e.rel_effect_lo:+.1f}% to "
                              f"{100 * e.rel_effect_hi:+.1f}%), p = {p:.2g}; the minimum was {100 * min_lift:+.1f}%")
        elif e.rel_effect_hi < min_lift:
            v, why = "do not ship", (f"{metric}'s lift is at most {100 * e.rel_effect_hi:+.1f}%, below the minimum "
                                     f"of {100 * min_lift:+.1f}%")
        else:
            extra = f"; guardrail(s) not yet shown safe: {', '.join(unshown)}" if unshown else ""
            v, why = "inconclusive", (f"{metric} {100 * e.rel_effect:+.1f}% (interval {100 * e.rel_effect_lo:+.1f}% "
                                      f"to {100 * e.rel_effect_hi:+.1f}%), p = {p:.2g}{extra}")
        rows.append({"variant": arm, "verdict": v, "reason": why, "metric": metric, "rel_effect": e.rel_effect,
                     "rel_effect_lo": e.rel_effect_lo, "rel_effect_hi": e.rel_effect_hi, "p_adjusted": p,
                     "min_relative_lift": min_lift, "alpha": alpha})
    return pd.DataFrame(rows)


def _findings(tables: dict[str, pd.DataFrame], params: dict) -> tuple[tuple[Finding, ...], tuple]:
    ctl, alpha = params["control"], params["alpha"]
    out, recs = lead_findings(tables["effects"], params), []
    for r in tables["effects"].itertuples():
        word = "significant" if r.significant else "not significant"
        moved = levels(r, params)
        out.append(Finding(
            f"{r.variant} vs {ctl}, {r.metric}: {moved}, "
            f"{100 * r.rel_effect:+.1f}%, {100 * (1 - alpha):.0f}% interval {100 * r.rel_effect_lo:+.1f}% to "
            f"{100 * r.rel_effect_hi:+.1f}%); p = {r.pvalue:.2g}, {params['correction']}-adjusted {r.p_adjusted:.2g}: "
            f"{word}. Chance to beat {ctl}: {100 * r.chance_to_win:.0f}%."
            + (f" Counts are small ({r.events_control:,.0f} events in {ctl}, {r.events_treatment:,.0f} in "
               f"{r.variant}): score test and score interval, which agree."
               if getattr(r, "method", "") == "score (small counts)" else ""),
            metric=r.metric, segment=r.variant, value=r.rel_effect, interval=(r.rel_effect_lo, r.rel_effect_hi),
            impact=abs(r.rel_effect) * (2 if r.significant else 1), confidence=1 - r.p_adjusted))
    out += srm_findings(tables["variants"], params)
    if "extremes" in tables:
        out += extreme_findings(tables["extremes"], tables.get("capping"), params.get("cap"))
    q = tables.get("checks")
    if q is not None:
        for r in q[q.rows > 0].itertuples():
            done = "dropped before the analysis" if params["cleaned"] else "kept: analyse with clean=True to drop them"
            out.append(Finding(f"Data quality: {r.check}: {r.rows:,} ({r.detail}); {done}.", impact=50.0))
    g = tables.get("guardrails")
    if g is not None:
        for r in g.itertuples():
            if r.status != "pass":
                out.append(Finding(f"Guardrail {r.metric} ({r.variant}): {r.status} - change {100 * r.rel_effect:+.1f}%, "
                                   f"one-sided bound {100 * r.bound:+.1f}% against the margin {r.rule}.",
                                   metric=r.metric, segment=r.variant, impact=10.0))
    h = tables.get("heterogeneity")
    if h is not None and not h.empty:
        for r in h[h.pvalue < alpha].itertuples():
            out.append(Finding(f"The effect of {r.variant} on {r.metric} differs across {r.by} (Cochran's Q "
                               f"{r.q:.1f} on {r.segments - 1} df, p = {r.pvalue:.2g}); see the segment table.",
                               metric=r.metric, impact=1.0))
    vt = tables.get("verdict")
    if vt is not None:
        locked = (f"locked at {params['locked_at']} UTC" if params.get("locked_at")
                  else "not pre-registered: the rule was given after the data")
        for r in vt.itertuples():
            out.append(Finding(f"Verdict for {r.variant}: {r.verdict.upper()} - {r.reason} (rule {locked}).",
                               metric=r.metric, segment=r.variant, impact=1000.0))
            if r.verdict == "ship":
                recs.append(Recommendation(f"Ship {r.variant}", expected_impact=100 * r.rel_effect,
                                           interval=(100 * r.rel_effect_lo, 100 * r.rel_effect_hi),
                                           unit=f"% on {r.metric}",
                                           evidence=r.reason))
            elif r.verdict == "inconclusive":
                recs.append(Recommendation(f"Keep {r.variant} running to its planned size; do not decide yet",
                                           evidence=r.reason))
            else:
                recs.append(Recommendation(f"Do not ship {r.variant}", evidence=r.reason))
    return tuple(out), tuple(recs)


def review(ws, *, metrics: Sequence[str] = ("converted", "revenue", "revenue/orders"), covariate: str = "pre_*"
           ) -> ExperimentResult:
    """Every experiment in the workspace read against its criteria (CUPED on each metric's
    pre-period value): the report's experiments section. Effects, checks and verdicts are
    stacked with an ``experiment_id`` column."""
    ids = ws.table("experiments").experiment_id.to_pyarrow().to_pylist() if ws.count("experiments") else []
    parts, findings, recs = [], [], []
    for eid in ids:
        try:
            res = analyze(ws=ws, experiment=eid, metrics=metrics, covariate=covariate)
        except MercatorError as exc:
            findings.append(Finding(f"{eid}: not analysed: {exc}", impact=1.0))
            continue
        parts.append(res)
        findings += [dataclasses.replace(f, text=f"{eid}: {f.text}") for f in res.findings]
        recs += [dataclasses.replace(r, action=f"{eid}: {r.action}") for r in res.recommendations]
    tables = {}
    for name in ("verdict", "effects", "variants", "guardrails"):
        frames = [r.tables[name].assign(experiment_id=r.params["experiment_id"]) for r in parts if name in r.tables]
        if frames:
            t = pd.concat(frames, ignore_index=True)
            tables[name] = t[["experiment_id", *[c for c in t.columns if c != "experiment_id"]]]
    if "effects" in tables:  # the report's view; analyze() keeps every column
        tables["effects"] = tables["effects"][["experiment_id", "metric", "variant", "covariate", "control", "treatment",
                                               "effect", "rel_effect", "rel_effect_lo", "rel_effect_hi", "pvalue",
                                               "p_adjusted", "significant", "chance_to_win"]]
    if "variants" in tables:
        tables["variants"]["srm_pvalue"] = tables["variants"].experiment_id.map(
            {r.params["experiment_id"]: r.params["srm_pvalue"] for r in parts})
    params = {"experiments": ids, "control": ", ".join(sorted({r.params["control"] for r in parts})), "alpha": 0.05}
    return ExperimentResult(tables=tables, findings=tuple(findings), recommendations=tuple(recs), params=params)


# -- design -----------------------------------------------------------------------------------------------------------

__all__ = ["ExperimentResult", "Guardrail", "analyze", "parse_metric", "parse_split",
           "review"]
