"""The dashboard of ``mercator serve`` (``/dashboard``): server-rendered pages of the analyses and
the monitor, by role."""

from mercator.interfaces.dashboard._pages import PAGES, router

__all__ = ["PAGES", "router"]
