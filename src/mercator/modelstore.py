"""Fitted models on disk: one pickle per model with its configuration hash and the versions of
the libraries that made it, so a model is never used with other code than it was fitted with.

Unpickling runs code, so a model file is authenticated before it is unpickled: the file is
``MAGIC + HMAC-SHA256(key, pickle) + pickle`` and a file whose tag does not verify is refused
unread. The key is this installation's model-signing key: ``$MERCATOR_MODEL_KEY``, or a
random key created once (mode 600) in ``$XDG_CONFIG_HOME/mercator/model-signing.key``
(``~/.config/...``). It is not a workspace's key because models are saved and loaded without
a workspace too (file analyses, ``mmm optimize`` on ./models); copy the key file, or set the
variable, where models fitted elsewhere must load.

Models of a DuckDB workspace live in ``models/`` beside the workspace file; without a local
workspace, in ``models/`` of the current directory.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import pickle
import secrets
from importlib import metadata
from pathlib import Path
from typing import Any

from mercator.config import read_private, write_private
from mercator.errors import MercatorError, NotFoundError


class ModelMismatch(MercatorError):
    """A saved model was made with other library versions, or its file was altered."""


def config_hash(config: dict) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]


def versions(packages: tuple[str, ...]) -> dict[str, str]:
    return {p: metadata.version(p) for p in packages}


def models_dir(location: str | Path | None) -> Path:
    """The models folder beside a DuckDB workspace file; ``./models`` without one (Spark, or
    no workspace)."""
    return Path(location).parent / "models" if location else Path("models")


def find_saved(location: str | Path | None, suffix: str, what: str, how: str, model_id: str | None = None,
               prefix: str = "") -> Path:
    """The saved model ``model_id`` (its file name without ``suffix``) beside a DuckDB workspace
    file ``location`` (None: ./models), or the most recent one named ``prefix...suffix``;
    a clear error naming ``what`` it is, the models there, and ``how`` to fit one."""
    folder = models_dir(location)
    found = sorted(folder.glob(f"{prefix}*{suffix}"), key=lambda p: p.stat().st_mtime) if folder.exists() else []
    if model_id is None:
        if not found:
            raise NotFoundError(f"no {what} in {folder}: fit one first ({how})")
        return found[-1]
    path = folder / f"{model_id}{suffix}"
    if "/" in model_id or "\\" in model_id or not path.exists():
        known = sorted(p.name.removesuffix(suffix) for p in found)
        raise NotFoundError(f"no {what} {model_id!r} in {folder}; models: {', '.join(known) or 'none'}")
    return path


def model_path(ws: Any, save_to: str | Path | None, name: str, suffix: str = ".mercator-model") -> Path:
    """Where a model called ``name`` goes: ``save_to`` if given, else the workspace's models/."""
    if save_to is not None:
        return Path(save_to)
    local = ws is not None and getattr(ws, "location", None) and ws.engine.name == "duckdb"
    return models_dir(ws.location if local else None) / f"{name}{suffix}"


ENV_MODEL_KEY = "MERCATOR_MODEL_KEY"
MAGIC = b"MERCATOR-MODEL\x01"
_TAG = 32  # bytes of an HMAC-SHA256 tag


def signing_key_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "mercator" / "model-signing.key"


def signing_key() -> bytes:
    """This installation's model-signing key (created on first use, mode 600)."""
    env = os.environ.get(ENV_MODEL_KEY)
    if env:
        return env.encode()
    path = signing_key_path()
    if not path.exists():
        write_private(path, secrets.token_hex(32) + "\n", exist_ok=True)
    return read_private(path).strip().encode()


def write_signed(path: Path, record: dict) -> None:
    """Pickle ``record`` to ``path`` behind its HMAC tag, atomically."""
    blob = pickle.dumps(record)
    tag = hmac.new(signing_key(), blob, hashlib.sha256).digest()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(MAGIC + tag + blob)
    tmp.replace(path)  # a crash mid-write leaves the old model, not half a file


def read_signed(path: Path) -> dict:
    """The record in ``path``, unpickled only after its HMAC tag verifies."""
    data = path.read_bytes()
    if not data.startswith(MAGIC):
        raise ModelMismatch(f"{path}: not a signed Mercator model (saved by an older version, or not a model at "
                            "all); refit it")
    tag, blob = data[len(MAGIC):len(MAGIC) + _TAG], data[len(MAGIC) + _TAG:]
    if not hmac.compare_digest(tag, hmac.new(signing_key(), blob, hashlib.sha256).digest()):
        raise ModelMismatch(f"{path}: its signature does not verify: the file was altered, or it was saved under "
                            f"another model-signing key ({ENV_MODEL_KEY} or {signing_key_path()}); it was not "
                            "loaded")
    return pickle.loads(blob)  # authenticated above


def save_model(path: Path, payload: dict, config: dict, packages: tuple[str, ...], *, ws: Any = None) -> dict:
    """Write ``payload`` with ``config``, its hash and the versions of ``packages``; returns the
    record written (``config_hash``, ``versions``). With the workspace ``ws`` it was trained on,
    the training goes into its audit trail (``model.train``: the file, what it is, its source)."""
    record = {**payload, "config": config, "config_hash": config_hash(config), "versions": versions(packages)}
    write_signed(path, record)
    if ws is not None:
        from mercator.govern import record as audit

        audit(ws, "model.train", Path(path).name, detail={"model": next(iter(payload)), "path": str(path),
                                                          "config_hash": record["config_hash"],
                                                          "source": config.get("source"), "rows": config.get("rows")})
    return record


def load_model(path: str | Path) -> dict:
    """A saved model; refuses one whose signature fails, made with other library versions, or
    whose contents changed."""
    path = Path(path)
    if not path.exists():
        raise NotFoundError(f"{path}: no such model file")
    saved = read_signed(path)
    now = versions(tuple(saved["versions"]))
    diff = {k: (v, now.get(k)) for k, v in saved["versions"].items() if now.get(k) != v}
    if diff:
        raise ModelMismatch(f"{path}: made with " + ", ".join(f"{k} {a} (here {b})" for k, (a, b) in diff.items())
                            + "; refit it with these versions")
    if config_hash(saved["config"]) != saved["config_hash"]:
        raise ModelMismatch(f"{path}: its configuration does not match its hash; the file was altered")
    return saved


__all__ = ["ModelMismatch", "config_hash", "load_model", "model_path", "models_dir", "read_signed", "save_model",
           "signing_key", "versions", "write_signed"]
