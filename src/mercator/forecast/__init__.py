"""Forecast: what could happen, with intervals checked on the series' own past (issue 8).

``forecast(ws, "conversions", by="campaign_id")`` builds each KPI series in the engine (the
explore KPI definitions, per day or week, per segment), backtests statsforecast's models on
every series at once, forecasts each series with the model that did best on it, and returns
the forecast with 80% and 95% intervals, the backtest table (relative MAE against seasonal
naive, MASE, interval coverage), the expected band for the coming days and the breaks (level
shifts) seen in the history. A ratio KPI (CTR, CVR, CPA...) is forecast from its numerator and
denominator. ``pace`` says where a period will land against a target. ``drivers`` says what
moves CPC, clicks or conversions (a regression on spend, calendar, device and channel mix).
``_models`` and ``_drivers`` hold the pure parts, ``_drivers_analysis`` the driver rows and
result (docs/forecast.md).
"""

from mercator.forecast._analysis import (
    BacktestResult,
    ForecastResult,
    backtest,
    forecast,
    kpi_series,
    media_controls,
    pace,
)


def __getattr__(name: str):
    """The driver regression on first use: it loads LightGBM and scikit-learn (about 1 s), which
    forecasts alone do not need."""
    if name in ("DriversResult", "driver_frame", "drivers"):
        from mercator.forecast import _drivers_analysis

        return getattr(_drivers_analysis, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = ["BacktestResult", "DriversResult", "ForecastResult", "backtest", "driver_frame", "drivers", "forecast",
           "kpi_series", "media_controls", "pace"]
