"""Pre-registration: criteria locked with a timestamp and hash; the same criteria again change
nothing, other criteria are refused, and an edit of the stored row behind our back is caught."""

from __future__ import annotations

import pytest

from mercator.errors import MercatorError
from mercator.experiment._registry import criteria_hash, register, verify


def test_lock_refuse_and_detect_tampering(duckdb_ws):
    rule = {"metric": "conversion", "min_relative_lift": 0.05, "alpha": 0.05}
    res = register(duckdb_ws, "exp1", hypothesis="A shorter form raises sign-ups", primary_metric="conversion",
                   guardrails=["unsubscribe_rate"], success_criteria=rule, name="Form test")
    h = res.params["criteria_hash"]
    assert h == criteria_hash("A shorter form raises sign-ups", "conversion", ["unsubscribe_rate"], rule)
    locked = verify(duckdb_ws, "exp1")
    assert locked["success_criteria"] == rule and locked["criteria_hash"] == h and locked["locked_at"] is not None
    again = register(duckdb_ws, "exp1", hypothesis="A shorter form raises sign-ups", primary_metric="conversion",
                     guardrails=["unsubscribe_rate"], success_criteria=dict(reversed(list(rule.items()))))
    assert again.params["criteria_hash"] == h and duckdb_ws.count("experiments") == 1
    with pytest.raises(MercatorError, match="cannot change after locking"):
        register(duckdb_ws, "exp1", hypothesis="A shorter form raises sign-ups", primary_metric="conversion",
                 guardrails=["unsubscribe_rate"], success_criteria={**rule, "min_relative_lift": 0.02})
    duckdb_ws.con.raw_sql("UPDATE experiments SET success_criteria = '{\"min_relative_lift\": 0.01}'")
    with pytest.raises(MercatorError, match="changed after locking"):
        verify(duckdb_ws, "exp1")
    with pytest.raises(MercatorError, match="no experiment"):
        verify(duckdb_ws, "nope")
