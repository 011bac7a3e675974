"""Backtests on real series (../shared/data): Online Retail daily and weekly revenue and orders,
Robyn's weekly revenue, Meridian's national conversions and the Google Analytics sample's daily
visits. Target (issue 8): the chosen model's error below seasonal naive's on most series, and
the 80% and 95% intervals' empirical coverage within 5 points of nominal. Measured: below on 6
of 7 (Online Retail daily orders: no model beat seasonal naive, which is then chosen); mean
coverage 83% and 94% (docs/forecast.md has the table)."""

from __future__ import annotations

import pandas as pd

from mercator.forecast import backtest
from mercator.ingest import ingest
from tests.conftest import shared


def test_backtests_on_real_series(duckdb_ws):
    ingest(duckdb_ws, shared("online_retail", "online_retail.csv.gz"))
    ingest(duckdb_ws, shared("google_merch_store_ga", "all_sessions.csv"))
    cases = {
        "online retail daily revenue": {"metric": "revenue", "freq": "D", "horizon": 28},
        "online retail daily orders": {"metric": "orders", "freq": "D", "horizon": 28},
        "online retail weekly revenue": {"metric": "revenue", "freq": "W", "horizon": 8},
        "online retail weekly orders": {"metric": "orders", "freq": "W", "horizon": 8},
        "robyn weekly revenue": {"data": str(shared("robyn_simulated", "dt_simulated_weekly.csv")), "date_col": "DATE",
                                     "value_col": "revenue", "freq": "W", "horizon": 13},
        "meridian national conversions": {"data": str(shared("meridian_simulated", "national_all_channels.csv")),
                                              "date_col": "time", "value_col": "conversions", "freq": "W", "horizon": 13},
        "google analytics daily visits": {"metric": "visits", "freq": "D", "horizon": 28},
    }
    rows = []
    for name, kw in cases.items():
        sc = backtest(duckdb_ws if "metric" in kw else None, **kw).to_frame("scores")
        rows.append(sc[sc.chosen].iloc[0].to_dict() | {"series": name})
    chosen = pd.DataFrame(rows).set_index("series")
    assert (chosen.rel_mae < 1).sum() >= 5, chosen
    assert (chosen.rel_mae <= 1).all()  # seasonal naive is always a candidate
    assert abs(chosen.coverage_95.mean() - 0.95) <= 0.05 and abs(chosen.coverage_80.mean() - 0.80) <= 0.05, chosen
