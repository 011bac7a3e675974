"""Fitted models on disk: one pickle per model with its configuration hash and the versions of
the libraries that made it, so a model is never used with other code than it was fitted with.

Models of a DuckDB workspace live in ``models/`` beside the workspace file; without a local
workspace, in ``models/`` of the current directory.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from importlib import metadata
from pathlib import Path
from typing import Any

from mercator.errors import MercatorError


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


def model_path(ws: Any, save_to: str | Path | None, name: str, suffix: str = ".mercator-model") -> Path:
    """Where a model called ``name`` goes: ``save_to`` if given, else the workspace's models/."""
    if save_to is not None:
        return Path(save_to)
    local = ws is not None and getattr(ws, "location", None) and ws.engine.name == "duckdb"
    return models_dir(ws.location if local else None) / f"{name}{suffix}"


def save_model(path: Path, payload: dict, config: dict, packages: tuple[str, ...]) -> dict:
    """Write ``payload`` with ``config``, its hash and the versions of ``packages``; returns the
    record written (``config_hash``, ``versions``)."""
    record = {**payload, "config": config, "config_hash": config_hash(config), "versions": versions(packages)}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(pickle.dumps(record))
    tmp.replace(path)  # a crash mid-write leaves the old model, not half a file
    return record


def load_model(path: str | Path) -> dict:
    """A saved model; refuses one made with other library versions or whose contents changed."""
    path = Path(path)
    if not path.exists():
        raise MercatorError(f"{path}: no such model file")
    saved = pickle.loads(path.read_bytes())
    now = versions(tuple(saved["versions"]))
    diff = {k: (v, now.get(k)) for k, v in saved["versions"].items() if now.get(k) != v}
    if diff:
        raise ModelMismatch(f"{path}: made with " + ", ".join(f"{k} {a} (here {b})" for k, (a, b) in diff.items())
                            + "; refit it with these versions")
    if config_hash(saved["config"]) != saved["config_hash"]:
        raise ModelMismatch(f"{path}: its configuration does not match its hash; the file was altered")
    return saved


__all__ = ["ModelMismatch", "config_hash", "load_model", "model_path", "models_dir", "save_model", "versions"]
