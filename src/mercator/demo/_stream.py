"""A live stream to watch (issue 22): hourly ad delivery per campaign and minute-stamped web and
app events, with incidents planted at known times, for testing and benchmarking the alert rules.

Normal traffic follows a daily cycle with Poisson noise. The incidents (``INCIDENTS``):

- ``spend_spike``: campaign ``alpha``'s cost triples for one hour (its clicks do not);
- ``ctr_drop``: campaign ``beta``'s CTR halves for six hours;
- ``tracking_break``: no purchase events for 30 minutes while clicks go on;
- ``source_stop``: the ``app`` source stops sending, to the end of the stream.

Pure NumPy and pandas, no I/O; ``stream(...)`` returns the two tables and the truth.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

CAMPAIGNS = ("alpha", "beta")
#: incident -> (day from the stream's start, hour, minute, duration in minutes)
INCIDENTS = {"spend_spike": (12, 14, 0, 60), "ctr_drop": (16, 9, 0, 360), "tracking_break": (20, 11, 0, 30),
             "source_stop": (25, 12, 0, None)}


def _daily_cycle(hours: np.ndarray) -> np.ndarray:
    """Traffic by hour of day: low at night, high in the afternoon (mean 1)."""
    return 1 + 0.6 * np.sin((hours - 9) / 24 * 2 * np.pi)


def stream(start: dt.date, days: int, *, seed: int = 0, incidents: bool = True,
           clicks_per_minute: float = 25.0) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """``days`` days from ``start``: ad_performance by hour and campaign, events by minute, and
    the truth (each incident's start and end, UTC) when ``incidents``."""
    rng = np.random.default_rng(seed)
    origin = pd.Timestamp(start)
    truth = {}
    if incidents:
        for name, (day, hour, minute, length) in INCIDENTS.items():
            begin = origin + pd.Timedelta(days=day, hours=hour, minutes=minute)
            truth[name] = {"start": begin.to_pydatetime(),
                           "end": None if length is None else (begin + pd.Timedelta(minutes=length)).to_pydatetime()}

    # hourly ad delivery
    hours = origin + pd.to_timedelta(np.arange(days * 24), unit="h")
    rows = []
    for i, campaign in enumerate(CAMPAIGNS):
        base = (40_000 if i == 0 else 25_000) * _daily_cycle(hours.hour.to_numpy())
        impressions = rng.poisson(base)
        ctr = np.full(len(hours), 0.020 if i == 0 else 0.030)
        cpc = np.full(len(hours), 0.80 if i == 0 else 0.55)
        if incidents and campaign == "beta":
            s, e = truth["ctr_drop"]["start"], truth["ctr_drop"]["end"]
            ctr[(hours >= s) & (hours < e)] /= 2
        clicks = rng.binomial(impressions, ctr)
        cost = clicks * cpc * rng.lognormal(0, 0.05, len(hours))
        if incidents and campaign == "alpha":
            cost[hours == pd.Timestamp(truth["spend_spike"]["start"])] *= 3
        conversions = rng.binomial(clicks, 0.05).astype(float)
        rows.append(pd.DataFrame({"date": hours.date, "hour": hours.hour.astype("int64"), "platform": "google_ads",
                                  "channel": "paid_search", "campaign_id": f"c-{campaign}", "campaign": campaign,
                                  "impressions": impressions, "clicks": clicks, "cost": cost.round(2),
                                  "currency": "USD", "conversions": conversions,
                                  "conversion_value": (conversions * 60).round(2)}))
    ads = pd.concat(rows, ignore_index=True)

    # minute-stamped events: clicks and purchases on the web, page views from the app
    minutes = origin + pd.to_timedelta(np.arange(days * 1440), unit="min")
    cycle = _daily_cycle(minutes.hour.to_numpy() + minutes.minute.to_numpy() / 60)
    n_clicks = rng.poisson(clicks_per_minute * cycle)
    n_buys = rng.binomial(n_clicks, 0.05)
    n_app = rng.poisson(6 * cycle)
    if incidents:
        s, e = truth["tracking_break"]["start"], truth["tracking_break"]["end"]
        n_buys[(minutes >= s) & (minutes < e)] = 0
        n_app[minutes >= truth["source_stop"]["start"]] = 0
    parts = []
    for name, counts, source in (("click", n_clicks, "web"), ("purchase", n_buys, "web"),
                                 ("page_view", n_app, "app")):
        ts = np.repeat(minutes.to_numpy(), counts) + rng.integers(0, 60_000_000, counts.sum()).astype(
            "timedelta64[us]")
        parts.append(pd.DataFrame({"ts": ts, "event_name": name, "source": source}))
    events = pd.concat(parts, ignore_index=True).sort_values("ts", ignore_index=True)
    events.insert(0, "event_id", "e" + pd.Series(np.arange(len(events))).astype(str))
    events["user_id"] = "u" + pd.Series(rng.integers(0, 50_000, len(events))).astype(str)
    events["ts"] = events["ts"].astype("datetime64[us]")
    return ads, events, truth
