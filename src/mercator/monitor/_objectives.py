"""Objectives: a campaign's goal, agreed and locked before launch.

An objective names the primary KPI, its target and the acceptable threshold, the dates, the
owner, guardrail KPIs and a budget. Its baseline is computed from history when it is set:
the KPI over the same number of days just before the start, with a 95% bootstrap interval
over days (the campaign's own rows where it ran before, the whole account otherwise).

The roles named (marketing, sales, finance...) sign off the version's terms, identified by
their SHA-256 hash. When the last role has signed, the version is locked: the time and the
hash go to the audit trail, and the version never changes again. Setting a locked objective
again is refused (``ConflictError``: 409 in the API) unless it is a *proposal*: a new version
that is kept and can be signed, while the review goes on judging the locked one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
from scipy import stats

from mercator.errors import BadParameter, ConflictError, NotFoundError
from mercator.govern import record
from mercator.metrics import Period, kpi, part_frame
from mercator.results import Finding, Result, number

#: Roles that sign off when the objective names none.
DEFAULT_ROLES = ("marketing", "finance")
#: What sign-off agrees to (and the hash covers).
TERMS = ("objective_id", "campaign", "kpi", "target", "threshold", "start", "end", "owner", "guardrails", "budget",
         "baseline", "baseline_low", "baseline_high", "roles")
COLUMNS = ("objective_id", "version", "campaign", "kpi", "target", "threshold", "start", "end", "owner",
           "guardrails", "budget", "baseline", "baseline_low", "baseline_high", "roles", "status", "spec_hash",
           "locked_at", "author", "reason", "created_at")


@dataclass(frozen=True)
class Objectives(Result):
    """Objectives: their versions, sign-offs, and which version is locked."""

    kind = "objectives"
    title = "Objectives"
    headline = ("objectives", "signoffs")
    display: ClassVar[dict[str, tuple[str, ...]]] = {
        "objectives": ("objective_id", "version", "status", "campaign", "kpi", "target", "threshold", "start", "end",
                       "baseline"),
        "signoffs": ("objective_id", "version", "role", "person", "signed_at")}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _day(value, field: str) -> dt.date:
    try:
        return pd.Timestamp(value).date()
    except (ValueError, TypeError):
        raise BadParameter(f"objective: {field} {value!r} is not a date (YYYY-MM-DD)") from None


def campaign_rows(campaign: str | None):
    """The rows of ad_performance that belong to ``campaign`` (its name or its id)."""
    if campaign is None:
        return None
    return lambda t: (t.campaign == campaign) | (t.campaign_id == campaign)


def terms_hash(terms: dict) -> str:
    """SHA-256 of the canonical JSON of an objective's terms."""
    doc = {k: terms.get(k) for k in TERMS}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def kpi_interval(daily: pd.DataFrame, name: str, *, resamples: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """The KPI over all ``daily`` rows (part sums per day) and a 95% percentile bootstrap interval
    over days (scipy.stats.bootstrap, days resampled with replacement)."""
    k = kpi(name)
    num = daily[k.num].to_numpy(float)
    den = None if k.den is None else daily[k.den].to_numpy(float)
    value = float(k.from_parts(num.sum(), None if den is None else den.sum()))
    if len(daily) < 3:
        return value, float("nan"), float("nan")

    def statistic(*parts, axis=-1):
        n = parts[0].sum(axis=axis)
        if den is None:
            return n
        d = parts[1].sum(axis=axis)
        return np.where(d > 0, n * k.scale / np.where(d > 0, d, 1), np.nan)

    data = (num,) if den is None else (num, den)
    res = stats.bootstrap(data, statistic, paired=True, vectorized=True, n_resamples=resamples, method="percentile",
                          random_state=seed)
    return value, float(res.confidence_interval.low), float(res.confidence_interval.high)


def baseline(ws, name: str, campaign: str | None, start: dt.date, days: int) -> dict:
    """The KPI over the ``days`` before ``start`` with its interval: the campaign's own rows where
    it has any there, the whole account's otherwise (said in ``baseline_scope``)."""
    k = kpi(name)
    if k.table != "ad_performance":
        column = {"orders": "ts", "events": "ts"}[k.table]
    else:
        column = "date"
    period = Period(start - dt.timedelta(days=days), start - dt.timedelta(days=1))
    scope, daily = "account", None
    if campaign is not None and k.table == "ad_performance":
        daily = part_frame(ws, [name], period=period, grain="day", where=campaign_rows(campaign))
        scope = f"campaign {campaign}"
    if daily is None or daily.empty:
        daily = part_frame(ws, [name], period=period, grain="day", table=k.table, date_column=column)
        scope = "account"
    if daily.empty:
        return {"baseline": None, "baseline_low": None, "baseline_high": None, "baseline_scope": "no data",
                "baseline_period": str(period)}
    value, low, high = kpi_interval(daily, name)
    clean = (lambda x: None if x is None or not np.isfinite(x) else float(x))
    return {"baseline": clean(value), "baseline_low": clean(low), "baseline_high": clean(high),
            "baseline_scope": scope, "baseline_period": str(period), "baseline_days": len(daily)}


def _versions(ws, objective_id: str) -> pd.DataFrame:
    t = ws.table("objectives")
    return t.filter(t.objective_id == objective_id).order_by(t.version.desc()).to_pandas()


def campaign_kpi(ws, name: str, campaign: str | None, period: Period) -> float:
    """The KPI over ``period`` on the campaign's ad rows (NaN without rows): what objectives are
    judged by, in the warnings and in the review."""
    k = kpi(name)
    df = part_frame(ws, [name], period=period, where=campaign_rows(campaign))
    if df.empty:
        return float("nan")
    return float(k.from_parts(df[k.num].sum(), None if k.den is None else df[k.den].sum()))


def locked_objectives(ws, campaign: str | None = None) -> pd.DataFrame:
    """The locked version of every objective (of ``campaign``), with its dates as dates."""
    t = ws.table("objectives")
    t = t.filter(t.status == "locked")
    if campaign is not None:
        t = t.filter(t.campaign == campaign)
    rows = t.order_by(["objective_id", "version"]).to_pandas().drop_duplicates("objective_id")
    for c in ("start", "end"):
        rows[c] = pd.to_datetime(rows[c]).dt.date
    return rows.reset_index(drop=True)


def locked_version(ws, objective_id: str) -> pd.Series | None:
    """The locked version of an objective (what the review judges), or None."""
    rows = _versions(ws, objective_id)
    locked = rows[rows.status == "locked"]
    return None if locked.empty else locked.sort_values("version").iloc[0]


def set_objective(ws, objective_id: str, *, kpi_name: str, target: float, start, end, campaign: str | None = None,
                  threshold: float | None = None, owner: str | None = None, guardrails: dict | None = None,
                  budget: float | None = None, roles: tuple[str, ...] | list[str] | None = None,
                  propose: bool = False, author: str | None = None, reason: str | None = None,
                  at: dt.datetime | None = None) -> Objectives:
    """Register a campaign's goal as the objective's next version, with its baseline (``at``:
    when, default now; the demo company sets its objective before its campaign's launch).

    Before it is locked, a new version replaces the draft (sign-offs of the old terms do not
    carry over). Once locked, it is refused (``ConflictError``) unless ``propose``: then the new
    version is kept as a proposal and the locked one still decides the review.
    """
    objective_id = str(objective_id or "").strip()
    if not objective_id:
        raise BadParameter("objective: an id is required")
    k = kpi(kpi_name)
    start_d, end_d = _day(start, "start"), _day(end, "end")
    if end_d < start_d:
        raise BadParameter(f"objective {objective_id}: end {end_d} is before start {start_d}")
    try:
        target = float(target)
        threshold = None if threshold is None else float(threshold)
    except (TypeError, ValueError):
        raise BadParameter(f"objective {objective_id}: target and threshold must be numbers") from None
    if threshold is not None and (threshold > target if k.higher_is_better else threshold < target):
        raise BadParameter(f"objective {objective_id}: the acceptable threshold {threshold:g} is better than the "
                           f"target {target:g} ({k.label} is better {'higher' if k.higher_is_better else 'lower'})")
    for g in (guardrails or {}):
        kpi(g)  # unknown guardrail KPIs are named before anything is written
    roles = tuple(r.strip() for r in (roles or DEFAULT_ROLES) if r and r.strip())
    if not roles:
        raise BadParameter(f"objective {objective_id}: at least one role must sign off")
    versions = _versions(ws, objective_id)
    locked = versions[versions.status == "locked"]
    if len(locked) and not propose:
        row = locked.iloc[0]
        raise ConflictError(f"objective {objective_id} version {int(row.version)} was locked at {row.locked_at} "
                            f"(hash {str(row.spec_hash)[:12]}); a locked objective cannot be edited. Propose a new "
                            "version (`--propose`, or \"propose\": true), which is kept beside it while the locked "
                            "one is what the review judges.")
    base = baseline(ws, kpi_name, campaign, start_d, (end_d - start_d).days + 1)
    terms = {"objective_id": objective_id, "campaign": campaign, "kpi": kpi_name, "target": target,
             "threshold": threshold, "start": start_d, "end": end_d, "owner": owner,
             "guardrails": json.dumps(guardrails or {}, sort_keys=True), "budget": budget,
             "baseline": base["baseline"], "baseline_low": base["baseline_low"],
             "baseline_high": base["baseline_high"], "roles": ",".join(roles)}
    version = int(versions.version.max()) + 1 if len(versions) else 1
    status = "proposed" if len(locked) else "draft"
    h = terms_hash(terms)
    now = pd.Timestamp(at or _now()).floor("us").to_pydatetime()
    row = pd.DataFrame([{**terms, "version": version, "status": status, "spec_hash": h, "locked_at": None,
                         "author": author, "reason": reason, "created_at": now}])[list(COLUMNS)]
    row = row.astype({"locked_at": "datetime64[us]", "created_at": "datetime64[us]", "budget": "float64",
                      "threshold": "float64", "baseline": "float64", "baseline_low": "float64",
                      "baseline_high": "float64"})
    with ws.transaction():
        ws.replace("objectives", row, on=["objective_id", "version"])
        record(ws, f"objective.{'propose' if status == 'proposed' else 'set'}", objective_id, actor=author, at=now,
               detail={"version": version, "spec_hash": h, "reason": reason})
    if base["baseline"] is None:
        btext = f"no history before {start_d} to set a baseline from"
    else:
        btext = (f"baseline {k.format(base['baseline'])} (95% interval {k.format(base['baseline_low'])} to "
                 f"{k.format(base['baseline_high'])}) over {base['baseline_period']}, {base['baseline_scope']}")
    lead = (f"Objective {objective_id} version {version} proposed beside locked version {int(locked.iloc[0].version)}, "
            "which still decides the review" if status == "proposed" else
            f"Objective {objective_id} version {version} set")
    return Objectives(tables={"objectives": row}, findings=(Finding(
        f"{lead}: {k.label} target {k.format(target)} from {start_d} to {end_d}; {btext}. Awaiting sign-off by "
        f"{', '.join(roles)}.", metric=kpi_name, value=base["baseline"],
        interval=None if base["baseline"] is None else (base["baseline_low"], base["baseline_high"]), impact=1.0),),
        params={"objective_id": objective_id, "version": version, "status": status, "spec_hash": h, **base})


def sign_objective(ws, objective_id: str, role: str, *, person: str | None = None, version: int | None = None,
                   comment: str | None = None, at: dt.datetime | None = None) -> Objectives:
    """Record ``role``'s sign-off of the objective's newest version (or ``version``); the last
    role to sign locks a draft (timestamp and hash in the audit trail)."""
    versions = _versions(ws, objective_id)
    if versions.empty:
        raise NotFoundError(f"no objective {objective_id!r}; set one with `mercator objective set`")
    row = versions.iloc[0] if version is None else versions[versions.version == version].squeeze()
    if isinstance(row, pd.DataFrame):
        raise NotFoundError(f"objective {objective_id} has no version {version}")
    if row.status == "locked":
        raise ConflictError(f"objective {objective_id} version {int(row.version)} is already locked "
                            f"(at {row.locked_at}); nothing left to sign")
    roles = str(row.roles or "").split(",")
    if role not in roles:
        raise BadParameter(f"objective {objective_id}: {role!r} is not a role that signs this objective "
                           f"(roles: {', '.join(roles)})")
    now = pd.Timestamp(at or _now()).floor("us")
    s = ws.table("signoffs")
    signed = s.filter((s.objective_id == objective_id) & (s.version == int(row.version))).to_pandas()
    if role in set(signed.role):
        raise ConflictError(f"objective {objective_id} version {int(row.version)}: {role} has already signed")
    entry = pd.DataFrame([{"objective_id": objective_id, "version": int(row.version), "role": role, "person": person,
                           "spec_hash": row.spec_hash, "comment": comment, "signed_at": now}]) \
        .astype({"signed_at": "datetime64[us]"})
    missing = [r for r in roles if r not in set(signed.role) | {role}]
    with ws.transaction():
        ws.replace("signoffs", entry, on=["objective_id", "version", "role"])
        record(ws, "objective.signoff", objective_id, actor=person, at=now,
               detail={"version": int(row.version), "role": role, "spec_hash": row.spec_hash})
        if not missing and row.status == "draft":
            locked = versions[versions.version == row.version].copy()
            locked["status"], locked["locked_at"] = "locked", now
            ws.replace("objectives", locked[list(COLUMNS)].astype({"locked_at": "datetime64[us]"}),
                       on=["objective_id", "version"])
            record(ws, "objective.lock", objective_id, actor=person, at=now,
                   detail={"version": int(row.version), "spec_hash": row.spec_hash, "roles": roles})
    if missing:
        text = (f"{role} signed objective {objective_id} version {int(row.version)}; waiting for "
                f"{', '.join(missing)}.")
    elif row.status == "draft":
        text = (f"{role} signed objective {objective_id} version {int(row.version)}; every role has signed, so it is "
                f"locked at {now} UTC (hash {str(row.spec_hash)[:12]}, in the audit trail).")
    else:
        text = (f"{role} signed proposal version {int(row.version)} of objective {objective_id}; every role agrees, "
                "but the locked version still decides its review (set a new objective id to be judged by these "
                "terms).")
    res = list_objectives(ws, objective_id)
    return Objectives(tables=res.tables, findings=(Finding(text, impact=1.0),),
                      params={"objective_id": objective_id, "version": int(row.version), "role": role,
                              "locked": not missing and row.status == "draft"})


def list_objectives(ws, objective_id: str | None = None) -> Objectives:
    """Every version of one objective with its sign-offs, or the latest version of each (and its
    locked one, where they differ)."""
    t = ws.table("objectives")
    s = ws.table("signoffs")
    if objective_id is not None:
        rows = _versions(ws, objective_id)
        if rows.empty:
            raise NotFoundError(f"no objective {objective_id!r}; set one with `mercator objective set`")
        signs = s.filter(s.objective_id == objective_id).order_by(["version", "signed_at"]).to_pandas()
    else:
        rows = t.order_by(["objective_id", t.version.desc()]).to_pandas()
        keep = rows.drop_duplicates("objective_id").index.union(rows[rows.status == "locked"].index)
        rows = rows.loc[keep].sort_values(["objective_id", "version"], ascending=[True, False])
        signs = s.order_by(["objective_id", "version", "signed_at"]).to_pandas()
    rows = rows[list(COLUMNS)].reset_index(drop=True)
    findings = []
    for oid, group in rows.groupby("objective_id", sort=True):
        locked = group[group.status == "locked"]
        k = kpi(group.kpi.iloc[0])
        if len(locked):
            lv = locked.iloc[0]
            text = (f"{oid}: version {int(lv.version)} locked at {lv.locked_at} ({k.label} target "
                    f"{k.format(lv.target)}, {lv.start} to {lv.end})")
            proposals = group[group.status == "proposed"]
            if len(proposals):
                text += f"; version {int(proposals.version.max())} proposed"
        else:
            d = group.iloc[0]
            have = set(signs[(signs.objective_id == oid) & (signs.version == d.version)].role)
            waiting = [r for r in str(d.roles).split(",") if r not in have]
            text = f"{oid}: version {int(d.version)} awaiting sign-off by {', '.join(waiting)}"
        findings.append(Finding(text + ".", metric=k.name, value=None, impact=1.0))
    if not findings:
        findings.append(Finding("No objectives yet; set one with `mercator objective set`.", impact=1.0))
    return Objectives(tables={"objectives": rows, "signoffs": signs.reset_index(drop=True)},
                      findings=tuple(findings), params={"objective_id": objective_id})


def describe_terms(row: pd.Series) -> str:
    """An objective version's terms in one line."""
    k = kpi(row.kpi)
    extra = f", acceptable {k.format(row.threshold)}" if pd.notna(row.threshold) else ""
    return (f"{k.label} target {k.format(row.target)}{extra} from {row.start} to {row.end}"
            + (f" for campaign {row.campaign}" if row.campaign else "")
            + (f", budget {number(row.budget)}" if pd.notna(row.budget) else ""))
