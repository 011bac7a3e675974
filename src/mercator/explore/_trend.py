"""Trend and seasonality of one series: STL (statsmodels), pure computation, no I/O.

STL (Cleveland et al. 1990) with the robust option, so outlier days do not bend the trend.
Daily series use a weekly period; weekly series a yearly one (52) when they span two years,
and otherwise only a trend (a centred rolling mean: one year cannot separate a yearly
season from a trend).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from statsmodels.tsa.seasonal import STL

PERIODS = {"day": 7, "week": 52}


def stl(y: pd.Series, grain: str) -> pd.DataFrame:
    """``value, trend, seasonal, residual`` per date; missing days are interpolated for the fit."""
    period = PERIODS[grain]
    filled = y.astype(float).interpolate(limit_direction="both")
    if filled.isna().all():
        return pd.DataFrame({"value": y, "trend": np.nan, "seasonal": np.nan, "residual": np.nan})
    if len(filled) >= 2 * period + 1:
        fit = STL(filled.to_numpy(), period=period, robust=True).fit()
        trend, seasonal = fit.trend, fit.seasonal
    else:
        trend = filled.rolling(min(len(filled), 5 if grain == "week" else 7), center=True, min_periods=1).mean()
        trend, seasonal = trend.to_numpy(), np.zeros(len(filled))
    out = pd.DataFrame({"value": y, "trend": trend, "seasonal": seasonal}, index=y.index)
    out["residual"] = out["value"] - out["trend"] - out["seasonal"]
    return out


def weekday_profile(components: pd.DataFrame) -> pd.Series:
    """The weekly seasonal effect per weekday, relative to the trend (daily series)."""
    rel = components["seasonal"] / components["trend"].where(components["trend"] != 0)
    return rel.groupby(components.index.dayofweek).mean().rename(index=dict(enumerate(
        ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])))


__all__ = ["PERIODS", "stl", "weekday_profile"]
