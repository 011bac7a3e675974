"""What makes two rows the same row (issue 17, item 1): every dimension a file reports
identifies its rows; a campaign's name only where the file has no campaign id. The key's
expressions are the same Ibis on each engine: the rename runs on Spark too, the rest on DuckDB."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mercator.ingest import ingest

PLAIN = "date,platform,channel,campaign,device,country,impressions,clicks,cost,conversions,conversion_value"


def _plain_export(path, n: int, *, campaigns: int | None = None, cost: float = 5.0):
    """A plain ad export without campaign ids, as Google Ads or a spreadsheet gives it: rows
    differ by campaign name (and, when ``campaigns`` is set, by date too)."""
    i = np.arange(n)
    names = [f"Campaign {k}" for k in (i if campaigns is None else i % campaigns)]
    days = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.zeros(n, int) if campaigns is None else i // campaigns,
                                                        unit="D")
    df = pd.DataFrame({"date": days.strftime("%Y-%m-%d"), "platform": "google_ads", "channel": "paid_search",
                       "campaign": names, "device": "mobile", "country": "US", "impressions": 1000,
                       "clicks": 10, "cost": cost, "conversions": 1, "conversion_value": 10.0})
    df.to_csv(path, index=False)
    return path


def test_rows_differing_only_by_campaign_name_all_load(duckdb_ws, tmp_path):
    ws = duckdb_ws
    p = _plain_export(tmp_path / "ads.csv", 1000)
    first = ingest(ws, p, table="ad_performance").to_frame("loads").iloc[0]
    assert (first.rows_read, first.rows_inserted, first.rows_quarantined) == (1000, 1000, 0)
    assert ws.count("ad_performance") == 1000 and ws.count("quarantine") == 0
    again = ingest(ws, p, table="ad_performance", force=True).to_frame("loads").iloc[0]  # the merge, not the skip
    assert (again.rows_inserted, again.rows_updated, again.rows_unchanged) == (0, 0, 1000)
    _plain_export(p, 1000, cost=7.0)  # the same rows, re-exported with other spend
    changed = ingest(ws, p, table="ad_performance").to_frame("loads").iloc[0]
    assert (changed.rows_inserted, changed.rows_updated, changed.rows_unchanged) == (0, 1000, 0)
    assert ws.count("ad_performance") == 1000
    assert ws.table("ad_performance").cost.sum().to_pyarrow().as_py() == 7000.0


def test_a_second_campaign_on_the_same_day_is_a_new_row_not_an_update(duckdb_ws, tmp_path):
    ws = duckdb_ws
    head = PLAIN + "\n"
    row = "2024-01-01,google_ads,paid_search,{},mobile,US,1000,10,5.0,1,10.0\n"
    (tmp_path / "brand.csv").write_text(head + row.format("Brand"))
    (tmp_path / "generic.csv").write_text(head + row.format("Generic"))
    ingest(ws, tmp_path / "brand.csv", table="ad_performance")
    res = ingest(ws, tmp_path / "generic.csv", table="ad_performance").to_frame("loads").iloc[0]
    assert (res.rows_inserted, res.rows_updated) == (1, 0)
    names = sorted(ws.table("ad_performance").campaign.to_pandas())
    assert names == ["Brand", "Generic"]


def test_a_renamed_campaign_with_an_id_stays_one_row(ws, tmp_path):
    """With a campaign id, the id identifies the campaign: a rename updates the row."""
    head = "date,platform,campaign_id,campaign,impressions,clicks,cost\n"
    p = tmp_path / "ads.csv"
    p.write_text(head + "2024-01-01,meta,c1,Spring sale,100,5,2.5\n2024-01-01,meta,c2,Brand,50,1,1.0\n")
    ingest(ws, p, table="ad_performance")
    p.write_text(head + "2024-01-01,meta,c1,Spring sale (EU),100,5,2.5\n2024-01-01,meta,c2,Brand,50,1,1.0\n")
    res = ingest(ws, p, table="ad_performance").to_frame("loads").iloc[0]
    assert (res.rows_inserted, res.rows_updated, res.rows_unchanged) == (0, 1, 1)
    df = ws.table("ad_performance").to_pandas().set_index("campaign_id")
    assert len(df) == 2 and df.loc["c1", "campaign"] == "Spring sale (EU)"
    # two names for one id on one day are one campaign: the second row is a duplicate
    p.write_text(head + "2024-01-02,meta,c1,A,100,5,2.5\n2024-01-02,meta,c1,B,100,5,2.5\n")
    dup = ingest(ws, p, table="ad_performance").to_frame("loads").iloc[0]
    assert (dup.rows_inserted, dup.rows_quarantined) == (1, 1)


def test_large_plain_export_loads_every_row(duckdb_ws, tmp_path):
    """The reported case at scale: 200,000 distinct rows (400 campaigns x 500 days) all load."""
    p = _plain_export(tmp_path / "big.csv", 200_000, campaigns=400)
    res = ingest(duckdb_ws, p, table="ad_performance").to_frame("loads").iloc[0]
    assert (res.rows_inserted, res.rows_quarantined) == (200_000, 0)


def test_set_gives_a_constant_without_a_mapping(tmp_path):
    """Issue 18, item 3: an export without a platform column loads with --set platform=..."""
    from typer.testing import CliRunner

    from mercator import Workspace
    from mercator.interfaces.cli import app

    runner = CliRunner()
    p = tmp_path / "ads.csv"
    p.write_text("date,campaign,impressions,clicks,cost\n2024-01-01,Brand,100,5,2.5\n2024-01-01,Generic,80,2,1.0\n")
    ws = str(tmp_path / "w.duckdb")
    refused = runner.invoke(app, ["ingest", str(p), "-t", "ad_performance", "-w", ws])
    assert refused.exit_code == 2 and "platform" in refused.output
    res = runner.invoke(app, ["ingest", str(p), "-t", "ad_performance", "--set", "platform=google_ads",
                              "--set", "channel = paid_search", "-w", ws])
    assert res.exit_code == 0, res.output
    with Workspace(ws, read_only=True) as w:
        df = w.table("ad_performance").to_pandas()
    assert len(df) == 2 and set(df.platform) == {"google_ads"} and set(df.channel) == {"paid_search"}
    bad = runner.invoke(app, ["ingest", str(p), "-t", "ad_performance", "--set", "plataform=x", "-w", ws])
    assert bad.exit_code == 2 and "plataform" in bad.output
