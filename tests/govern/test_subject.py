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
from tests.govern.conftest import mentions as _mentions

#: cust-jane-1 (jane) by hand, table by table
JANE = {"customers": 1, "consents": 2, "identities": 1, "events": 3, "orders": 2, "order_items": 3, "content": 1,
        "segment_members": 1, "decisions": 1, "rewards": 1, "assignments": 1, "quarantine": 1}


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
