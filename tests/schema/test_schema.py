from __future__ import annotations

from pathlib import Path

import pytest

from mercator.errors import SchemaError
from mercator.schema import TABLES, Column, TableSpec, data_model_markdown, table_spec

ROOT = Path(__file__).resolve().parents[2]


def test_docs_are_generated_from_the_declarations():
    assert (ROOT / "docs" / "data-model.md").read_text() == data_model_markdown(), \
        "docs/data-model.md is stale: run `make docs`"


def test_every_table_of_the_design_is_declared():
    for name in ("ad_performance", "events", "customers", "identities", "orders", "order_items", "products",
                 "media_spend", "experiments", "assignments", "content", "quarantine"):
        assert name in TABLES


def test_declarations_reject_mistakes():
    with pytest.raises(SchemaError, match="must be required"):
        TableSpec("x", "x", (Column("k", "string", "k"),), key=("k",))
    with pytest.raises(SchemaError, match="is not declared"):
        TableSpec("x", "x", (Column("k", "string", "k", nullable=False),), key=("k", "j"))
    with pytest.raises(SchemaError, match="dtype"):
        Column("k", "text", "k")
    with pytest.raises(SchemaError, match="not a canonical table"):
        table_spec("nope")


def test_workspace_creates_every_table_with_its_schema(ws):
    for name, spec in TABLES.items():
        assert list(ws.table(name).columns) == [*spec.column_names, "_load_id"]
