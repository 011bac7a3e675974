"""What the governance tests share: a small shop with two customers, every kind of row a
person leaves (tagged personal data, consents, events, orders, a quarantined row, derived rows)."""

from __future__ import annotations

import pandas as pd
import pytest

from mercator.schema import TABLES
from tests.conftest import ingest_text


@pytest.fixture
def shop(duckdb_ws, tmp_path):
    ws = duckdb_ws
    ingest_text(ws, tmp_path, "customer_id,email,phone,consent_marketing_email\n"
                "cust-jane-1,Jane.Doe@Example.com,+44 20 7946 0958,true\ncust-bo-2,bo@example.org,+44 20 7946 0000,true\n",
                "customers")
    ingest_text(ws, tmp_path, "customer_id,purpose,granted,ts\ncust-jane-1,profiling,true,2026-01-01\n"
                "cust-jane-1,profiling,false,2026-02-01\ncust-bo-2,profiling,true,2026-01-01\n", "consents")
    ingest_text(ws, tmp_path, "user_id,customer_id\nuser-jane-9,cust-jane-1\nuser-bo-8,cust-bo-2\n", "identities")
    ingest_text(ws, tmp_path, "event_id,user_id,ts,event_name\ne1,user-jane-9,2026-01-01 10:00,page_view\n"
                "e2,user-jane-9,2026-01-01 10:01,add_to_cart\ne3,user-jane-9,2026-01-02 09:00,purchase\n"
                "e4,user-bo-8,2026-01-01 10:00,page_view\n", "events")
    ingest_text(ws, tmp_path, "order_id,customer_id,ts,revenue\no1,cust-jane-1,2026-01-02,30\no2,cust-jane-1,2026-01-05,20\n"
                "o3,cust-bo-2,2026-01-03,50\no4,cust-jane-1,not a date,10\n", "orders")  # o4 goes to quarantine
    ingest_text(ws, tmp_path, "order_id,line,product_id,quantity\no1,1,p1,1\no1,2,p2,1\no2,1,p1,2\no3,1,p3,1\n",
                "order_items")
    ws.replace("content", pd.DataFrame({"doc_id": ["d1", "d2"], "customer_id": ["cust-jane-1", "cust-bo-2"],
                                        "text": ["love it", "meh"]}), on=["doc_id"])
    ws.replace("segment_members", pd.DataFrame({"segment_set": "s", "customer_id": ["cust-jane-1", "cust-bo-2"],
                                                "segment": "loyal"}), on=["segment_set", "customer_id"])
    ts = pd.Timestamp("2026-01-03")
    ws.replace("decisions", pd.DataFrame({"decision_id": ["x1", "x2"], "ts": ts, "person_id": ["cust-jane-1", "cust-bo-2"],
                                          "policy": "p", "arm": "a"}).astype({"ts": "datetime64[us]"}),
               on=["decision_id"])
    ws.replace("rewards", pd.DataFrame({"decision_id": ["x1", "x2"], "ts": ts, "reward": 1.0})
               .astype({"ts": "datetime64[us]"}), on=["decision_id", "ts"])
    ws.replace("assignments", pd.DataFrame({"experiment_id": "e", "unit_id": ["cust-jane-1", "cust-bo-2"], "variant": "a"}),
               on=["experiment_id", "unit_id"])
    return ws


def mentions(ws, needles) -> dict[str, int]:
    """Rows of every table whose text (any column, as text) holds one of ``needles``."""
    found = {}
    for name in TABLES:
        df = ws.table(name).to_pandas().astype(str)
        hits = df.apply(lambda col: col.map(lambda v: any(n in v for n in needles))).any(axis=1).sum()
        if hits:
            found[name] = int(hits)
    return found


