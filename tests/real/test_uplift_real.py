"""Uplift on Hillstrom's e-mail experiment (women's e-mail vs no e-mail, outcome visit)."""

from __future__ import annotations

import pytest

from mercator.target import uplift
from tests.conftest import shared

pytestmark = pytest.mark.real


def test_hillstrom_womens_email_visit():
    """Published reference: uplift@30% = 0.066 with a class-transformation model (scikit-uplift's
    notebook). Ours, on a stratified 30% test split: the class transformation's 95% bootstrap
    interval holds 0.066 (measured when written: 0.065, 0.047 to 0.085); the T and X learners do
    better (X: 0.084); every learner's Qini interval is above zero. The average effect on the
    test rows is near PROVENANCE.txt's randomized lift (+4.52 points)."""
    res = uplift(None, str(shared("hillstrom", "hillstrom.csv")), treatment_col="segment", treated="Womens E-Mail",
                 control="No E-Mail", outcome="visit", exclude=["conversion", "spend"], bootstrap=100)
    t = res.to_frame("learners").set_index("learner")
    ct = t.loc["class_transformation"]
    assert ct.uplift_at_30_low <= 0.066 <= ct.uplift_at_30_high
    assert (t["qini_low"] > 0).all()
    assert t["uplift_at_30"].max() > 0.066
    assert res.params["ate"] == pytest.approx(0.0452, abs=0.01)
