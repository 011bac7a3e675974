"""Workspace configuration: typed, documented, filled from a TOML file or the environment.

The only secret today is the pseudonymization key. It is created at random when a
workspace is first opened and kept in a TOML file beside the workspace (mode 600), never in
code and never inside the analytical store itself; ``MERCATOR_PSEUDONYMIZATION_KEY``
overrides it (for example from a secret manager in production).
"""

from __future__ import annotations

import os
import secrets
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from mercator.errors import ConfigError

ENV_WORKSPACE = "MERCATOR_WORKSPACE"
ENV_KEY = "MERCATOR_PSEUDONYMIZATION_KEY"
DEFAULT_WORKSPACE = "mercator.duckdb"


class Secret(str):
    """A string that never shows itself in reprs, logs or tracebacks."""

    def __repr__(self) -> str:
        return "Secret('***')"

    def reveal(self) -> str:
        return str.__str__(self)


@dataclass(frozen=True)
class WorkspaceConfig:
    """Settings of one workspace.

    Attributes:
        path: the TOML file the settings were read from (or will be written to).
        pseudonymization_key: secret key of the keyed hash applied to PII columns at ingest.
            Changing it breaks joins between data loaded before and after the change.
    """

    path: Path
    pseudonymization_key: Secret = field(repr=False)

    @classmethod
    def load_or_create(cls, path: Path) -> WorkspaceConfig:
        """Read ``path``; create it with a fresh random key if it does not exist."""
        env_key = os.environ.get(ENV_KEY)
        data: dict = {}
        if path.exists():
            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise ConfigError(
                    f"{path}: not valid TOML ({exc}). Fix the file or move it away to create a new one "
                    "(a new file gets a new pseudonymization key, so hashed e-mails will no longer match)."
                ) from exc
        key = env_key or data.get("pseudonymization", {}).get("key")
        if not key:
            key = secrets.token_hex(32)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(
                "# Mercator workspace settings. The key below is a secret: keep this file private.\n"
                "[pseudonymization]\n"
                f'key = "{key}"\n',
                encoding="utf-8",
            )
            path.chmod(0o600)
        if len(key) < 16:
            raise ConfigError(f"{path}: pseudonymization key is shorter than 16 characters; use a long random value.")
        return cls(path=path, pseudonymization_key=Secret(key))


def default_location() -> str:
    """Where the workspace lives when none is given: ``$MERCATOR_WORKSPACE`` or ``./mercator.duckdb``."""
    return os.environ.get(ENV_WORKSPACE) or DEFAULT_WORKSPACE
