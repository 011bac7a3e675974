"""Property: whatever the consent states, nobody without consent to personalization is in a
batch of recommendations, and each of them gets only the non-personalized default when asked
for one list (issue 20; the filter is mercator.govern's, in the engine)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mercator.recommend import fit_recommender, recommend_batch, recommend_for


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    from mercator.demo import build_demo_workspace

    ws, _ = build_demo_workspace(tmp_path_factory.mktemp("consent") / "demo.duckdb", size="small", seed=3)
    model = fit_recommender(ws, horizon_days=20, cuts=1).model
    customers = sorted(model._offsets["repeat"])[:60]
    yield ws, model, customers
    ws.close()


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_output_for_anyone_without_consent(shop, data):
    ws, model, customers = shop
    consenting = data.draw(st.sets(st.sampled_from(customers)), label="consenting")
    ids = ", ".join(f"'{c}'" for c in consenting) or "NULL"
    ws.engine.con.raw_sql("UPDATE customers SET consent_personalization = customer_id IN (" + ids + ")")
    listed = set(recommend_batch(ws, model, k=5).lists.customer_id)
    assert listed <= consenting
    assert listed == consenting & set(model._offsets["repeat"])
    for c in data.draw(st.lists(st.sampled_from(customers), max_size=3), label="asked"):
        reason = recommend_for(model, c, ws=ws).params["reason"]
        assert reason.startswith("personalized") == (c in consenting)
