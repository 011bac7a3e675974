"""The audit trail: an append-only, hash-chained log of governed changes.

Each entry's hash is SHA-256 over the previous entry's hash and this entry's fields (as
canonical JSON), like a certificate-transparency log or git's commit chain: changing,
inserting or removing a row anywhere breaks every hash after it, and ``verify_audit`` says
where. The chain proves order and integrity, not authorship: anyone with write access to the
workspace file could rebuild a whole chain. So each append also writes the chain's head (its
last position and hash) to a file outside the database, ``<workspace>.audit-head``, once the
transaction commits; ``verify_audit`` checks the chain and compares its end with that head, so
a truncated tail, or a chain rebuilt from some entry on, shows. Keep a copy of the head
elsewhere too (a ticket, a review's note) to pin it against someone who can write both files.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import pyarrow as pa

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
    # appended, never replaced: its position is new (one insert, no delete by key)
    staged = ws.engine.stage(pa.Table.from_pandas(row, preserve_index=False))
    try:
        with ws.transaction():
            ws.engine.insert("audit", staged)
    finally:
        ws.engine.release(staged)
    ws.after_commit(lambda: _write_head(ws, seq, h, ts))
    return h


def head_path(ws) -> Path:
    """The file outside the database that holds the chain's head."""
    return Path(ws.config.path).with_suffix(".audit-head")


def _write_head(ws, seq: int, h: str, ts: dt.datetime) -> None:
    path = head_path(ws)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"seq": seq, "hash": h, "ts": pd.Timestamp(ts).isoformat()}), encoding="utf-8")
    os.replace(tmp, path)  # atomic: a reader sees the old head or the new one, never half


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


@dataclass(frozen=True)
class AuditCheck(Result):
    """The audit trail verified: its chain, and its end against the head kept outside the database."""

    kind = "audit_check"
    title = "Audit trail verified"
    headline = ("checks",)
    display: ClassVar[dict[str, tuple[str, ...]]] = {"checks": ("check", "ok", "detail")}


def verify_audit(ws) -> AuditCheck:
    """Check every link of the chain, then the chain's end against the head file: an entry
    changed, removed, inserted or moved breaks a link; a tail cut off (or a chain rebuilt from
    some entry on) leaves the end short of, or different from, the head."""
    rows = ws.table("audit").order_by("seq").to_pandas()
    broken = _first_break(rows)
    last = (int(rows.seq.iloc[-1]), str(rows.hash.iloc[-1])) if len(rows) else (0, "")
    path = head_path(ws)
    head = json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
    checks = [{"check": "chain", "ok": broken is None,
               "detail": f"{len(rows):,} entries, every link holds" if broken is None else
               f"broken at entry {broken}: it, or the one before it, was changed, inserted, removed or moved"}]
    if head is None:
        checks.append({"check": "head", "ok": not len(rows),
                       "detail": "no head file: nothing recorded yet" if not len(rows) else
                       f"the head file {path.name} is missing: the end of the chain cannot be checked"})
    elif (int(head["seq"]), head["hash"]) == last:
        checks.append({"check": "head", "ok": True, "detail": f"the chain ends at entry {last[0]}, as the head "
                                                              f"file says ({last[1][:16]})"})
    elif last[0] < int(head["seq"]):
        checks.append({"check": "head", "ok": False,
                       "detail": f"the chain ends at entry {last[0]} but the head file says {head['seq']}: "
                                 f"{int(head['seq']) - last[0]} entr{'y was' if int(head['seq']) - last[0] == 1 else 'ies were'} "
                                 "cut off the end"})
    elif last[0] == int(head["seq"]):
        checks.append({"check": "head", "ok": False,
                       "detail": f"entry {last[0]} differs from the head file's hash: the chain was rebuilt"})
    else:
        checks.append({"check": "head", "ok": False,
                       "detail": f"the chain runs to entry {last[0]}, past the head file's {head['seq']}: entries "
                                 "were added outside Mercator"})
    frame = pd.DataFrame(checks)
    ok = bool(frame.ok.all())
    text = ("The audit trail is intact: " + "; ".join(frame.detail) + "." if ok else
            "The audit trail was TAMPERED WITH: " + "; ".join(frame.detail[~frame.ok]) + ".")
    return AuditCheck(tables={"checks": frame}, findings=(Finding(text, impact=1.0),),
                      params={"intact": ok, "entries": len(rows), "broken_at": broken,
                              "head": head, "last": {"seq": last[0], "hash": last[1]}})


def _first_break(rows: pd.DataFrame) -> int | None:
    """The seq of the first entry whose hash or link does not match, or None."""
    prev = ""
    for i, r in enumerate(rows.itertuples(index=False), start=1):
        if r.seq != i or (r.prev_hash or "") != prev or r.hash != entry_hash(prev, r.seq, r.ts, r.actor, r.action,
                                                                             r.subject, r.detail):
            return i
        prev = r.hash
    return None
