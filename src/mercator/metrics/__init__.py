"""KPIs: every KPI defined once (``_kpis``), and the frames of their parts per period and
segment that the analyses share (``_frames``). docs/explore.md lists the KPIs."""

from mercator.metrics._frames import (
    AD_DIMENSIONS,
    Period,
    date_range,
    default_period,
    event_frame,
    label,
    part_frame,
)
from mercator.metrics._kpis import (
    AD_KPIS,
    EVENT_COUNT_PREFIX,
    HEADLINE,
    KPI,
    KPIS,
    kpi,
    kpi_aggregates,
    part_sums,
    parts,
    prepared,
    with_kpis,
)

__all__ = ["AD_DIMENSIONS", "AD_KPIS", "EVENT_COUNT_PREFIX", "HEADLINE", "KPI", "KPIS", "Period", "date_range",
           "default_period", "event_frame", "kpi", "kpi_aggregates", "label", "part_frame", "part_sums", "parts",
           "prepared", "with_kpis"]
