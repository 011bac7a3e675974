"""Workspace configuration: typed, documented, filled from a TOML file or the environment.

The only secret today is the pseudonymization key. It is created at random when a
workspace is first opened and kept in a TOML file beside the workspace (mode 600), never in
code and never inside the analytical store itself; ``MERCATOR_PSEUDONYMIZATION_KEY``
overrides it (for example from a secret manager in production).
"""

from __future__ import annotations

import os
import re
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
            Changing it breaks joins between data loaded before and after the change; rotate
            it instead (``mercator govern rotate-key``).
        rotations: the keys of each rotation since, oldest first (``rotations`` in the
            ``[pseudonymization]`` section).
    """

    path: Path
    pseudonymization_key: Secret = field(repr=False)
    rotations: tuple[Secret, ...] = field(default=(), repr=False)

    def keys(self) -> tuple[str, ...]:
        """The key chain a value is pseudonymized through: the key, then each rotation's."""
        return (self.pseudonymization_key.reveal(), *(k.reveal() for k in self.rotations))

    @classmethod
    def load_or_create(cls, path: Path, *, create: bool = True) -> WorkspaceConfig:
        """Read ``path``; create it with a fresh random key if it does not exist.

        The file is created with mode 600 from the start (never readable by others, not even
        for a moment), and a settings file that others can read is refused. With
        ``create=False`` (a read-only workspace) a missing file is not written: the key comes
        from the environment, or is a throw-away one (nothing is pseudonymized by a reader).
        """
        env_key = os.environ.get(ENV_KEY)
        data: dict = {}
        if path.exists():
            check_private(path)
            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise ConfigError(
                    f"{path}: not valid TOML ({exc}). Fix the file or move it away to create a new one "
                    "(a new file gets a new pseudonymization key, so hashed e-mails will no longer match)."
                ) from exc
        key = env_key or data.get("pseudonymization", {}).get("key")
        if not key and not create:
            key = secrets.token_hex(32)
        elif not key:
            key = secrets.token_hex(32)
            write_private(path, "# Mercator workspace settings. The key below is a secret: keep this file private.\n"
                                 "[pseudonymization]\n"
                                 f'key = "{key}"\n')
        if len(key) < 16:
            raise ConfigError(f"{path}: pseudonymization key is shorter than 16 characters; use a long random value.")
        rotations = data.get("pseudonymization", {}).get("rotations", [])
        if not isinstance(rotations, list) or any(not isinstance(k, str) or len(k) < 16 for k in rotations):
            raise ConfigError(f"{path}: [pseudonymization] rotations must be a list of keys of at least 16 characters")
        return cls(path=path, pseudonymization_key=Secret(key), rotations=tuple(Secret(k) for k in rotations))


def write_private(path: Path, text: str, *, exist_ok: bool = False) -> None:
    """Create ``path`` with mode 600 in one step (``os.open`` with the mode, no window in which
    it is readable by others); refuses to overwrite an existing file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        if exist_ok:  # another process created it first: use theirs
            return
        raise ConfigError(f"{path}: appeared while Mercator was creating it; open the workspace again") from exc
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


def check_private(path: Path) -> None:
    """Refuse a settings file that other users can read or write: it holds the key."""
    if os.name != "posix":
        return
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise ConfigError(f"{path} holds the workspace's secret key but its permissions are {mode:o}, so other users "
                          f"can read or change it. Run `chmod 600 {path}` (and consider rotating the key if the file "
                          "was shared).")


def read_private(path: Path) -> str:
    """The text of a secret file, after checking that only its owner can read it."""
    check_private(path)
    return path.read_text(encoding="utf-8")


def default_location() -> str:
    """Where the workspace lives when none is given: ``$MERCATOR_WORKSPACE`` or ``./mercator.duckdb``."""
    return os.environ.get(ENV_WORKSPACE) or DEFAULT_WORKSPACE


_DURATION = re.compile(r"^(\d+)\s*([smhdw])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text, where: str) -> float:
    """Seconds in a duration written like ``30s``, ``5m``, ``12h``, ``7d`` or ``2w`` (a number of
    seconds is taken as is); a ``BadParameter`` naming ``where`` otherwise."""
    from mercator.errors import BadParameter

    if isinstance(text, (int, float)) and not isinstance(text, bool) and text >= 0:
        return float(text)
    m = _DURATION.match(str(text).strip())
    if not m:
        raise BadParameter(f"{where}: {text!r} is not a duration such as 30s, 5m, 12h or 7d")
    return float(int(m[1]) * _UNIT_SECONDS[m[2]])


def load_spec(spec, what: str) -> dict:
    """A YAML specification (a policy, a set of rules) as a mapping, from a dict, YAML text or a
    ``.yml``/``.yaml`` file; a ``BadParameter`` naming ``what`` otherwise."""
    import yaml

    from mercator.errors import BadParameter

    if isinstance(spec, Path) or (isinstance(spec, str) and "\n" not in spec and spec.endswith((".yml", ".yaml"))):
        path = Path(spec)
        if not path.is_file():
            raise BadParameter(f"{path}: no such {what} file")
        spec = path.read_text(encoding="utf-8")
    if isinstance(spec, str):
        try:
            spec = yaml.safe_load(spec)
        except yaml.YAMLError as exc:
            raise BadParameter(f"{what}: not valid YAML ({exc})") from exc
    if not isinstance(spec, dict):
        raise BadParameter(f"{what}: expected a mapping")
    return dict(spec)
