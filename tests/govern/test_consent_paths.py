"""Property (issue 23, item 1): whatever the consent states (random customers columns and random
consent records with their history and Global Privacy Control signals), no path that uses a
person's data for a purpose outputs anyone without that purpose's consent:

- recommendations in batch, one customer's list (personalized only with consent; the
  non-personalized default otherwise) and next best offers (personalization);
- a scored list written to a file and the audience file a trigger writes (marketing e-mail);
- a decision policy's personalized choices (personalization);
- a partner export through the sharing gate (sale and sharing).

The expected set is computed here, independently of mercator.govern, from the generated state:
the newest record per person and purpose decides, the customers column where there is none,
missing is no, and a GPC signal that is on opts out of sale and sharing.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

COLUMNS = {"personalization": "consent_personalization", "marketing_email": "consent_marketing_email"}
PURPOSES = ("personalization", "marketing_email", "sale_sharing", "gpc")


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    from mercator.demo import build_demo_workspace
    from mercator.recommend import fit_recommender
    from mercator.target import train_model

    folder = tmp_path_factory.mktemp("paths")
    ws, _ = build_demo_workspace(folder / "demo.duckdb", size="small", seed=5)
    model = fit_recommender(ws, horizon_days=20, cuts=1).model
    people = sorted(model._offsets["repeat"])[:80]
    rng = np.random.default_rng(0)
    x = rng.normal(size=500)
    target = train_model(None, pd.DataFrame({"x": x, "y": (x + rng.normal(0, 1, 500) > 0).astype(int)}), "y",
                         save_to=folder / "t.model").params["model_path"]
    scored = folder / "people.csv"
    pd.DataFrame({"customer_id": people, "x": rng.normal(size=len(people))}).to_csv(scored, index=False)
    yield ws, model, people, target, scored, folder
    ws.close()


def _state(data, people):
    columns = {p: data.draw(st.sets(st.sampled_from(people)), label=f"column {p}") for p in COLUMNS}
    records = data.draw(st.lists(st.tuples(st.sampled_from(people), st.sampled_from(PURPOSES), st.booleans(),
                                           st.integers(0, 30)), max_size=60), label="records")
    return columns, records


def _expected(columns, records, people) -> dict[str, set[str]]:
    rec = pd.DataFrame(records, columns=["customer_id", "purpose", "granted", "day"])
    rec = rec.sort_values("day").drop_duplicates(["customer_id", "purpose", "day"], keep="last")
    newest = rec.drop_duplicates(["customer_id", "purpose"], keep="last").set_index(["customer_id", "purpose"])
    gpc_on = {c for (c, p), r in newest.iterrows() if p == "gpc" and r.granted}
    out = {}
    for purpose in ("personalization", "marketing_email", "sale_sharing"):
        ok = set()
        for c in people:
            if (c, purpose) in newest.index:
                granted = bool(newest.loc[(c, purpose), "granted"])
            else:
                granted = c in columns.get(purpose, set())
            if granted and not (purpose == "sale_sharing" and c in gpc_on):
                ok.add(c)
        out[purpose] = ok
    return out


def _apply(ws, columns, records, people) -> None:
    con = ws.engine.con
    for purpose, col in COLUMNS.items():
        ids = ", ".join(f"'{c}'" for c in columns[purpose]) or "NULL"
        con.raw_sql(f"UPDATE customers SET {col} = customer_id IN ({ids})")
    con.raw_sql("DELETE FROM consents")
    if records:
        rec = pd.DataFrame(records, columns=["customer_id", "purpose", "granted", "day"])
        rec["ts"] = pd.Timestamp("2026-01-01") + pd.to_timedelta(rec.day, unit="D")
        rec = rec.drop(columns="day").drop_duplicates(["customer_id", "purpose", "ts"], keep="last")
        ws.replace("consents", rec.astype({"ts": "datetime64[us]"}), on=["customer_id", "purpose", "ts"])


# no shrinking: each example runs every path (seconds); a failing draw is shown as drawn
@settings(max_examples=5, deadline=None, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_path_outputs_anyone_without_the_purposes_consent(shop, data):
    from mercator.decide import parse_policy, run_triggers
    from mercator.decide._policy import Decider
    from mercator.decide._service import serving_state
    from mercator.govern import consenting, sharing_gate
    from mercator.recommend import next_best_offers, recommend_batch, recommend_for
    from mercator.target import score_table

    ws, model, people, target, scored, folder = shop
    columns, records = _state(data, people)
    _apply(ws, columns, records, people)
    ok = _expected(columns, records, people)
    everyone = set(people)

    batch = set(recommend_batch(ws, model, k=3).lists.customer_id) & everyone
    assert batch <= ok["personalization"]
    for c in data.draw(st.lists(st.sampled_from(people), max_size=3), label="asked"):
        reason = recommend_for(model, c, ws=ws).params["reason"]
        assert reason.startswith("personalized") == (c in ok["personalization"]), (c, reason)
    offers = next_best_offers(ws, model).to_frame("choices")
    assert set(offers.customer_id) & everyone <= ok["personalization"]

    out = folder / "scores.csv"
    score_table(target, ws, str(scored), out, id_col="customer_id", consent="marketing_email", reasons=False)
    assert set(pd.read_csv(out).customer_id) == ok["marketing_email"]

    audience = folder / "audience.csv"
    audience.unlink(missing_ok=True)
    ws.engine.con.raw_sql("DELETE FROM decisions WHERE policy LIKE 'trigger:%'")
    run_triggers(ws, {"triggers": [{"name": "welcome", "when": {"first_purchase": "3650d"},
                                    "purpose": "marketing_email", "window": "1d",
                                    "action": {"audience": str(audience)}}]},
                 now=dt.datetime(2026, 6, 1))
    sent = set(pd.read_csv(audience).person_id) if audience.exists() else set()
    assert sent & everyone <= ok["marketing_email"]

    policy = parse_policy({"policy": "hero", "bandit": "thompson", "purpose": "personalization",
                           "arms": [{"id": "a"}, {"id": "b"}]})
    decider = Decider(policy, consenting=consenting(ws, "personalization"), **serving_state(ws, policy))
    for c in people[:20]:
        d = decider.decide(c, {})
        assert (d["fallback_reason"] is None) == (c in ok["personalization"]), (c, d)

    partner = folder / "partner.csv"
    partner.unlink(missing_ok=True)
    frame = pd.DataFrame({"customer_id": people, "region": "all", "sentiment": ["a", "b"] * (len(people) // 2)})
    sharing_gate(frame, ws=ws, quasi=["region"], sensitive="sentiment", k=2, l=1, output=partner)
    shared_ids = set(pd.read_csv(partner).customer_id) if partner.exists() else set()
    assert shared_ids == ok["sale_sharing"] or (len(ok["sale_sharing"]) < 2 and not shared_ids)
