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

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import time
import uuid
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
           detail: dict | None = None, at: dt.datetime | None = None) -> str | None:
    """Append one entry (inside the caller's transaction when there is one) and return its hash.
    On a workspace opened read-only (a model trained, a list exported by a reading command) the
    entry waits in the pending file (:func:`defer`) until the next writer chains it; None then."""
    entry = {"ts": pd.Timestamp(at or _now()).floor("us").isoformat(), "actor": actor, "action": action,
             "subject": subject, "detail": detail or {}}
    if getattr(ws, "read_only", False):
        defer(pending_path(ws), entry)
        ws.audit_deferred += 1
        return None
    return _append(ws, [entry])


def _append(ws, entries: list[dict]) -> str:
    """Chain ``entries`` (in order) after the trail's last one, in one insert; the new head."""
    t = ws.table("audit")
    last = t.order_by(t.seq.desc()).limit(1).select("seq", "hash").to_pyarrow().to_pylist()
    seq = last[0]["seq"] if last else 0
    h = last[0]["hash"] if last else ""
    rows = []
    for e in entries:
        seq += 1
        ts = pd.Timestamp(e["ts"]).floor("us").to_pydatetime()
        text = _canonical(e["detail"] or {})
        prev, h = h, entry_hash(h, seq, ts, e["actor"], e["action"], e["subject"], text)
        rows.append({"seq": seq, "ts": ts, "actor": e["actor"], "action": e["action"], "subject": e["subject"],
                     "detail": text, "prev_hash": prev, "hash": h})
    frame = pd.DataFrame(rows).astype({"ts": "datetime64[us]", "seq": "int64"})
    # appended, never replaced: its positions are new (one insert, no delete by key)
    staged = ws.engine.stage(pa.Table.from_pandas(frame, preserve_index=False))
    try:
        with ws.transaction():
            ws.engine.insert("audit", staged)
    finally:
        ws.engine.release(staged)
    ws.after_commit(lambda: _write_head(ws, seq, h, rows[-1]["ts"]))
    return h


def pending_path(ws) -> Path:
    """The file where entries wait to be chained (written by readers and by the API server's
    access log): beside the workspace's settings file (``ws`` or that file's path)."""
    settings = ws if isinstance(ws, str | Path) else ws.config.path
    return Path(settings).with_suffix(".audit-pending.jsonl")


def defer(path: Path, entry: dict) -> None:
    """Append ``entry`` to the pending file ``path`` with one write, under an exclusive lock, to
    the file that is still there (one that :func:`chain_pending` renamed meanwhile is let go)."""
    entry = {**entry, "ts": entry.get("ts") or pd.Timestamp(_now()).floor("us").isoformat(),
             "detail": {**(entry.get("detail") or {}), "ref": uuid.uuid4().hex}}
    line = (_canonical(entry) + "\n").encode("utf-8")
    while True:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                same = os.fstat(fd).st_ino == os.stat(path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                os.write(fd, line)
                return
        finally:
            os.close(fd)  # closing lets the lock go


def chain_pending(ws) -> int:
    """Chain the entries waiting in the pending file into the trail (a writer does this when it
    opens the workspace; `mercator serve` every minute), in one transaction; how many. The file is
    claimed by renaming it under the writers' lock, and deleted once the transaction commits; an
    entry chained before a crash that kept its file is recognized by its ``ref`` and not chained
    twice."""
    path = pending_path(ws)
    claimed = pending_files(ws)[1]  # left by a crash before the delete
    if path.exists():
        fd = os.open(path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            target = path.with_name(f"{path.name}.{time.time_ns()}")
            os.replace(path, target)
            claimed.append(target)
        finally:
            os.close(fd)
    entries = []
    for f in claimed:
        for line in f.read_bytes().splitlines():
            with contextlib.suppress(ValueError):  # a torn last line: its writer died mid-write
                entries.append(json.loads(line))
    if entries:
        entries.sort(key=lambda e: e["ts"])
        t = ws.table("audit")
        since = pd.Timestamp(entries[0]["ts"]).floor("us").to_pydatetime()
        done = {json.loads(d).get("ref") for d in t.filter(t.ts >= since).detail.to_pyarrow().to_pylist() if d}
        entries = [e for e in entries if e["detail"].get("ref") not in done]
    if entries:
        _append(ws, entries)

    def forget() -> None:
        for f in claimed:
            f.unlink(missing_ok=True)

    ws.after_commit(forget)
    return len(entries)


def record_export(ws, path: str | Path, *, what: str, rows: int | dict, purpose: str | None = None) -> None:
    """An export into the audit trail: the file, what it holds, its rows and the purpose it
    serves (nothing without a workspace: a file analysed in memory has no trail)."""
    if ws is not None:
        record(ws, "export", str(path), detail={"what": what, "rows": rows, "purpose": purpose})


def pending_files(ws) -> tuple[Path, list[Path]]:
    """The pending file and those claimed but not yet deleted (after a crash); ``ws`` as for
    :func:`pending_path`."""
    path = pending_path(ws)
    return path, sorted(path.parent.glob(path.name + ".*"))


def waiting(ws) -> int:
    """How many entries wait in the pending files, not yet chained."""
    path, claimed = pending_files(ws)
    return sum(f.read_bytes().count(b"\n") for f in [path, *claimed] if f.exists())


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
    n = waiting(ws)
    if n:  # not yet in the chain: kept by the file's permissions until the next writer chains them
        checks.append({"check": "pending", "ok": True,
                       "detail": f"{n:,} entr{'y waits' if n == 1 else 'ies wait'} in {pending_path(ws).name} to be "
                                 "chained by the next writer"})
    frame = pd.DataFrame(checks)
    ok = bool(frame.ok.all())
    text = ("The audit trail is intact: " + "; ".join(frame.detail) + "." if ok else
            "The audit trail was TAMPERED WITH: " + "; ".join(frame.detail[~frame.ok]) + ".")
    return AuditCheck(tables={"checks": frame}, findings=(Finding(text, impact=1.0),),
                      params={"intact": ok, "entries": len(rows), "broken_at": broken, "pending": n,
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
