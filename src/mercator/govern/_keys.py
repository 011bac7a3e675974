"""Rotating the pseudonymization key: every pseudonym in the workspace re-hashed under a new
key, consistently, without the original values (which are never kept).

A stored pseudonym ``h`` becomes ``sha256(new key | rotate | h)`` (``mercator.ingest``'s key
chain); from then on ingest hashes a new value under the first key and through each rotation,
so rows loaded before and after still join, and a subject request by e-mail still finds the
person. What an old key alone can compute from a guessed address no longer matches anything
stored: rotate when a key may have leaked (an old copy of the settings file, a departed
colleague who saw it) or on a schedule.

Re-hashed in one transaction: every column the schema tags as personal data, and every token
(``<email:...>``) in the text columns (quarantine's raw rows and details, protected free text).
The settings file gains the new key only once that transaction has committed: the new file is
written beside it first (``<settings>.rotating``) and moved into place after the commit; a crash
in between is settled by the next writer, which keeps the new file if the rotation's audit entry
(with the key chain's fingerprint) committed and drops it otherwise.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pandas as pd

from mercator.errors import BadParameter, ConfigError
from mercator.results import Finding, Result

ROTATING = ".rotating"


@dataclass(frozen=True)
class KeyRotation(Result):
    """What a key rotation re-hashed: per table and column, the rows."""

    kind = "key_rotation"
    title = "Pseudonymization key rotated"
    headline = ("columns",)
    display: ClassVar[dict[str, tuple[str, ...]]] = {"columns": ("table", "column", "what", "rows")}


def fingerprint(keys: tuple[str, ...]) -> str:
    """A short digest of a key chain, for the audit trail (it reveals nothing of the keys)."""
    return hashlib.sha256(("mercator-keychain|" + "|".join(keys)).encode()).hexdigest()[:16]


def _pending(settings: Path) -> Path:
    return settings.with_name(settings.name + ROTATING)


def _with_rotations(text: str, rotations: list[str]) -> str:
    """The settings file's text with ``rotations`` in its ``[pseudonymization]`` section (the
    rest kept as written: comments, other sections)."""
    line = "rotations = [" + ", ".join(f'"{k}"' for k in rotations) + "]"
    out, section, placed = [], None, False
    for raw in text.splitlines():
        stripped = raw.strip()
        if stripped.startswith("["):
            if section == "pseudonymization" and not placed:
                out.append(line)
                placed = True
            section = stripped.strip("[]").strip()
        if section == "pseudonymization" and re.match(r"rotations\s*=", stripped):
            continue
        out.append(raw)
    if not placed:
        out += [line] if section == "pseudonymization" else ["", "[pseudonymization]", line]
    new = "\n".join(out) + "\n"
    if tomllib.loads(new).get("pseudonymization", {}).get("rotations") != rotations:
        raise ConfigError("the settings file's [pseudonymization] section could not be rewritten with the new key; "
                          "check it by hand (no key was changed)")
    return new


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def rotate_key(ws, *, new_key: str | None = None) -> KeyRotation:
    """Re-hash every pseudonym in the workspace under a new key (``new_key``, or a random one)
    and add it to the settings' key chain (module docstring)."""
    from mercator.govern._audit import record
    from mercator.govern._pii import TEXT_TABLES, _rewrite, _text_columns
    from mercator.ingest._pii import TOKEN_PATTERN, rotate_tokens, rotated_expr
    from mercator.schema import TABLES

    if ws.read_only:
        raise BadParameter("rotating the key rewrites the workspace: open it for writing")
    new = new_key or secrets.token_hex(32)
    if len(new) < 16:
        raise BadParameter("a pseudonymization key needs at least 16 characters")
    settings = Path(ws.config.path)
    rotations = [k.reveal() for k in ws.config.rotations] + [new]
    keys = (*ws.config.keys(), new)
    pending = _pending(settings)
    _write(pending, _with_rotations(settings.read_text(encoding="utf-8") if settings.exists() else "", rotations))
    done, committed = [], []
    try:
        with ws.transaction():
            for name, spec in TABLES.items():
                tagged = [c.name for c in spec.columns if c.pii]
                if not tagged:
                    continue
                t = ws.table(name)
                for col in tagged:  # one column at a time: a row's other pseudonyms may be null
                    n = int(t.filter(t[col].notnull()).count().to_pyarrow().as_py())
                    if n:
                        rows = ws.engine.materialize(t.filter(t[col].notnull()).mutate(**{col: rotated_expr(t[col],
                                                                                                           new)}))
                        try:
                            ws.replace(name, rows, on=list(spec.key))
                        finally:
                            ws.engine.release(rows)
                        done.append({"table": name, "column": col, "what": "pseudonyms", "rows": n})
            rewrites = {}
            for table, col in _text_columns(ws, TEXT_TABLES):
                t = ws.table(table)
                values = t.filter(t[col].re_search(TOKEN_PATTERN)).select(v=t[col]).distinct() \
                    .to_pyarrow().column("v").to_pylist()
                if values:
                    rewrites[(table, col)] = {v: rotate_tokens(v, new) for v in values}
                    rows = int(t.filter(t[col].isin(values)).count().to_pyarrow().as_py())
                    done.append({"table": table, "column": col, "what": "tokens in text", "rows": rows})
            if rewrites:
                _rewrite(ws, rewrites)
            record(ws, "govern.rotate_key", None, detail={"fingerprint": fingerprint(keys), "rotation": len(rotations),
                                                          "columns": len(done), "rows": sum(d["rows"] for d in done)})
            ws.after_commit(lambda: (committed.append(True), _install(ws, pending)))
    except BaseException:
        if not committed:  # rolled back: the old settings stand (after the commit, settle_rotation finishes)
            pending.unlink(missing_ok=True)
        raise
    frame = pd.DataFrame(done, columns=["table", "column", "what", "rows"])
    total = int(frame.rows.sum()) if len(frame) else 0
    return KeyRotation(tables={"columns": frame}, findings=(Finding(
        f"Rotated the pseudonymization key (rotation {len(rotations)}, key chain {fingerprint(keys)}): re-hashed "
        f"{total:,} value(s) in {len(frame)} column(s). New loads hash through the new key, so they join the rows "
        "already held; the old keys stay in the settings file (new values still start from the first one).",
        impact=1.0),), params={"rotation": len(rotations), "fingerprint": fingerprint(keys), "values": total})


def _install(ws, pending: Path) -> None:
    """Move the rotated settings into place and use them."""
    from mercator.config import WorkspaceConfig

    os.replace(pending, ws.config.path)
    ws.config = WorkspaceConfig.load_or_create(Path(ws.config.path))


def settle_rotation(ws) -> None:
    """After a crash inside a rotation: keep the rotated settings if its transaction committed
    (the newest rotation entry of the audit trail has their key chain's fingerprint), else drop
    them. A writer calls this when it opens the workspace."""
    from mercator.config import WorkspaceConfig

    pending = _pending(Path(ws.config.path))
    if not pending.exists():
        return
    keys = WorkspaceConfig.load_or_create(pending, create=False).keys()
    t = ws.table("audit")
    last = t.filter(t.action == "govern.rotate_key").order_by(t.seq.desc()).limit(1).detail.to_pyarrow().to_pylist()
    if last and json.loads(last[0]).get("fingerprint") == fingerprint(keys):
        _install(ws, pending)
    else:
        pending.unlink()
