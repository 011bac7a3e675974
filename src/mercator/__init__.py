"""Mercator: marketing data to decisions."""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

__all__ = ["Finding", "MercatorError", "Recommendation", "Result", "SourceError", "Workspace", "__version__"]

if TYPE_CHECKING:
    from mercator.errors import MercatorError, SourceError
    from mercator.results import Finding, Recommendation, Result
    from mercator.workspace import Workspace

_HOMES = {"Finding": "results", "Recommendation": "results", "Result": "results", "MercatorError": "errors",
          "SourceError": "errors", "Workspace": "workspace"}


def __getattr__(name: str):
    """Import on first use (PEP 562): ``import mercator`` stays light, so the command line
    starts in a fraction of a second; ``mercator.Workspace`` still works as before."""
    if name in _HOMES:
        import importlib

        return getattr(importlib.import_module(f"mercator.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'mercator' has no attribute {name!r}")
