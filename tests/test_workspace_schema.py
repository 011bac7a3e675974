"""A workspace made by an older version of the data model grows to the current one when it is
opened for writing: missing tables are created, missing columns added empty, rows kept."""

from __future__ import annotations

import duckdb
import ibis
import pytest

from mercator import Workspace
from mercator.schema import TABLES
from tests.conftest import ingest_text


def test_an_older_workspace_gets_the_new_tables_and_columns(tmp_path):
    path = str(tmp_path / "old.duckdb")
    ws = Workspace(path)
    ingest_text(ws, tmp_path, "product_id,name,price\np1,Tea,2.5\n", "products")
    ws.close()
    with duckdb.connect(path) as con:  # as a version before offers and stock wrote it
        con.execute('DROP TABLE "offers"')
        con.execute('ALTER TABLE "products" DROP COLUMN "stock"')
    reader = Workspace(path, read_only=True)  # a reader changes nothing
    assert "stock" not in reader.table("products").columns
    reader.close()
    ws = Workspace(path)
    assert set(ws.table("products").columns) == set(TABLES["products"].ibis_schema().names)  # order aside
    assert ws.count("offers") == 0
    row = ws.table("products").to_pandas().iloc[0]
    assert (row.product_id, row.price) == ("p1", 2.5) and row.isna()["stock"]
    ws.close()


def test_columns_are_added_empty_on_each_engine(ws, tmp_path):
    ingest_text(ws, tmp_path, "product_id,name,price\np1,Tea,2.5\np2,Cake,4\n", "products")
    with ws.transaction():
        ws.engine.add_columns("products", ibis.schema({"colour": "string", "weight": "float64"}))
    got = ws.table("products").order_by("product_id").to_pandas()
    assert list(got.columns[-2:]) == ["colour", "weight"]
    assert list(got.product_id) == ["p1", "p2"] and got[["colour", "weight"]].isna().all().all()
    assert ws.engine.columns(["products", "nope"]).keys() == {"products"}


@pytest.mark.spark
def test_a_failed_spark_commit_leaves_every_table_as_it_was(spark_session, tmp_path):
    """Spark writes each table's next version, then points the views: a write that fails part
    way drops the versions already written, and a version left by a process that died before
    pointing its view is dropped at the next open."""
    import uuid

    import pyarrow as pa

    db = f"t_{uuid.uuid4().hex[:8]}"
    ws = Workspace(spark=spark_session, database=db, config_path=tmp_path / "ws.toml")
    ingest_text(ws, tmp_path, "product_id,name,price\np1,Tea,2.5\n", "products")

    def physical() -> set[str]:
        return {t.name for t in spark_session.catalog.listTables(db) if "__v" in t.name}

    before = physical()
    failing = ws.engine.stage(pa.table({"n": ["x"]})).select(offer_id=ibis.literal("abc").cast("int64").cast("string"))
    with pytest.raises(Exception, match="CAST_INVALID_INPUT|abc"), ws.transaction():
        ws.engine.insert("products", ws.engine.stage(pa.table({"product_id": ["p2"], "name": ["Jam"]})))
        ws.engine.insert("offers", failing)  # written after products: fails at run time (ANSI casts)
    assert physical() == before and ws.count("products") == 1 and ws.count("offers") == 0
    spark_session.sql(f"CREATE TABLE `{db}`.`products__v9` USING parquet AS SELECT * FROM `{db}`.`products`")
    Workspace(spark=spark_session, database=db, config_path=tmp_path / "ws.toml")
    assert physical() == before and ws.count("products") == 1
