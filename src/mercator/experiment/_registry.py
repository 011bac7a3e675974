"""Pre-registration: an experiment's hypothesis, primary metric, guardrails and decision rule,
locked with a timestamp and a SHA-256 hash before the results are read, so the criteria for
success cannot shift after the fact.

The hash covers the canonical JSON of the criteria (sorted keys). Registering the same id
again with the same criteria changes nothing; with other criteria it is refused. ``verify``
recomputes the hash from the stored row, so an edit of the table behind our back shows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

import pandas as pd

from mercator.errors import ConflictError, MercatorError, NotFoundError
from mercator.results import Finding, Result
from mercator.workspace import Workspace

CRITERIA = ("hypothesis", "primary_metric", "guardrails", "success_criteria")


def criteria_hash(hypothesis: str, primary_metric: str, guardrails: list[str], success_criteria: dict) -> str:
    doc = {"hypothesis": hypothesis, "primary_metric": primary_metric, "guardrails": list(guardrails),
           "success_criteria": success_criteria}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _stored(ws: Workspace, experiment_id: str) -> pd.Series | None:
    e = ws.table("experiments")
    rows = e.filter(e.experiment_id == experiment_id).to_pandas()
    return None if rows.empty else rows.iloc[0]


def _parse(row: pd.Series) -> tuple[str, str, list[str], dict]:
    return (str(row["hypothesis"] or ""), str(row["primary_metric"] or ""), json.loads(row["guardrails"] or "[]"),
            json.loads(row["success_criteria"] or "{}"))


@dataclass(frozen=True)
class Registration(Result):
    """An experiment's locked criteria: id, hash and when they were locked."""

    kind = "experiment_registration"
    title = "Pre-registration"


def register(ws: Workspace, experiment_id: str, *, hypothesis: str, primary_metric: str, success_criteria: dict,
             guardrails: list[str] | tuple[str, ...] = (), name: str | None = None, start: dt.date | None = None,
             end: dt.date | None = None) -> Registration:
    """Lock an experiment's criteria (``success_criteria``: the decision rule, e.g.
    ``{"metric": "conversion", "min_relative_lift": 0.05, "alpha": 0.05}``)."""
    if not hypothesis or not primary_metric or not success_criteria:
        raise MercatorError("pre-registration needs a hypothesis, a primary metric and a decision rule")
    h = criteria_hash(hypothesis, primary_metric, list(guardrails), dict(success_criteria))
    old = _stored(ws, experiment_id) if ws.count("experiments") else None
    if old is not None and isinstance(old["criteria_hash"], str) and old["criteria_hash"]:
        if old["criteria_hash"] != h:
            raise ConflictError(f"experiment {experiment_id} was locked at {old['locked_at']} (criteria hash "
                                f"{old['criteria_hash'][:12]}); its criteria cannot change after locking. Register "
                                "a new experiment id for a new plan.")
        return Registration(findings=(Finding(f"{experiment_id} is already locked with these criteria "
                                        f"(hash {h[:12]}, at {old['locked_at']})."),),
                      params={"experiment_id": experiment_id, "criteria_hash": h, "locked_at": str(old["locked_at"])})
    now = pd.Timestamp.now(tz="UTC").tz_localize(None).floor("s")
    row = pd.DataFrame([{
        "experiment_id": experiment_id, "name": name if name is not None else (old["name"] if old is not None else None),
        "hypothesis": hypothesis, "primary_metric": primary_metric, "guardrails": json.dumps(list(guardrails)),
        "start": pd.Timestamp(start) if start else (old["start"] if old is not None else pd.NaT),
        "end": pd.Timestamp(end) if end else (old["end"] if old is not None else pd.NaT),
        "success_criteria": json.dumps(dict(success_criteria), sort_keys=True), "locked_at": now, "criteria_hash": h}])
    ws.replace("experiments", row.astype({"start": "datetime64[us]", "end": "datetime64[us]",
                                          "locked_at": "datetime64[us]"}), on=["experiment_id"])
    return Registration(findings=(Finding(f"{experiment_id} locked at {now} UTC: criteria hash {h[:12]}."),),
                  params={"experiment_id": experiment_id, "criteria_hash": h, "locked_at": str(now)})


def verify(ws: Workspace, experiment_id: str) -> dict:
    """The locked criteria of an experiment, after checking them against their hash."""
    row = _stored(ws, experiment_id)
    if row is None:
        raise NotFoundError(f"no experiment {experiment_id} in the workspace")
    if not (isinstance(row["criteria_hash"], str) and row["criteria_hash"]):
        raise MercatorError(f"experiment {experiment_id} has no locked criteria: register it before reading results")
    hyp, metric, guards, rule = _parse(row)
    if criteria_hash(hyp, metric, guards, rule) != row["criteria_hash"]:
        raise MercatorError(f"experiment {experiment_id}: the stored criteria do not match their hash; they were "
                            "changed after locking")
    return {"hypothesis": hyp, "primary_metric": metric, "guardrails": guards, "success_criteria": rule,
            "locked_at": row["locked_at"], "criteria_hash": row["criteria_hash"]}


__all__ = ["criteria_hash", "register", "verify"]
