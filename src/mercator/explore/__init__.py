"""Explore: what happened? KPI summaries, breakdowns, trends and anomalies.

Aggregation runs in the engine (``mercator.metrics.part_frame``); the KPIs, bands and findings are
computed from the small frames that come back.
"""

from mercator.explore._analysis import (
    WATCHED_DIMENSIONS,
    WATCHED_KPIS,
    WATCHED_PAIRS,
    Anomalies,
    Breakdown,
    Exploration,
    KpiOverview,
    KpiSummary,
    Period,
    Trend,
    anomalies,
    breakdown,
    event_anomalies,
    explore,
    kpi_overview,
    kpi_summary,
    trend,
)
from mercator.explore._anomaly import level_shift
from mercator.metrics import AD_DIMENSIONS

__all__ = ["AD_DIMENSIONS", "WATCHED_DIMENSIONS", "WATCHED_KPIS", "WATCHED_PAIRS", "Anomalies", "Breakdown",
           "Exploration", "KpiOverview", "KpiSummary", "Period", "Trend", "anomalies", "breakdown",
           "event_anomalies", "explore", "kpi_overview", "kpi_summary", "level_shift", "trend"]
