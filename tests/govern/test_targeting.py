"""The engine-side targeting filter (issue 19, item 5): consent per purpose and suppression
lists as joins in the engine, one test body on DuckDB and on Spark.

The truth is written by hand: 40 customers, consent to e-mail for the even ones (customer 0
has it missing, which counts as no), the first ten in a suppressed segment; so the eligible
set for e-mail without the segment is exactly the even ids from 10 to 38.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mercator.errors import BadParameter
from mercator.govern import consented, eligible, eligible_frame
from tests.conftest import ingest_text

N = 40


def _setup(ws, tmp_path):
    consent = ["" if i == 0 else str(i % 2 == 0).lower() for i in range(N)]
    rows = "\n".join(f"c{i:02d},{consent[i]},true" for i in range(N))
    ingest_text(ws, tmp_path, f"customer_id,consent_marketing_email,consent_ads\n{rows}\n", "customers")
    members = pd.DataFrame({"segment_set": "s1", "customer_id": [f"c{i:02d}" for i in range(N)],
                            "segment": ["complained" if i < 10 else "other" for i in range(N)]})
    ws.replace("segment_members", members, on=["segment_set", "customer_id"])


def test_consent_and_suppression_run_in_the_engine(ws, tmp_path):
    _setup(ws, tmp_path)
    people = ws.table("customers").select("customer_id")
    res = eligible(ws, people, purpose="marketing_email", suppress_segments=["complained"])
    got = sorted(res.people.to_pyarrow().column("customer_id").to_pylist())
    assert got == [f"c{i:02d}" for i in range(10, N, 2)]
    assert res.removed == {"segments: complained": 10, "no consent to marketing_email": 15}
    everyone = eligible(ws, people, purpose="ads")  # all consented to ads; nothing suppressed
    assert everyone.removed == {"no consent to ad_targeting": 0}


def test_rows_scored_outside_the_engine_keep_their_order(ws, tmp_path):
    _setup(ws, tmp_path)
    scores = pd.DataFrame({"id": [f"c{i:02d}" for i in reversed(range(N))], "score": np.linspace(1, 0, N)})
    kept, removed = eligible_frame(ws, scores, id_col="id", purpose="consent_marketing_email",
                                   suppress_segments=["complained"])
    assert list(kept["id"]) == [f"c{i:02d}" for i in reversed(range(10, N, 2))]
    assert kept["score"].is_monotonic_decreasing
    assert sum(removed.values()) == N - len(kept)


def test_consent_records_with_history_and_gpc_decide_over_the_customers_columns(ws, tmp_path):
    """The newest record per person and purpose decides, as of a time; people without a record
    fall back to the customers column; a GPC signal opts out of ad targeting and sale/sharing
    whatever was granted. Truth by hand, one body on DuckDB and Spark."""
    import datetime as dt

    _setup(ws, tmp_path)  # e-mail: the even ids (c00 missing); ads: everyone
    ingest_text(ws, tmp_path, "customer_id,purpose,granted,ts,source,notice_version\n"
                "c01,marketing_email,true,2026-01-01 10:00,banner,v1\n"   # odd, granted by a record
                "c02,marketing_email,false,2026-02-01 10:00,preference centre,v2\n"  # even, withdrawn
                "c04,marketing_email,false,2026-01-01 10:00,banner,v1\n"
                "c04,marketing_email,true,2026-03-01 10:00,banner,v2\n"   # refused, then granted
                "c05,gpc,true,2026-02-01 00:00,gpc header,\n"
                "c06,sale_sharing,true,2026-01-01 10:00,banner,v1\n"
                "c07,sale_sharing,true,2026-01-01 10:00,banner,v1\n"
                "c07,gpc,true,2026-02-01 00:00,gpc header,\n"
                "c08,gpc,true,2026-01-01 00:00,gpc header,\n"
                "c08,gpc,false,2026-02-01 00:00,gpc header,\n", "consents")
    def ids(purpose, as_of=None):  # the filter's set itself: one query each (eligible's joins are tested above)
        return set(consented(ws, purpose, as_of=as_of).to_pyarrow().column("_cid").to_pylist())

    evens = {f"c{i:02d}" for i in range(2, N, 2)}
    assert ids("marketing_email") == (evens - {"c02"}) | {"c01"}
    assert ids("marketing_email", as_of=dt.datetime(2026, 2, 15)) == (evens - {"c02", "c04"}) | {"c01"}
    assert ids("marketing_email", as_of=dt.datetime(2025, 12, 31)) == evens
    assert ids("ads") == {f"c{i:02d}" for i in range(N)} - {"c05", "c07"}  # GPC on; c08's was turned off
    assert ids("sale_sharing") == {"c06"}  # no customers column: only records count; c07 opted out by GPC
    assert ids("profiling") == set()


def test_unknown_purpose_is_a_clear_error(duckdb_ws):
    with pytest.raises(BadParameter, match="unknown consent purpose 'newsletter'"):
        eligible(duckdb_ws, duckdb_ws.table("customers"), purpose="newsletter")


def test_score_export_writes_only_people_who_may_be_selected(duckdb_ws, tmp_path):
    """`target score --consent marketing_email --suppress-segment complained` writes exactly the
    eligible ids, streamed from the workspace table in batches smaller than the table."""
    from mercator.target import score_table, train_model

    _setup(duckdb_ws, tmp_path)
    rng = np.random.default_rng(0)
    x = rng.normal(size=600)
    train = pd.DataFrame({"x": x, "y": (x + rng.normal(0, 1, 600) > 0).astype(int)})
    model = train_model(None, train, "y", save_to=tmp_path / "m.model").params["model_path"]
    people = pd.DataFrame({"customer_id": [f"c{i:02d}" for i in range(N)], "x": rng.normal(size=N)})
    src = tmp_path / "people.csv"
    people.to_csv(src, index=False)
    out = tmp_path / "scores.csv"
    res = score_table(model, duckdb_ws, str(src), out, id_col="customer_id", batch_size=7,
                      consent="marketing_email", suppress_segments=["complained"], reasons=False)
    written = pd.read_csv(out)
    assert sorted(written["customer_id"]) == [f"c{i:02d}" for i in range(10, N, 2)]
    assert res.to_frame("summary")["rows"].iloc[0] == N
    assert res.to_frame("left_out").set_index("rule")["rows"].sum() == N - len(written)
