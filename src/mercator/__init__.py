"""Mercator: marketing data to decisions."""

__version__ = "0.1.0"

from mercator.errors import MercatorError, SourceError
from mercator.results import Finding, Recommendation, Result
from mercator.workspace import Workspace

__all__ = ["Finding", "MercatorError", "Recommendation", "Result", "SourceError", "Workspace", "__version__"]
