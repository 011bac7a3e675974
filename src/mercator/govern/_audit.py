"""The audit trail: an append-only, hash-chained log of governed changes.

Each entry's hash is SHA-256 over the previous entry's hash and this entry's fields (as
canonical JSON), like a certificate-transparency log or git's commit chain: changing,
inserting or removing a row anywhere breaks every hash after it, and ``verify_audit`` says
where. The chain proves order and integrity, not authorship (anyone with write access to the
workspace file could rebuild a whole chain); keep the last hash somewhere else (the closing
note of a review, a ticket) to pin it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any, ClassVar

import pandas as pd

from mercator.results import Finding, Result

_FIELDS = ("seq", "ts", "actor", "action", "subject", "detail")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)


def entry_hash(prev_hash: str, seq: int, ts: dt.datetime, actor: str | None, action: str, subject: str | None,
               detail: str | None) -> str:
    """The hash of one entry, chained to ``prev_hash``."""
    body = _canonical([prev_hash or "", int(seq), pd.Timestamp(ts).isoformat(), actor or "", action, subject or "",
                       detail or ""])
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def record(ws, action: str, subject: str | None = None, *, actor: str | None = None,
           detail: dict | None = None, at: dt.datetime | None = None) -> str:
    """Append one entry (inside the caller's transaction when there is one) and return its hash."""
    t = ws.table("audit")
    last = t.order_by(t.seq.desc()).limit(1).select("seq", "hash").to_pyarrow().to_pylist()
    seq = last[0]["seq"] + 1 if last else 1
    prev = last[0]["hash"] if last else ""
    ts = pd.Timestamp(at or _now()).floor("us").to_pydatetime()
    text = _canonical(detail or {})
    h = entry_hash(prev, seq, ts, actor, action, subject, text)
    row = pd.DataFrame([{"seq": seq, "ts": ts, "actor": actor, "action": action, "subject": subject, "detail": text,
                         "prev_hash": prev, "hash": h}]).astype({"ts": "datetime64[us]"})
    ws.replace("audit", row, on=["seq"])
    return h


@dataclass(frozen=True)
class AuditTrail(Result):
    """The audit trail (or the entries about one subject), and whether its chain is intact."""

    kind = "audit"
    title = "Audit trail"
    headline = ("entries",)
    display: ClassVar[dict[str, tuple[str, ...]]] = {"entries": ("seq", "ts", "actor", "action", "subject")}


def audit_trail(ws, *, subject: str | None = None, action: str | None = None, limit: int | None = None) -> AuditTrail:
    """The trail, checked end to end, with the entries about ``subject`` (or of ``action``,
    a prefix such as ``objective``), newest first."""
    t = ws.table("audit")
    rows = t.order_by("seq").to_pandas()
    broken = _first_break(rows)
    shown = rows
    if subject is not None:
        shown = shown[shown.subject == subject]
    if action is not None:
        shown = shown[shown.action.str.startswith(action)]
    shown = shown.iloc[::-1]
    if limit:
        shown = shown.head(limit)
    if broken is None:
        text = (f"The audit trail holds {len(rows):,} entries and its hash chain is intact"
                + (f" (last hash {rows.hash.iloc[-1][:16]})." if len(rows) else "."))
    else:
        text = (f"The audit trail's hash chain is BROKEN at entry {broken}: that entry or the one before it was "
                "changed, inserted or removed outside Mercator. Entries before it are intact.")
    return AuditTrail(tables={"entries": shown.reset_index(drop=True)},
                      findings=(Finding(text, impact=1.0),),
                      params={"subject": subject, "action": action, "entries": len(rows), "intact": broken is None,
                              "broken_at": broken, "last_hash": rows.hash.iloc[-1] if len(rows) else None})


def _first_break(rows: pd.DataFrame) -> int | None:
    """The seq of the first entry whose hash or link does not match, or None."""
    prev = ""
    for i, r in enumerate(rows.itertuples(index=False), start=1):
        if r.seq != i or (r.prev_hash or "") != prev or r.hash != entry_hash(prev, r.seq, r.ts, r.actor, r.action,
                                                                             r.subject, r.detail):
            return i
        prev = r.hash
    return None
