"""The dashboard of ``mercator serve`` (``/dashboard``): server-rendered pages of the analyses and
the monitor, by role, computed ahead of their views (``mercator dashboard refresh``)."""

from mercator.interfaces.dashboard._pages import PAGES, router
from mercator.interfaces.dashboard._snapshots import (
    DashboardRefresh,
    Refresher,
    data_version,
    refresh_dashboard,
)

__all__ = ["PAGES", "DashboardRefresh", "Refresher", "data_version", "refresh_dashboard", "router"]
