"""The whole anomaly scan judged at once: false alarms on clean simulated ad data across every
series and day (not per series), and a drop planted in one device-by-country cell named as
that cell. Reference for the false-discovery control: Benjamini and Hochberg (1995); SciPy's
``false_discovery_control`` computes the adjusted p-values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mercator.explore import anomalies, explore
from mercator.explore._scan import MIN_DAY_CHANGE, gaps
from mercator.ingest import ingest

DEVICES, COUNTRIES, CHANNELS = ("desktop", "mobile", "tablet"), ("US", "DE", "FR", "UK"), ("search", "social", "display")


def _ads(seed: int, days: int = 240, drop: tuple[str, str, int, float] | None = None) -> pd.DataFrame:
    """Daily ads by device x country x channel: yearly season, a weekend dip, Poisson clicks,
    binomial conversions, lognormal CPC. ``drop``: (device, country, first day, factor) on CVR."""
    rng = np.random.default_rng(seed)
    d, v, k, c = (a.ravel() for a in np.meshgrid(np.arange(days), np.arange(3), np.arange(4), np.arange(3),
                                                 indexing="ij"))
    date = pd.Timestamp("2024-01-01") + pd.to_timedelta(d, unit="D")
    season = (1 + 0.15 * np.sin(2 * np.pi * d / 365.25)) * np.where(date.dayofweek >= 5, 0.85, 1.0)
    clicks = rng.poisson(np.array([400, 500, 120])[v] * np.array([1.0, 0.5, 0.4, 0.3])[k]
                         * np.array([1.0, 0.8, 0.5])[c] * season)
    cvr = np.array([0.04, 0.03, 0.035])[v] * np.ones(len(d))
    if drop is not None:
        dev, cty, start, factor = drop
        cvr = np.where((v == DEVICES.index(dev)) & (k == COUNTRIES.index(cty)) & (d >= start), cvr * factor, cvr)
    conversions = rng.binomial(clicks, cvr)
    return pd.DataFrame({"date": date.date, "platform": "x", "channel": np.array(CHANNELS)[c],
                         "device": np.array(DEVICES)[v], "country": np.array(COUNTRIES)[k],
                         "impressions": clicks * 60, "clicks": clicks,
                         "cost": np.round(clicks * 0.8 * rng.lognormal(0, 0.1, len(d)), 2),
                         "conversions": conversions, "conversion_value": np.round(conversions * 50.0, 2)})


def _workspace(tmp_path, name: str, frame: pd.DataFrame):
    from mercator import Workspace

    ws = Workspace(str(tmp_path / f"{name}.duckdb"))
    path = tmp_path / f"{name}.csv"
    frame.to_csv(path, index=False)
    ingest(ws, path, table="ad_performance")
    return ws


def test_clean_data_gives_no_findings_across_the_whole_scan(tmp_path):
    """Three clean workspaces, each scanned whole: 6 KPIs overall, in 3 dimensions, 3 pairs of
    dimensions (over 20,000 day tests each). Under the global null, Benjamini-Hochberg at 5%
    bounds the chance of any finding per scan at 5%; a per-series threshold would not (the same
    bands alone flag dozens of days, counted below so the test shows what the control removes)."""
    from mercator.explore import WATCHED_KPIS
    from mercator.explore._scan import scan, unit_values
    from mercator.metrics import part_frame

    flagged_alone = 0
    for seed in (1, 2, 3):
        ws = _workspace(tmp_path, f"clean{seed}", _ads(seed))
        an = anomalies(ws)
        assert an.params["tests"] > 20_000
        assert an.to_frame("findings").empty, an.to_frame("findings")[["type", "kpi", "dimension", "segment", "date"]]
        assert [f.text for f in an.findings] == []
        frames = {("all", "all"): part_frame(ws, list(WATCHED_KPIS), grain="day")}
        found, *_ = scan(frames, WATCHED_KPIS, pd.Timestamp("2024-01-01").date(), unit_values(ws)[0])
        flagged_alone += len(found)
        ws.close()
    assert flagged_alone > 0  # the bands alone, overall only, already flag days on clean data


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """CVR falls 40% in mobile x DE (one cell of twelve, 8% of clicks) from day 150 of 240."""
    ws = _workspace(tmp_path_factory.mktemp("cell"), "cell", _ads(7, drop=("mobile", "DE", 150, 0.6)))
    yield ws
    ws.close()


def test_a_drop_in_one_cell_is_named_as_that_cell_in_the_top_three(planted):
    ex = explore(planted)
    top = ex.findings[:3]
    named = [f for f in top if f.segment == "device+country=mobile / DE"]
    assert named, [f.text for f in top]
    assert named[0].metric in ("cvr", "conversions", "cpa")
    row = anomalies(planted).to_frame("findings").query("segment == 'mobile / DE'").iloc[0]
    assert abs((row.date - pd.Timestamp("2024-01-01") - pd.Timedelta(days=150)).days) <= 3
    # neither mobile alone nor DE alone speaks for it: the same change is reported once
    assert not any(f.segment in ("device=mobile", "country=DE") and f.metric == named[0].metric
                   for f in ex.findings)


def test_findings_are_ranked_by_money_at_stake(planted):
    """The planted cell loses 40% of its conversions for its last 90 days, 28,900 at 50 each
    (computed from the simulated clicks). The finding states what is at stake within 35%: its
    level before the drop is the late-spring peak of the season, so it overstates (by about
    30% here). Every anomaly finding is ordered by it."""
    an = anomalies(planted)
    table = an.to_frame("findings")
    assert an.params["at_stake_unit"] == "USD"  # the schema's default currency
    assert (table["at_stake"].diff().dropna() <= 1e-9).all()
    frame = _ads(7, drop=("mobile", "DE", 150, 0.6))
    cell = frame[(frame.device == "mobile") & (frame.country == "DE")
                 & (pd.to_datetime(frame.date) >= pd.Timestamp("2024-01-01") + pd.Timedelta(days=150))]
    lost = cell["clicks"].sum() * 0.03 * 0.4 * 50.0
    found = table.query("segment == 'mobile / DE'").iloc[0]
    assert found.at_stake == pytest.approx(lost, rel=0.35)
    assert "At stake:" in an.findings[0].text and "USD" in an.findings[0].text


def test_single_days_need_size_as_well_as_significance():
    """Cost of 100,000 a day with noise of 50: a day 5% up is far outside its band (p < 1e-6)
    but below MIN_DAY_CHANGE, so it is no finding; a day 50% up is."""
    from mercator.explore._scan import scan

    idx = pd.date_range("2024-01-01", periods=120, freq="D")
    cost = 100_000.0 + np.random.default_rng(0).normal(0, 50, 120)
    cost[100] *= 1.05
    cost[110] *= 1.5
    frame = pd.DataFrame({"period": idx, "cost": cost})
    found, bands, _holes, _tested = scan({("all", "all"): frame}, ("cost",), idx[0].date(), {"cost": 1.0})
    assert bands[("cost", "all", "all")].loc[idx[100], "anomaly"] and MIN_DAY_CHANGE > 0.05
    assert list(found["date"]) == [idx[110]] and found["p"].iloc[0] < 1e-6


def test_a_stretch_without_rows_is_a_gap():
    days = pd.DatetimeIndex(list(pd.date_range("2017-01-01", "2017-03-01")) + list(pd.date_range("2024-01-01",
                                                                                               "2024-03-01")))
    assert gaps(days, days.min(), days.max()) == [(pd.Timestamp("2017-03-02"), pd.Timestamp("2023-12-31"))]
    assert gaps(days[:30].delete([3, 4, 5]), days[0], days[29]) == []  # three missing days are not a gap


def test_two_sources_years_apart_are_a_gap_not_a_drop(tmp_path):
    """Events from a 2017 sample (about 40 visits a day) and a 2024 clickstream (about 6 a
    day), as the README tour once loaded into one workspace: explore says first that the data
    has a gap, and scores no drop across it (each stretch is scanned on its own)."""
    from mercator import Workspace

    rng = np.random.default_rng(4)
    rows = []
    for start, days, visits in (("2017-08-01", 60, 40), ("2024-01-01", 120, 6)):
        for day in pd.date_range(start, periods=days, freq="D"):
            for v in range(rng.poisson(visits)):
                rows.append({"event_id": f"{day:%Y%m%d}-{v}", "user_id": f"u{day:%Y%m%d}{v}", "session_id":
                             f"s{day:%Y%m%d}{v}", "ts": day + pd.Timedelta(hours=12), "event_name": "page_view"})
    path = tmp_path / "events.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    ws = Workspace(str(tmp_path / "two.duckdb"))
    ingest(ws, path, table="events")
    ex = explore(ws)
    assert ex.findings[0].metric == "gap" and "2017-09-30 to 2023-12-31" in ex.findings[0].text
    table = ex.to_frame("event_anomalies")
    assert table.empty or not (table["type"] == "shift").any(), table
    assert not any("fell from" in f.text for f in ex.findings)
    ws.close()
