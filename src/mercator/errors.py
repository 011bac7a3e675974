"""Exceptions raised by Mercator.

Every error derives from :class:`MercatorError` and, where it resembles a built-in, from
that built-in too (``SourceError`` is a ``ValueError``), so callers can catch either.
Messages say what was wrong, what was expected, and what to do next.
"""

from __future__ import annotations


class MercatorError(Exception):
    """Root of every error Mercator raises on purpose."""


class ConfigError(MercatorError, ValueError):
    """A setting is missing or invalid."""


class WorkspaceError(MercatorError, RuntimeError):
    """The workspace cannot be opened or used as asked."""


class SchemaError(MercatorError, KeyError):
    """A table or column is not part of the canonical data model."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class SourceError(MercatorError, ValueError):
    """A source file cannot be loaded at all (empty, truncated, undecodable, missing column).

    Nothing from the file is loaded when this is raised.
    """

    def __init__(self, path: str, problem: str, *, expected: str = "", hint: str = "",
                 column: str | None = None, position: int | None = None) -> None:
        self.path = str(path)
        self.problem = problem
        self.expected = expected
        self.hint = hint
        self.column = column
        self.position = position
        parts = [f"{self.path}: {problem}"]
        if expected:
            parts.append(f"Expected: {expected}.")
        if hint:
            parts.append(f"What to do: {hint}")
        parts.append("Nothing from this file was loaded.")
        super().__init__(" ".join(parts))


class IngestInvariantError(MercatorError, RuntimeError):
    """A load's counts do not add up (rows read != loaded + updated + unchanged + quarantined).

    Raised inside the load's transaction, so the workspace is left as it was."""


class MappingError(MercatorError, ValueError):
    """A column mapping (YAML or built-in mapper) is invalid."""


class NotFittedError(MercatorError, AttributeError):
    """An estimator was used before ``fit``."""


class BadParameter(MercatorError, ValueError):
    """A parameter as given cannot be used (400 in the API)."""


class NotFoundError(MercatorError, LookupError):
    """A named thing does not exist: a table, a model, an experiment, a workspace, a file.

    The API answers it with 404; the command line with its message (exit code 2)."""


class ConflictError(MercatorError):
    """The request conflicts with the state of a locked object, such as an experiment whose
    criteria were locked with different values (409 in the API)."""


class WorkspaceBusyError(WorkspaceError):
    """Another process holds the workspace and kept it past the wait (503 in the API)."""


class WorkspaceNotFound(WorkspaceError, NotFoundError):
    """The workspace named does not exist (create it with ``mercator init``)."""
