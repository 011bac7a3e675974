"""Data quality: what the workspace holds, and what was rejected and why.

All counting runs in the engine; only the small summaries come back.
"""

from mercator.quality._analysis import (
    DataQualityResult,
    QuarantineResult,
    data_quality,
    plot_quarantine_by_reason,
    quarantine_report,
)

__all__ = ["DataQualityResult", "QuarantineResult", "data_quality", "plot_quarantine_by_reason",
           "quarantine_report"]
