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
   Reported when |t| >= ``t_min``, the relative change is at least ``min_change``, and it
   is abrupt, not seasonal drift: within eight weeks either side of the split (or of a day
   within two weeks of it, which then dates the change), a step on top of a smooth
   quadratic curve carries 60% of it, by at least ``STEP_SE`` standard errors. One more
   split on either side that reverses the first makes it an *episode* with an end (a bug
   that was fixed): its t is then the episode's level against all days outside it, its
   start needs 50% by one standard error less, and its end a clear step back too (30%, by
   2.5 standard errors; a seasonal trough has none). A new level inside the band the old
   one implied (below) is no shift. The p-value is a rank test
   (Mann-Whitney) of the changed days against the rest, Bonferroni-corrected for the
   splits tried: the t assumes normal noise, and a cost per conversion is skewed. For small
   counts, and for rates resting on few events a day, the noise is at least Poisson's.
5. Decay: a Theil-Sen slope of log ``d`` over a segment's first weeks (creative fatigue).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

K_DEFAULT = 4.0
STEP_WINDOW = 56
STEP_SE = 4.0


def _weekday_factors(y: pd.Series) -> pd.Series:
    base = y.rolling(7, center=True, min_periods=4).median()
    ratio = (y / base.where(base > 0)).replace([np.inf, -np.inf], np.nan)
    by_day = ratio.groupby(y.index.dayofweek).median()
    if by_day.isna().all() or len(by_day) < 7:
        return pd.Series(1.0, index=y.index)
    by_day = by_day.fillna(1.0)
    if (by_day <= 0).any():  # a weekday that is usually zero: no multiplicative pattern to estimate
        return pd.Series(1.0, index=y.index)
    by_day = by_day / by_day.mean()
    return pd.Series(y.index.dayofweek.map(by_day).to_numpy(float), index=y.index)


def band(y: pd.Series, *, window: int = 28, k: float = K_DEFAULT, min_history: int = 14,
         counts: bool = False) -> pd.DataFrame:
    """Expected value, band and anomaly flag of every day of ``y`` (a daily DatetimeIndex).

    With ``counts`` (small event counts) the band is at least as wide as the Poisson
    quantiles of the expected count (taken as at least 1) with the same tail probability
    as ``k`` standard deviations: a normal band is far too narrow for counts near zero.
    """
    y = y.astype(float)
    factor = _weekday_factors(y)
    d = y / factor
    prior = d.shift(1)
    level = prior.rolling(window, min_periods=min_history).median()
    dev = (d - level).abs()
    scale = 1.4826 * dev.shift(1).rolling(window, min_periods=min_history).median()
    scale = np.maximum(scale, 0.005 * level.abs() + 1e-12)
    z = (d - level) / scale
    lower, upper = (level - k * scale) * factor, (level + k * scale) * factor
    if counts:
        lam = np.maximum(level * factor, 1.0).fillna(1.0)
        tail = stats.norm.sf(k)
        upper = np.maximum(upper, pd.Series(stats.poisson.isf(tail, lam), index=y.index))
        lower = np.minimum(lower, pd.Series(stats.poisson.ppf(tail, lam), index=y.index) - 1)
    if (y.dropna() >= 0).all():  # counts and rates cannot go below zero
        lower = lower.clip(lower=0)
    anomaly = ((y > upper) | (y < lower)) & level.notna() & y.notna()
    return pd.DataFrame({"value": y, "expected": level * factor, "lower": lower, "upper": upper, "z": z,
                         "anomaly": anomaly}, index=y.index)


@dataclass(frozen=True)
class Shift:
    """A change of level from ``date``: lasting, or an episode that ends at ``end``."""

    date: pd.Timestamp
    before: float
    after: float
    t: float
    expected_low: float  # the band of the level after the cut, had it not changed
    expected_high: float
    end: pd.Timestamp | None = None  # last day of the changed level, for an episode
    p: float = float("nan")  # rank test of the changed days against the rest, for every split tried

    @property
    def change(self) -> float:
        if self.before == 0:
            return float("inf") if self.after > 0 else float("nan")
        return self.after / self.before - 1


def _best_split(d: np.ndarray, noise: float, min_segment: int) -> tuple[int, float] | None:
    """Index starting the second segment, and the two-sample t of the split (cumulative sums, O(n))."""
    n = len(d)
    if n < 2 * min_segment:
        return None
    c = np.cumsum(d)
    i = np.arange(min_segment, n - min_segment + 1)
    m1 = c[i - 1] / i
    m2 = (c[-1] - c[i - 1]) / (n - i)
    t = (m2 - m1) / (noise * np.sqrt(1 / i + 1 / (n - i)))
    j = int(np.argmax(np.abs(t)))
    return int(i[j]), float(t[j])


def _episode(d: np.ndarray, cut: int, t: float, noise: float, t_min: float, min_segment: int) -> tuple[int, int]:
    """``(start, end)`` of the changed level: the split may be the start or the end of an
    episode (a bug that was fixed), found by one more split on either side that reverses it."""
    best: tuple[int, int] = (cut, len(d))
    best_t = 0.0
    for lo, hi in ((0, cut), (cut, len(d))):
        found = _best_split(d[lo:hi], noise, min_segment)
        if found is None or found[1] * t >= 0 or abs(found[1]) < t_min or abs(found[1]) <= best_t:
            continue  # a second split must reverse the first, clearly
        best_t = abs(found[1])
        best = (lo + found[0], cut) if lo == 0 else (cut, cut + found[0])
    if best == (cut, len(d)):
        return best
    start, end = best
    # the level outside the episode must be about the same on both sides
    before, after = np.median(d[max(0, start - min_segment * 4):start]), np.median(d[end:end + min_segment * 4])
    inside = np.median(d[start:end])
    if end < len(d) and start > 0 and abs(after - before) > 0.5 * abs(inside - before):
        return cut, len(d)
    return start, end


