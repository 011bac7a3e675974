"""The policy registry: every version of every decision policy in the workspace's ``policies``
table, with its status, who changed it and why. A change is a new version; nothing is
overwritten, so the table is its own change log."""

from __future__ import annotations

import datetime as dt
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


def save_policy(ws, spec: dict | str | Path, *, status: str = "live", author: str | None = None,
                reason: str | None = None) -> PolicyVersions:
    """Check ``spec`` and store it as the policy's next version with ``status``."""
    if status not in STATUSES:
        raise BadParameter(f"status must be one of {', '.join(STATUSES)}; got {status!r}")
    data = spec_dict(spec)
    policy = parse_policy(data)  # every problem named before anything is written
    t = ws.table("policies")
    last = t.filter(t.policy == policy.name).version.max().execute()
    version = 1 if last is None or pd.isna(last) else int(last) + 1
    data["version"] = version
    row = pd.DataFrame([{"policy": policy.name, "version": version, "spec": yaml.safe_dump(data, sort_keys=False),
                         "status": status, "author": author, "reason": reason,
                         "created_at": dt.datetime.now(dt.UTC).replace(tzinfo=None)}])
    ws.replace("policies", row, on=["policy", "version"])
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
