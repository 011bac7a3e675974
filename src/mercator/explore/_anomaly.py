"""Anomalies, level shifts and decay in one daily series: pure NumPy/pandas, no I/O.

Written here rather than taken from a library because none of the well-kept ones gives all
three of: a *one-sided* expected band (each day judged only against the days before it, as
a monitor would have judged it), robustness to the very outliers it looks for, and a
level-shift finder cheap enough to run on hundreds of KPI-by-segment series per call.
statsmodels' STL, for example, would absorb a lasting shift into its trend.

The method, for a daily series ``y``:

1. Weekday factors: the median, per weekday, of ``y`` over its centred 7-day rolling median
   (multiplicative, so they hold for counts and rates alike). ``d = y / factor``.
2. Expected level on day t: the median of ``d`` over the ``window`` days before t. Scale:
   1.4826 x the trailing median absolute deviation (a robust standard deviation), floored
   at 0.5% of the level so a near-constant series does not flag rounding.
3. A day is anomalous when ``|d - level| > k x scale``; its band is ``(level +- k x scale) x
   factor``. With k = 4 the false-alarm rate on clean simulated series is about 0.1% of
   days (measured in tests/explore/test_anomaly.py; docs/explore.md states the figure).
4. Level shift: the split that maximizes a two-sample t statistic of ``d`` (cumulative
   sums, O(n)), with the noise estimated from first differences (unaffected by the shift).
   Reported when |t| >= ``t_min``, the relative change is at least ``min_change``, and the
   two weeks either side of the split already show 60% of it, by at least 5 standard errors
   (abrupt, not seasonal drift).
5. Decay: a Theil-Sen slope of log ``d`` over a segment's first weeks (creative fatigue).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

K_DEFAULT = 4.0


def _weekday_factors(y: pd.Series) -> pd.Series:
    base = y.rolling(7, center=True, min_periods=4).median()
    ratio = (y / base.where(base > 0)).replace([np.inf, -np.inf], np.nan)
    by_day = ratio.groupby(y.index.dayofweek).median()
    if by_day.isna().all() or len(by_day) < 7:
        return pd.Series(1.0, index=y.index)
    by_day = by_day.fillna(1.0)
    by_day = by_day / by_day.mean()
    return pd.Series(y.index.dayofweek.map(by_day).to_numpy(float), index=y.index)


def band(y: pd.Series, *, window: int = 28, k: float = K_DEFAULT, min_history: int = 14) -> pd.DataFrame:
    """Expected value, band and anomaly flag of every day of ``y`` (a daily DatetimeIndex)."""
    y = y.astype(float)
    factor = _weekday_factors(y)
    d = y / factor
    prior = d.shift(1)
    level = prior.rolling(window, min_periods=min_history).median()
    dev = (d - level).abs()
    scale = 1.4826 * dev.shift(1).rolling(window, min_periods=min_history).median()
    scale = np.maximum(scale, 0.005 * level.abs() + 1e-12)
    z = (d - level) / scale
    lower = (level - k * scale) * factor
    if (y.dropna() >= 0).all():  # counts and rates cannot go below zero
        lower = lower.clip(lower=0)
    return pd.DataFrame({
        "value": y, "expected": level * factor, "lower": lower,
        "upper": (level + k * scale) * factor, "z": z, "anomaly": (z.abs() > k) & y.notna(),
    }, index=y.index)


@dataclass(frozen=True)
class Shift:
    """A lasting change of level from ``date``."""

    date: pd.Timestamp
    before: float
    after: float
    t: float
    expected_low: float  # the band of the level after the cut, had it not changed
    expected_high: float

    @property
    def change(self) -> float:
        return self.after / self.before - 1 if self.before else float("nan")


def level_shift(y: pd.Series, *, min_segment: int = 14, t_min: float = 8.0, min_change: float = 0.10,
                span: int = 56) -> Shift | None:
    """The largest lasting change of level in ``y``, if it is clear enough."""
    y = y.astype(float).dropna()
    n = len(y)
    if n < 2 * min_segment:
        return None
    d = (y / _weekday_factors(y)).to_numpy()
    noise = 1.4826 * np.median(np.abs(np.diff(d) - np.median(np.diff(d)))) / np.sqrt(2)
    if not np.isfinite(noise) or noise <= 0:
        noise = 1e-12 + 0.005 * np.abs(np.median(d))
    c = np.cumsum(d)
    i = np.arange(min_segment, n - min_segment + 1)  # first index of the second segment
    m1 = c[i - 1] / i
    m2 = (c[-1] - c[i - 1]) / (n - i)
    t = (m2 - m1) / (noise * np.sqrt(1 / i + 1 / (n - i)))
    j = int(np.argmax(np.abs(t)))
    cut = int(i[j])
    before = float(np.median(d[max(0, cut - span):cut]))
    after = float(np.median(d[cut:cut + span]))
    if abs(t[j]) < t_min or before == 0 or abs(after / before - 1) < min_change:
        return None
    # A shift is abrupt: the two weeks either side of the cut already show most of it (a
    # slow seasonal swing would also split well over months, but not locally).
    local = float(np.median(d[cut:cut + 14]) - np.median(d[max(0, cut - 14):cut]))
    local_se = 1.2533 * noise * np.sqrt(2 / 14)
    if local * (after - before) <= 0 or abs(local) < 0.6 * abs(after - before) or abs(local) < 5 * local_se:
        return None
    # the band the level after the cut would lie in had nothing changed: the level before,
    # +- 3 standard errors of a median over the days after (1.2533 = sqrt(pi / 2))
    half = 3 * 1.2533 * noise / np.sqrt(min(span, n - cut))
    lo, hi = before - half, before + half
    return Shift(date=y.index[cut], before=before, after=after, t=float(t[j]), expected_low=float(lo),
                 expected_high=float(hi))


@dataclass(frozen=True)
class Decay:
    """A steady decline of a series' level over its first ``days`` days."""

    start: pd.Timestamp
    days: int
    first: float
    last: float
    slope_per_day: float  # of log level
    slope_high: float  # upper end of the 95% interval of that slope

    @property
    def change(self) -> float:
        return self.last / self.first - 1 if self.first else float("nan")


def decay(y: pd.Series, *, days: int = 56, min_points: int = 21, min_decline: float = 0.15) -> Decay | None:
    """A significant decline (Theil-Sen on log values, 95% interval below zero) over the first weeks."""
    y = y.astype(float).dropna()
    y = y[y > 0]
    if len(y) < min_points:
        return None
    start = y.index[0]
    head = y[y.index < start + pd.Timedelta(days=days)]
    if len(head) < min_points:
        return None
    x = ((head.index - start).days).to_numpy(float)
    slope, intercept, _lo, hi = stats.theilslopes(np.log(head.to_numpy()), x, alpha=0.95)
    first, last = float(np.exp(intercept)), float(np.exp(intercept + slope * x[-1]))
    if hi >= 0 or last / first - 1 > -min_decline:
        return None
    return Decay(start=start, days=int(x[-1]) + 1, first=first, last=last, slope_per_day=float(slope),
                 slope_high=float(hi))


__all__ = ["K_DEFAULT", "Decay", "Shift", "band", "decay", "level_shift"]
