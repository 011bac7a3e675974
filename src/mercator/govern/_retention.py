"""Retention: how long each table keeps its rows, and for which purpose.

A policy names a table, how long its rows are kept (counted back from now on the table's time
column: ``30d``, ``13mo``, ``2y``; ``never`` keeps them for good) and the purpose that justifies
keeping them. ``DEFAULTS`` holds the usual periods; the workspace's settings file overrides
them per table::

    [retention]
    events = "25mo"
    quarantine = "14d"

``retention(ws)`` counts what is past its period (a dry run); ``apply=True`` deletes it, in the
engine and in one transaction, and writes the counts to the audit trail.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from dataclasses import dataclass
from typing import ClassVar

import ibis
import pandas as pd

from mercator.errors import BadParameter, ConfigError
from mercator.results import Finding, Result


@dataclass(frozen=True)
class Policy:
    table: str
    keep: str  # 30d, 13mo, 2y or never
    purpose: str

    def cutoff(self, now: dt.datetime) -> dt.datetime | None:
        """Rows stamped before this are past their period (None: kept for good)."""
        if self.keep == "never":
            return None
        n, unit = _parse(self.keep, self.table)
        offset = {"d": pd.DateOffset(days=n), "w": pd.DateOffset(weeks=n), "mo": pd.DateOffset(months=n),
                  "y": pd.DateOffset(years=n)}[unit]
        return (pd.Timestamp(now) - offset).to_pydatetime()


#: The usual periods: raw behaviour for 13 months (a year-on-year comparison and a month), the
#: decision log and its rewards for 24 months, rejected raw rows for 30 days.
DEFAULTS = (
    Policy("events", "13mo", "measurement"),
    Policy("quarantine", "30d", "data quality: fixing and reloading rejected rows"),
    Policy("decisions", "24mo", "personalization: learning and auditing decisions"),
    Policy("rewards", "24mo", "personalization: learning and auditing decisions"),
    Policy("alert_events", "13mo", "monitoring"),
    Policy("assignments", "24mo", "measurement: experiments"),
)
_PERIOD = re.compile(r"^(\d+)\s*(d|w|mo|y)$")


def _parse(text: str, table: str) -> tuple[int, str]:
    m = _PERIOD.match(str(text).strip())
    if not m or int(m[1]) <= 0:
        raise BadParameter(f"retention of {table}: {text!r} is not a period such as 30d, 13mo or 2y (or never)")
    return int(m[1]), m[2]


def policies(ws) -> tuple[Policy, ...]:
    """The defaults, with the settings file's ``[retention]`` overrides."""
    from mercator.schema import TABLES

    path = ws.config.path
    overrides: dict = {}
    if path is not None and path.exists():
        try:
            overrides = tomllib.loads(path.read_text(encoding="utf-8")).get("retention", {})
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
    out = {p.table: p for p in DEFAULTS}
    for table, keep in overrides.items():
        if table not in TABLES or TABLES[table].time_column is None:
            raise ConfigError(f"{path}: [retention] names {table!r}, which is not a table with a time column")
        keep = str(keep)
        if keep != "never":
            _parse(keep, table)
        out[table] = Policy(table, keep, out[table].purpose if table in out else "set in the settings file")
    return tuple(out.values())


@dataclass(frozen=True)
class Retention(Result):
    """What each retention policy keeps and removes."""

    kind = "retention"
    title = "Retention"
    headline = ("tables",)
    display: ClassVar[dict[str, tuple[str, ...]]] = {
        "tables": ("table", "keep", "purpose", "cutoff", "rows", "expired", "deleted")}


def retention(ws, *, now: dt.datetime | None = None, apply: bool = False) -> Retention:
    """Count (and with ``apply``, delete) the rows past their retention period as of ``now``."""
    from mercator.govern._audit import record
    from mercator.schema import TABLES

    now = (now or dt.datetime.now(dt.UTC)).replace(tzinfo=None)
    rows = []
    for p in policies(ws):
        cutoff = p.cutoff(now)
        col = TABLES[p.table].time_column
        t = ws.table(p.table)
        total = int(t.count().to_pyarrow().as_py())
        old = (lambda t, col=col, cutoff=cutoff: t[col] < ibis.literal(cutoff).cast(t[col].type()))
        expired = 0 if cutoff is None else int(t.filter(old(t)).count().to_pyarrow().as_py())
        rows.append({"table": p.table, "keep": p.keep, "purpose": p.purpose, "time_column": col, "cutoff": cutoff,
                     "rows": total, "expired": expired, "deleted": 0, "_where": old})
    if apply and any(r["expired"] for r in rows):
        with ws.transaction():
            for r in rows:
                if r["expired"]:
                    ws.delete(r["table"], r["_where"])
                    r["deleted"] = r["expired"]
            record(ws, "govern.retention", None, at=now,
                   detail={r["table"]: r["deleted"] for r in rows if r["deleted"]})
    frame = pd.DataFrame([{k: v for k, v in r.items() if k != "_where"} for r in rows])
    expired = int(frame.expired.sum())
    text = (f"{expired:,} row(s) past their retention period as of {now:%Y-%m-%d %H:%M} UTC"
            + (f"; deleted{'' if expired else ' none'}." if apply else (": a dry run, nothing deleted "
                                                                        "(--apply deletes them)." if expired
                                                                        else ".")))
    findings = [Finding(text, impact=1.0)]
    for r in frame[frame.expired > 0].itertuples():
        findings.append(Finding(f"{r.table}: {r.expired:,} of {r.rows:,} row(s) older than {r.keep} "
                                f"(before {pd.Timestamp(r.cutoff):%Y-%m-%d}).", impact=0.8))
    return Retention(tables={"tables": frame}, findings=tuple(findings),
                     params={"now": now, "apply": apply, "expired": expired})
