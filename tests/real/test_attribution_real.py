"""The public multi-touch journey log (../shared/data/mta_journeys) end to end: ingested into
events by its mapper, journeys built in the engine, every model run."""

from __future__ import annotations

from mercator.attribution import MODELS, attribution
from mercator.ingest import ingest
from tests.conftest import shared


def test_mta_journeys_end_to_end(duckdb_ws):
    """PROVENANCE.txt: 62,483 events, 1,838 conversion rows, 5 channels. 48 repeat conversions
    with no touch since the customer's previous one are left out of the journeys; the data
    holds no users who were never reached, and the result says Shapley has no fair baseline."""
    res = ingest(duckdb_ws, shared("mta_journeys", "attribution_data.csv"))
    assert res.to_frame("loads")["rows_inserted"].sum() == 62_483
    out = attribution(duckdb_ws, conversion_event="conversion")
    comp = out.to_frame("comparison")
    assert set(comp["channel"]) == {"Facebook", "Instagram", "Online Display", "Online Video", "Paid Search"}
    assert list(comp.columns[1:]) == list(MODELS)
    credit = out.to_frame("credit")
    rules = credit[credit.model.isin(["first_touch", "last_touch", "linear"])]
    assert (rules.groupby("model")["conversions"].sum() <= 1_838).all()
    assert any("no fair baseline" in f.text for f in out.findings)
    assert out.params["journeys"] > 7_896  # customers, some with several journeys
