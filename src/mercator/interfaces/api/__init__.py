"""The REST API of ``mercator serve`` (FastAPI): routes return what ``--json`` prints."""

from mercator.interfaces.api._app import create_app

__all__ = ["create_app"]
