"""The registries: every version of every decision policy (the ``policies`` table) and of every
creative or offer (``creatives``), with its status, who changed it and why. A change is a new
version; nothing is overwritten, so each table is its own change log."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pandas as pd
import yaml

from mercator.decide._policy import Policy, parse_policy, spec_dict
from mercator.errors import BadParameter, NotFoundError
from mercator.results import Finding, Result

STATUSES = ("draft", "live", "paused", "retired")


@dataclass(frozen=True)
class PolicyVersions(Result):
    """Decision policies: their versions, status and change log."""

    kind = "policies"
    title = "Decision policies"
    headline = ("policies",)
    display: ClassVar[dict[str, tuple[str, ...]]] = {
        "policies": ("policy", "version", "status", "author", "reason", "created_at")}


def _next_version(t, key: str, value: str) -> int:
    last = t.filter(t[key] == value).version.max().execute()
    return 1 if last is None or pd.isna(last) else int(last) + 1


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def save_policy(ws, spec: dict | str | Path, *, status: str = "live", author: str | None = None,
                reason: str | None = None) -> PolicyVersions:
    """Check ``spec`` and store it as the policy's next version with ``status``."""
    if status not in STATUSES:
        raise BadParameter(f"status must be one of {', '.join(STATUSES)}; got {status!r}")
    data = spec_dict(spec)
    policy = parse_policy(data)  # every problem named before anything is written
    version = _next_version(ws.table("policies"), "policy", policy.name)
    data["version"] = version
    row = pd.DataFrame([{"policy": policy.name, "version": version, "spec": yaml.safe_dump(data, sort_keys=False),
                         "status": status, "author": author, "reason": reason,
                         "created_at": _now()}])
    from mercator.govern import record

    with ws.transaction():
        ws.replace("policies", row, on=["policy", "version"])
        # a live version is a promotion: the decision service serves it from its next load
        record(ws, "policy.promote" if status == "live" else "policy.save", policy.name, actor=author,
               detail={"version": version, "status": status, "reason": reason,
                       "spec_sha256": hashlib.sha256(row.spec[0].encode()).hexdigest()})
    res = list_policies(ws, policy.name)
    return PolicyVersions(tables=res.tables, findings=(Finding(
        f"Policy {policy.name} version {version} saved as {status}: {len(policy.arms)} arms, {policy.bandit}"
        + (f", floor {policy.floor}" if policy.floor else "") + (f" ({reason})" if reason else "") + ".",
        impact=1.0),), params={"policy": policy.name, "version": version, "status": status})


def list_policies(ws, name: str | None = None) -> PolicyVersions:
    """Every version (of ``name``, or of every policy), newest first."""
    t = ws.table("policies")
    if name is not None:
        t = t.filter(t.policy == name)
    rows = t.select("policy", "version", "status", "author", "reason", "created_at") \
        .order_by(["policy", t.version.desc()]).to_pandas()
    if name is not None and rows.empty:
        raise NotFoundError(f"no policy {name!r}; save one with `mercator decide policy set FILE`")
    live = rows.drop_duplicates("policy")
    text = (f"{live.policy.nunique()} polic{'y' if live.policy.nunique() == 1 else 'ies'}: "
            + ", ".join(f"{r.policy} v{r.version} ({r.status})" for r in live.itertuples()) + "."
            if len(rows) else "No decision policies yet; save one with `mercator decide policy set FILE`.")
    return PolicyVersions(tables={"policies": rows}, findings=(Finding(text, impact=1.0),), params={"policy": name})


def load_policy(ws, name: str, version: int | None = None) -> tuple[Policy, str]:
    """The policy's latest version (or ``version``) and its status."""
    t = ws.table("policies")
    t = t.filter(t.policy == name)
    if version is not None:
        t = t.filter(t.version == version)
    rows = t.order_by(t.version.desc()).limit(1).to_pandas()
    if rows.empty:
        raise NotFoundError(f"no policy {name!r}" + (f" version {version}" if version else ""))
    return parse_policy(rows.spec.iloc[0]), str(rows.status.iloc[0])


def live_policies(ws) -> list[Policy]:
    """The policies whose latest version is live."""
    t = ws.table("policies")
    rows = t.order_by(["policy", t.version.desc()]).to_pandas().drop_duplicates("policy")
    return [parse_policy(r.spec) for r in rows.itertuples() if r.status == "live"]


# -- creatives ---------------------------------------------------------------------------------
CREATIVE_FIELDS = ("kind", "name", "content", "channel", "market", "segment", "status", "test_cycle", "start", "end")
_COLUMNS = ("creative_id", "version", *CREATIVE_FIELDS, "author", "reason", "created_at")


