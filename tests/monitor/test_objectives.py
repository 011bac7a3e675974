"""Objectives: baseline from history with its interval, sign-off, lock, refusal to edit after
the lock, proposals beside the locked version, and the hash-chained audit trail (issue 22)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from mercator.demo._stream import stream
from mercator.errors import BadParameter, ConflictError, NotFoundError
from mercator.govern import audit_trail, entry_hash
from mercator.monitor import list_objectives, locked_version, set_objective, sign_objective
from mercator.workspace import Workspace


@pytest.fixture
def ws(tmp_path):
    ads, _, _ = stream(dt.date(2026, 1, 1), 40, seed=4, incidents=False)
    w = Workspace(tmp_path / "obj.duckdb")
    w.replace("ad_performance", ads, on=["date", "hour", "campaign"])
    yield w, ads
    w.close()


def _set(ws, **kw):
    args = {"kpi_name": "ctr", "target": 0.024, "threshold": 0.021, "start": "2026-02-01", "end": "2026-02-09",
            "campaign": "alpha", "owner": "ana", "guardrails": {"cpa": 20}, "budget": 9000,
            "roles": ["marketing", "finance"], "author": "ana"}
    return set_objective(ws, "spring", **(args | kw))


def test_baseline_is_the_kpi_before_the_start_with_a_bootstrap_interval_holding_the_truth(ws):
    w, ads = ws
    res = _set(w)
    prior = ads[(ads.campaign == "alpha") & (ads.date >= dt.date(2026, 1, 23)) & (ads.date <= dt.date(2026, 1, 31))]
    assert res.params["baseline"] == pytest.approx(prior.clicks.sum() / prior.impressions.sum(), rel=1e-6)
    assert res.params["baseline_days"] == 9 and res.params["baseline_scope"] == "campaign alpha"
    low, high = res.params["baseline_low"], res.params["baseline_high"]
    assert low < 0.020 < high  # the stream's planted CTR for alpha
    assert high - low < 0.001
    # a sum KPI over the account: the total of the previous 9 days
    conv = set_objective(w, "volume", kpi_name="conversions", target=9000, start="2026-02-01", end="2026-02-09")
    prior_all = ads[(ads.date >= dt.date(2026, 1, 23)) & (ads.date <= dt.date(2026, 1, 31))]
    assert conv.params["baseline"] == pytest.approx(prior_all.conversions.sum())
    assert conv.params["baseline_low"] < conv.params["baseline"] < conv.params["baseline_high"]


def test_sign_off_locks_and_a_locked_objective_cannot_be_edited_only_proposed(ws):
    w, _ = ws
    first = _set(w)
    again = _set(w, target=0.025)  # before the lock a new version replaces the draft
    assert again.params["version"] == 2 and again.params["status"] == "draft"
    assert again.params["spec_hash"] != first.params["spec_hash"]
    with pytest.raises(BadParameter, match="not a role"):
        sign_objective(w, "spring", "sales", person="sam")
    half = sign_objective(w, "spring", "marketing", person="ana")
    assert not half.params["locked"] and "waiting for finance" in half.findings[0].text
    with pytest.raises(ConflictError, match="already signed"):
        sign_objective(w, "spring", "marketing", person="ana")
    done = sign_objective(w, "spring", "finance", person="fred")
    assert done.params["locked"]
    locked = locked_version(w, "spring")
    assert int(locked.version) == 2 and locked.status == "locked" and locked.spec_hash == again.params["spec_hash"]

    with pytest.raises(ConflictError, match="cannot be edited"):
        _set(w, target=0.03)
    proposal = _set(w, target=0.03, propose=True, reason="agency asks for more")
    assert proposal.params["status"] == "proposed" and proposal.params["version"] == 3
    assert int(locked_version(w, "spring").version) == 2  # the review still judges version 2
    listed = list_objectives(w)
    assert set(listed.to_frame("objectives").version) == {2, 3}
    assert "version 2 locked" in listed.findings[0].text and "version 3 proposed" in listed.findings[0].text


def test_the_audit_trail_chains_every_step_and_shows_tampering(ws):
    w, _ = ws
    _set(w)
    sign_objective(w, "spring", "marketing", person="ana")
    sign_objective(w, "spring", "finance", person="fred")
    trail = audit_trail(w, subject="spring")
    assert trail.params["intact"]
    actions = list(trail.to_frame().action)[::-1]
    assert actions == ["objective.set", "objective.signoff", "objective.signoff", "objective.lock"]
    lock = trail.to_frame().iloc[0]
    assert lock.detail.count(locked_version(w, "spring").spec_hash) == 1
    # hand-check one link: entry 2's hash covers entry 1's
    rows = w.table("audit").order_by("seq").to_pandas()
    r = rows.iloc[1]
    assert r.hash == entry_hash(rows.hash.iloc[0], r.seq, r.ts, r.actor, r.action, r.subject, r.detail)
    # someone rewrites who signed: the chain breaks at that entry
    w.con.raw_sql("UPDATE audit SET actor = 'mallory' WHERE seq = 3")
    broken = audit_trail(w)
    assert not broken.params["intact"] and broken.params["broken_at"] == 3
    assert "BROKEN at entry 3" in broken.findings[0].text


def test_bad_objectives_are_refused_with_the_reason(ws):
    w, _ = ws
    with pytest.raises(BadParameter, match="threshold 0.03 is better than the target"):
        _set(w, threshold=0.03)
    with pytest.raises(BadParameter, match="end 2026-01-01 is before start"):
        _set(w, end="2026-01-01")
    with pytest.raises(Exception, match="unknown KPI 'reach'"):
        _set(w, kpi_name="reach")
    with pytest.raises(NotFoundError):
        sign_objective(w, "nope", "finance")
    assert np.isfinite(_set(w, kpi_name="cpa", target=15, threshold=18).params["baseline"])
