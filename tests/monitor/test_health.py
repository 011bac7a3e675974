"""System health on loads made by the ordinary ingest path: freshness against the table's own
rhythm, quarantine growth, failed jobs (issue 22, item 4), on a controllable clock."""

from __future__ import annotations

import datetime as dt

from mercator.monitor import system_health
from mercator.workspace import Workspace
from tests.conftest import ingest_text

GOOD = "date,platform,campaign,impressions,clicks,cost\n" + "".join(
    f"2026-01-{d:02d},google_ads,c1,1000,20,15.5\n" for d in range(1, 11))
BAD = "date,platform,campaign,impressions,clicks,cost\n" + "".join(
    f"2026-01-{d:02d},google_ads,c2,1000,{'-5' if d % 2 else '20'},15.5\n" for d in range(11, 21))


def test_freshness_quarantine_and_jobs(tmp_path):
    ws = Workspace(tmp_path / "h.duckdb")
    ingest_text(ws, tmp_path, GOOD, "ad_performance")
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    fresh = system_health(ws, now=now + dt.timedelta(hours=1), max_age=86400, jobs=[])
    checks = fresh.to_frame("checks").set_index(["check", "subject"]).status
    assert checks[("freshness", "ad_performance")] == "ok"
    assert checks[("quarantine", "ad_performance")] == "ok" and checks[("jobs", "mercator serve")] == "ok"
    # one load, no rhythm yet: max_age decides; 3x beyond it is off track
    assert system_health(ws, now=now + dt.timedelta(days=2), max_age=86400).to_frame("checks") \
        .set_index("check").status["freshness"] == "at risk"
    assert system_health(ws, now=now + dt.timedelta(days=4), max_age=86400).to_frame("checks") \
        .set_index("check").status["freshness"] == "off track"

    (tmp_path / "bad").mkdir()
    ingest_text(ws, tmp_path / "bad", BAD, "ad_performance")  # half its rows rejected
    failed = [{"id": "j1", "kind": "mmm_fit", "status": "failed", "finished": now.isoformat() + "+00:00",
               "problem": {"detail": "no media_spend rows"}}]
    res = system_health(ws, now=now + dt.timedelta(minutes=5), jobs=failed)
    checks = res.to_frame("checks").set_index(["check", "subject"])
    assert checks.status[("quarantine", "ad_performance")] == "off track"
    # both loads fell in the last day: 5 of their 20 rows rejected
    assert checks.reason[("quarantine", "ad_performance")].startswith("25.00% of the rows loaded in the last day")
    assert checks.status[("jobs", "mercator serve")] == "at risk"
    assert "mmm_fit (no media_spend rows)" in checks.reason[("jobs", "mercator serve")]
    assert res.findings[0].text.endswith("need attention.")
    ws.close()