def level_shift(y: pd.Series, *, min_segment: int = 14, t_min: float = 8.0, min_change: float = 0.10,
                span: int = 56, counts: bool = False, events_per_day: float | None = None) -> Shift | None:
    """The largest change of level in ``y`` (lasting, or an episode with an end), if clear enough.

    With ``counts`` the noise is at least Poisson's (the square root of the mean), which a
    series of small counts needs: its first differences are mostly zero. A rate or cost per
    event resting on ``events_per_day`` events (conversions behind a CVR or a CPA) has a
    relative noise of at least one over their square root, for the same reason.
    """
    y = y.astype(float).dropna()
    n = len(y)
    if n < 2 * min_segment:
        return None
    d = (y / _weekday_factors(y)).to_numpy()
    noise = 1.4826 * np.median(np.abs(np.diff(d) - np.median(np.diff(d)))) / np.sqrt(2)
    if counts:
        noise = max(noise, float(np.sqrt(max(np.mean(d), 1e-12))))
    if events_per_day:
        noise = max(noise, float(np.abs(np.median(d)) / np.sqrt(max(events_per_day, 1.0))))
    if not np.isfinite(noise) or noise <= 0:
        noise = 1e-12 + 0.005 * np.abs(np.median(d))
    cut, t = _best_split(d, noise, min_segment)
    start, end = _episode(d, cut, t, noise, t_min, min_segment)
    if end < n and end - start > n - (end - start):
        return None  # the "episode" is most of the series: its usual level; the data's edges differ
    if end < n or start != cut:  # an episode: test its level against everything outside it
        inside, outside = d[start:end], np.concatenate([d[:start], d[end:]])
        t = float((inside.mean() - outside.mean()) / (noise * np.sqrt(1 / len(inside) + 1 / len(outside))))
    # levels are medians (robust), or means for small counts (a median of 0s and 1s says little)
    center = np.mean if counts else np.median
    before = float(center(d[max(0, start - span):start]))
    after = float(center(d[start:min(end, start + span)]))
    if abs(t) < t_min or (before == 0 and not (counts and after > 0)) or \
            (before != 0 and abs(after / before - 1) < min_change):
        return None
    # Abrupt, not a seasonal swing: in the eight weeks either side, a step on top of a smooth
    # curve (which absorbs a slow swing) must carry most of the change, clearly. The cut of a
    # noisy series can miss the true break by days, so the best step within two weeks counts,
    # and its day becomes the date of the change.
    def step(at: int, sign: float, lo: int, hi: int) -> tuple[float, float, int]:
        best = (0.0, np.inf, at)
        for s in range(max(lo + 7, at - 14), min(hi - 7, at + 14) + 1):
            a, b = max(lo, s - STEP_WINDOW), min(hi, s + STEP_WINDOW)
            x = np.arange(a, b, dtype=float)
            design = np.column_stack([np.ones_like(x), x - s, ((x - s) / STEP_WINDOW) ** 2, (x >= s).astype(float)])
            coef = np.linalg.lstsq(design, d[a:b], rcond=None)[0]
            se = noise * np.sqrt(np.linalg.pinv(design.T @ design)[3, 3])
            if coef[3] * sign / se > best[0] * sign / best[1]:
                best = (float(coef[3]), float(se), s)
        return best

    direction = float(np.sign(after - before))
    # an episode has already shown two clear breaks (its start and its end), so less is asked
    share, n_se = (0.5, STEP_SE - 1) if end < n else (0.6, STEP_SE)

    def abrupt(size: float, se: float, sign: float) -> bool:
        return size * sign > 0 and abs(size) >= share * abs(after - before) and abs(size) >= n_se * se

    if not (counts and before == 0):  # an event type that appears is abrupt by definition
        size, se, start = step(start, direction, 0, end)
        if not abrupt(size, se, direction):
            return None
        if end < n:  # an episode ends with a clear step back (a seasonal trough has none)
            size, se, end = step(end, -direction, start, n)
            if size * -direction <= 0 or abs(size) < 0.3 * abs(after - before) or abs(size) < (n_se - 0.5) * se:
                return None
        before = float(center(d[max(0, start - span):start]))
        after = float(center(d[start:min(end, start + span)]))
    # the band the level after the cut would lie in had nothing changed: the level before,
    # +- 3 standard errors of a median over the days after (1.2533 = sqrt(pi / 2))
    half = 3 * 1.2533 * noise / np.sqrt(min(span, end - start))
    lo, hi = before - half, before + half
    if counts or (y >= 0).all():
        lo = max(lo, 0.0)
    if lo <= after <= hi:
        return None  # the new level is one the old could have shown by chance: nothing to report
    # The t above assumes normal noise; a cost per conversion is skewed and its t runs high. The
    # p-value is a rank test (Mann-Whitney) of the changed days against the rest, times the
    # number of places a split was tried (Bonferroni), so the scan's FDR control can judge it.
    inside = d[start:end]
    outside = np.concatenate([d[:start], d[end:]])
    rank_p = stats.mannwhitneyu(inside, outside, method="asymptotic").pvalue
    return Shift(date=y.index[start], before=before, after=after, t=t, expected_low=float(lo),
                 expected_high=float(hi), end=y.index[end - 1] if end < n else None,
                 p=float(min(1.0, rank_p * n)))


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