@dataclass(frozen=True)
class CreativeVersions(Result):
    """Creatives and offers: their versions, status, test cycle and change log."""

    kind = "creatives"
    title = "Creatives and offers"
    headline = ("creatives",)
    display: ClassVar[dict[str, tuple[str, ...]]] = {
        "creatives": ("creative_id", "version", "status", "channel", "market", "segment", "test_cycle", "start",
                      "end", "author", "reason")}


def _date(value, field: str, creative: str):
    if value is None or value == "" or (not isinstance(value, str) and pd.isna(value)):
        return None
    try:
        return pd.Timestamp(value).date()
    except (ValueError, TypeError):
        raise BadParameter(f"creative {creative}: {field} {value!r} is not a date (YYYY-MM-DD)") from None


def save_creative(ws, creative_id: str, *, author: str | None = None, reason: str | None = None,
                  **fields) -> CreativeVersions:
    """Store the creative's next version: ``fields`` (see ``CREATIVE_FIELDS``) change the last
    version's (a status change needs only ``status``); the first version needs no more than an
    id (status draft, kind creative)."""
    creative_id = str(creative_id or "").strip()
    if not creative_id:
        raise BadParameter("creative: an id is required")
    unknown = sorted(set(fields) - set(CREATIVE_FIELDS))
    if unknown:
        raise BadParameter(f"creative {creative_id}: unknown field {unknown[0]!r} (fields: "
                           f"{', '.join(CREATIVE_FIELDS)})")
    t = ws.table("creatives")
    last = t.filter(t.creative_id == creative_id).order_by(t.version.desc()).limit(1).to_pandas()
    row = ({k: last[k].iloc[0] for k in CREATIVE_FIELDS} if len(last)
           else {k: None for k in CREATIVE_FIELDS} | {"kind": "creative", "status": "draft"})
    row.update({k: v for k, v in fields.items() if v is not None})
    if row["status"] not in STATUSES:
        raise BadParameter(f"creative {creative_id}: status must be one of {', '.join(STATUSES)}; "
                           f"got {row['status']!r}")
    if row["kind"] not in ("creative", "offer"):
        raise BadParameter(f"creative {creative_id}: kind must be creative or offer; got {row['kind']!r}")
    row["start"], row["end"] = (_date(row["start"], "start", creative_id), _date(row["end"], "end", creative_id))
    if row["start"] and row["end"] and row["end"] < row["start"]:
        raise BadParameter(f"creative {creative_id}: end {row['end']} is before start {row['start']}")
    version = int(last.version.iloc[0]) + 1 if len(last) else 1
    frame = pd.DataFrame([{"creative_id": creative_id, "version": version, **row, "author": author,
                           "reason": reason, "created_at": _now()}])[list(_COLUMNS)]
    ws.replace("creatives", frame, on=["creative_id", "version"])
    return CreativeVersions(tables={"creatives": frame}, findings=(Finding(
        f"Creative {creative_id} version {version} saved as {row['status']}"
        + (f" ({reason})" if reason else "") + ".", impact=1.0),),
        params={"creative_id": creative_id, "version": version, "status": row["status"]})


def list_creatives(ws, creative_id: str | None = None, *, status: str | None = None,
                   channel: str | None = None) -> CreativeVersions:
    """Every version of one creative (newest first), or the latest version of each (filtered
    by ``status`` and ``channel``)."""
    t = ws.table("creatives")
    if creative_id is not None:
        rows = t.filter(t.creative_id == creative_id).order_by(t.version.desc()).to_pandas()
        if rows.empty:
            raise NotFoundError(f"no creative {creative_id!r}; register one with `mercator decide creative set ID`")
    else:
        latest = t.group_by("creative_id").aggregate(version=t.version.max())
        rows = t.inner_join(latest, ["creative_id", "version"]).select(*_COLUMNS)
        if status is not None:
            rows = rows.filter(rows.status == status)
        if channel is not None:
            rows = rows.filter(rows.channel == channel)
        rows = rows.order_by("creative_id").to_pandas()
    counts = rows.drop_duplicates("creative_id").status.value_counts()
    text = (f"{rows.creative_id.nunique()} creative(s): " + ", ".join(f"{n} {s}" for s, n in counts.items()) + "."
            if len(rows) else "No creatives match; register one with `mercator decide creative set ID`.")
    return CreativeVersions(tables={"creatives": rows[list(_COLUMNS)]}, findings=(Finding(text, impact=1.0),),
                            params={"creative_id": creative_id, "status": status, "channel": channel})


def live_creatives(ws) -> pd.DataFrame:
    """The latest version of every creative (id, status, content, start, end): what a policy's
    arms serve and when they may run."""
    return list_creatives(ws).to_frame("creatives")[["creative_id", "status", "content", "start", "end"]]
