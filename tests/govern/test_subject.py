"""Subject rights (issue 23, item 4): a request by e-mail, phone or id finds every row held about
the person across the tables, derived ones included; the export's counts equal the counts by
hand; erasure leaves no row that refers to the person or their pseudonyms anywhere, keeps the
orders for the books with the customer cleared, leaves the other customer untouched, lists the
models to retrain and records the request without the person's pseudonym."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from mercator.errors import NotFoundError
from mercator.govern import audit_trail, dsar_erase, dsar_export
from mercator.ingest import pseudonymize
from mercator.interfaces.cli import app
from mercator.schema import TABLES
from tests.conftest import ingest_text

#: cust-jane-1 (jane) by hand, table by table
JANE = {"customers": 1, "consents": 2, "identities": 1, "events": 3, "orders": 2, "order_items": 3, "content": 1,
        "segment_members": 1, "decisions": 1, "rewards": 1, "assignments": 1, "quarantine": 1}


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


def _mentions(ws, needles) -> dict[str, int]:
    """Rows of every table whose text (any column, as text) holds one of ``needles``."""
    found = {}
    for name in TABLES:
        df = ws.table(name).to_pandas().astype(str)
        hits = df.apply(lambda col: col.map(lambda v: any(n in v for n in needles))).any(axis=1).sum()
        if hits:
            found[name] = int(hits)
    return found


@pytest.mark.parametrize("identifier", [" jane.doe@example.COM", "+44 (20) 7946-0958", "cust-jane-1"])
def test_export_finds_every_row_by_email_phone_or_id(shop, identifier, tmp_path):
    res = dsar_export(shop, identifier, tmp_path / "out")
    counts = res.to_frame("tables").set_index("table").rows
    assert {t: n for t, n in counts.items() if n} == JANE
    folder = tmp_path / "out" / f"dsar-{res.params['request_id']}"
    doc = json.loads((folder / "subject.json").read_text())
    assert {t: len(rows) for t, rows in doc.items()} == JANE
    assert len(pd.read_csv(folder / "orders.csv")) == 2


def test_erase_leaves_nothing_that_refers_to_the_person(shop):
    key = shop.config.pseudonymization_key.reveal()
    pseudonyms = [pseudonymize("jane.doe@example.com", "email", key), pseudonymize("+44 20 7946 0958", "phone", key)]
    needles = ["cust-jane-1", "user-jane-9", *pseudonyms, *(p[:16] for p in pseudonyms)]
    assert _mentions(shop, needles)  # before: everywhere
    orders, lines = shop.count("orders"), shop.count("order_items")
    res = dsar_erase(shop, "Jane.Doe@example.com")
    assert res.params["rows"] == sum(JANE.values()) - JANE["order_items"]  # the lines stay with their orders
    left = _mentions(shop, needles)
    assert left == {}, left
    assert shop.count("orders") == orders and shop.count("order_items") == lines  # the books
    assert set(shop.table("customers").to_pandas().customer_id) == {"cust-bo-2"}
    assert shop.count("events") == 1 and shop.count("rewards") == 1
    entry = audit_trail(shop, action="govern.dsar").to_frame("entries").iloc[0]
    assert entry.subject == res.params["request_id"] and not any(n in entry.detail for n in needles)
    with pytest.raises(NotFoundError, match="nothing is held"):
        dsar_export(shop, "jane.doe@example.com")


def test_cli_dsar_export_and_erase(shop, tmp_path):
    path = shop.location.removeprefix("duckdb://")
    shop.close()
    runner = CliRunner()
    out = runner.invoke(app, ["govern", "dsar", "export", "cust-bo-2", "--output", str(tmp_path / "b"), "--json",
                              "--workspace", path])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["params"]["rows"] == 11
    gone = runner.invoke(app, ["govern", "dsar", "erase", "cust-bo-2", "--json", "--workspace", path])
    assert gone.exit_code == 0, gone.output
    again = runner.invoke(app, ["govern", "dsar", "export", "cust-bo-2", "--workspace", path])
    assert again.exit_code == 2 and "nothing is held" in again.stderr
