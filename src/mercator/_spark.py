"""The Spark engine behind a workspace (a ``spark://`` master or local mode), through Ibis's
PySpark backend.

Spark tables are not transactional without Delta Lake, so each canonical table is a view over
a versioned physical table (``orders__v3``): a load computes the new version of every table it
touches, and only at commit repoints the views; a failure before that leaves every view on its
old version, and leftover versions are removed on the next open (``mercator._engines`` has the
engine contract and DuckDB).
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pyarrow as pa

from mercator._engines import Engine, _refuse_query
from mercator._keys import Key, as_key, same_key
from mercator.errors import WorkspaceError


# Spark's builtins, declared once for Ibis and bound by name (native calls, no Python UDFs).
@ibis.udf.scalar.builtin(name="try_to_timestamp")
def _spark_try_to_timestamp(value: str, fmt: str) -> dt.timestamp:  # type: ignore[empty-body]
    ...



@ibis.udf.scalar.builtin(name="to_utc_timestamp")
def _spark_to_utc(value: dt.timestamp, tz: str) -> dt.timestamp:  # type: ignore[empty-body]
    ...



_STRPTIME_TO_JAVA = {
    "%Y": "yyyy", "%y": "yy", "%m": "MM", "%d": "dd", "%H": "HH", "%I": "hh", "%M": "mm", "%S": "ss",
    "%f": "SSSSSS", "%p": "a", "%b": "MMM", "%B": "MMMM", "%a": "EEE", "%A": "EEEE", "%j": "DDD",
    "%z": "Z", "%%": "%",
}


def strptime_to_java(fmt: str) -> str:
    """Translate a C ``strptime`` format (``%d/%m/%Y``) to Spark's pattern (``dd/MM/yyyy``)."""
    out, i = [], 0
    while i < len(fmt):
        tok = fmt[i:i + 2]
        if tok in _STRPTIME_TO_JAVA:
            out.append(_STRPTIME_TO_JAVA[tok])
            i += 2
        elif fmt[i] == "%":
            raise WorkspaceError(f"date format {fmt!r}: {tok!r} has no Spark equivalent")
        else:
            ch = fmt[i]
            out.append(f"'{ch}'" if ch.isalpha() else ch)
            i += 1
    return "".join(out)



_VERSION_RE = re.compile(r"^(?P<base>.+)__v(?P<n>\d+)$")


class SparkEngine(Engine):
    """Apache Spark through Ibis's PySpark backend (a ``spark://`` master or local mode)."""

    name = "spark"

    def __init__(self, session, database: str = "mercator") -> None:
        self.spark = session
        self.database = database
        session.sql(f"CREATE DATABASE IF NOT EXISTS `{database}`")
        session.catalog.setCurrentDatabase(database)
        self.con = ibis.pyspark.connect(session)
        self._pending: dict[str, ir.Table] | None = None
        self._deferred: list[str] = []
        self._collect_garbage()

    @classmethod
    def from_url(cls, url: str, database: str = "mercator") -> SparkEngine:
        try:
            from pyspark.sql import SparkSession
        except ImportError as exc:
            raise WorkspaceError(
                "a Spark workspace needs PySpark: pip install 'mercator[spark]' (and Java 17 on PATH)"
            ) from exc
        master = url.removeprefix("spark:") if url.startswith("spark:local") else url
        if master in ("spark", "spark:"):
            master = "local[*]"
        home = spark_home()
        home.mkdir(parents=True, exist_ok=True)
        builder = SparkSession.builder
        if master.startswith("local"):  # a local session talks to itself only
            builder = builder.config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
        # A persistent catalog: Hive's metastore (embedded Derby) and the warehouse in the
        # workspace's folder, so the tables and views one command writes are there for the next.
        # On a cluster the folder must be on storage every executor reaches (MERCATOR_SPARK_HOME).
        session = (
            builder.master(master).appName("mercator")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.warehouse.dir", str(home / "warehouse"))
            .config("spark.hadoop.javax.jdo.option.ConnectionURL",
                    f"jdbc:derby:;databaseName={home / 'metastore_db'};create=true")
            .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={home}")
            .config("spark.ui.showConsoleProgress", "false")
            .enableHiveSupport()
            .getOrCreate()
        )
        session.sparkContext.setLogLevel("ERROR")
        return cls(session, database)

    def _use(self) -> None:
        self.spark.catalog.setCurrentDatabase(self.database)

    def _view_target(self, name: str) -> str | None:
        if not self.spark.catalog.tableExists(f"{self.database}.{name}"):
            return None
        try:
            rows = self.spark.sql(f"SHOW CREATE TABLE `{self.database}`.`{name}`").collect()
        except Exception:  # noqa: BLE001 - any failure to describe it means "not a view we made"
            return None
        m = re.search(r"FROM\s+`?[\w]+`?\.`?(\w+__v\d+)`?", rows[0][0]) if rows else None
        return m.group(1) if m else None

    def _collect_garbage(self) -> None:
        """Drop physical versions no view points to (left by a process that died between writing
        a version and pointing its view). Only the tables that have versions are asked for their
        view's target: each question is a metastore round trip, and an empty table has none."""
        versions: dict[str, list[str]] = {}
        for t in self.spark.catalog.listTables(self.database):
            if (m := _VERSION_RE.match(t.name)) and not t.isTemporary:
                versions.setdefault(m["base"], []).append(t.name)
        for base, physical in versions.items():
            live = self._view_target(base)
            for name in physical:
                if name != live:
                    self._drop(name)

    def _drop(self, physical: str) -> None:
        self.spark.sql(f"DROP TABLE IF EXISTS `{self.database}`.`{physical}`")

    def exists(self, name: str) -> bool:
        self._use()
        return any(t.name == name for t in self.spark.catalog.listTables(self.database))

    def table(self, name: str) -> ir.Table:
        self._use()
        if self._pending is not None and name in self._pending:
            return self._pending[name]
        return self.con.table(name, database=self.database)

    def stage(self, arrow: pa.Table) -> ir.Table:
        self._use()
        name = f"_stage_{uuid.uuid4().hex[:12]}"
        self.spark.createDataFrame(arrow).createOrReplaceTempView(name)
        return self.con.table(name)

    def materialize(self, expr: ir.Table) -> ir.Table:
        self._use()
        name = f"_tmp_{uuid.uuid4().hex[:12]}"
        df = self.spark.sql(self.con.compile(expr)).cache()
        df.count()
        df.createOrReplaceTempView(name)
        return self.con.table(name)

    def compiled(self, expr: ir.Table) -> ir.Table:
        self._use()
        name = f"_view_{uuid.uuid4().hex[:12]}"
        self.spark.sql(self.con.compile(expr)).createOrReplaceTempView(name)
        return self.con.table(name)

    def release(self, table: ir.Table) -> None:
        if self._pending is not None:  # pending versions may still read it: drop after commit
            self._deferred.append(table.get_name())
            return
        with contextlib.suppress(Exception):
            self.spark.catalog.dropTempView(table.get_name())

    def _write_version(self, name: str, expr: ir.Table | None, schema: ibis.Schema | None = None
                       ) -> tuple[str, str | None]:
        """Write the next physical version of ``name``; return it and the version in use."""
        current = self._view_target(name)
        n = int(_VERSION_RE.match(current)["n"]) + 1 if current else 1
        physical = f"{name}__v{n}"
        if expr is not None:
            self.spark.sql(self.con.compile(expr)).write.saveAsTable(
                f"`{self.database}`.`{physical}`", format="parquet", mode="overwrite")
        else:
            self.con.create_table(physical, schema=schema, database=self.database)
        return physical, current

    def _point(self, name: str, physical: str, old: str | None) -> None:
        self.spark.sql(f"CREATE OR REPLACE VIEW `{self.database}`.`{name}` AS "
                       f"SELECT * FROM `{self.database}`.`{physical}`")
        if old:
            self._drop(old)

    def create(self, name: str, schema: ibis.Schema) -> None:
        """An empty table: a view of no rows with the schema's types, and no physical version
        until the first write (one catalog statement instead of a table and a view: a workspace
        opens with some thirty empty tables, and each catalog change costs Spark's metastore a
        round trip)."""
        from ibis.backends.sql.datatypes import PySparkType

        self._use()
        cols = ", ".join(f"CAST(NULL AS {PySparkType.to_string(t)}) AS `{c}`" for c, t in schema.items())
        self.spark.sql(f"CREATE OR REPLACE VIEW `{self.database}`.`{name}` AS SELECT {cols} WHERE 1 = 0")

    def columns(self, names: Sequence[str]) -> dict[str, list[str]]:
        self._use()
        present = {t.name for t in self.spark.catalog.listTables(self.database)}
        return {n: list(self.table(n).columns) for n in names if n in present}

    def add_columns(self, name: str, schema: ibis.Schema) -> None:
        self._require_txn()
        self._pending[name] = self.table(name).mutate(**{c: ibis.null(t) for c, t in schema.items()})

    def delete_keys(self, name: str, keys: ir.Table, key: Key | Sequence[str]) -> None:
        self._require_txn()
        key = as_key(key)
        current, keys = self.table(name), keys.select(*key.columns)
        self._pending[name] = current.anti_join(keys, same_key(current, keys, key))

    def insert(self, name: str, rows: ir.Table) -> None:
        self._require_txn()
        current = self.table(name)
        schema = current.schema()
        # like SQL's INSERT with a column list: target columns the rows lack are null
        rows = rows.mutate(**{c: ibis.null(schema[c]) for c in current.columns if c not in rows.columns})
        self._pending[name] = current.union(rows.select(*current.columns).cast(schema))

    def _require_txn(self) -> None:
        if self._pending is None:
            raise WorkspaceError("Spark writes must run inside Workspace.transaction()")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        if self._pending is not None:
            yield
            return
        self._pending = {}
        staged: list[tuple[str, str, str | None]] = []
        try:
            yield
            pending, self._pending = self._pending, None
            # Compute every new version first; repoint the views only when all succeeded.
            for name, expr in pending.items():
                staged.append((name, *self._write_version(name, expr)))
            while staged:
                self._point(*staged[0])
                staged.pop(0)
        finally:
            self._pending = None
            for name in self._deferred:
                with contextlib.suppress(Exception):
                    self.spark.catalog.dropTempView(name)
            self._deferred = []
            for _name, physical, _old in staged:  # written, never pointed to: the load failed
                with contextlib.suppress(Exception):
                    self._drop(physical)

    def read_only_query(self, query: str) -> ir.Table:
        import sqlglot
        import sqlglot.expressions as exp

        try:
            statements = [st for st in sqlglot.parse(query, read="spark") if st is not None]
        except sqlglot.errors.ParseError as exc:
            raise WorkspaceError(f"the query does not parse: {exc}") from exc
        if len(statements) != 1:
            raise _refuse_query(query, f"it holds {len(statements)} statements")
        if not isinstance(statements[0], exp.Query):
            raise _refuse_query(query, f"it is a {type(statements[0]).__name__} statement, not a SELECT")
        self.spark.conf.set("spark.sql.runSQLOnFiles", "false")  # no `SELECT * FROM csv.`/path``
        self._use()
        return self.con.sql(query)

    def parse_timestamp(self, value: ir.StringValue, fmt: str) -> ir.TimestampValue:
        return _spark_try_to_timestamp(value, strptime_to_java(fmt))

    def local_to_utc(self, value: ir.TimestampValue, tz: str) -> ir.TimestampValue:
        return _spark_to_utc(value, tz)

    def close(self) -> None:  # the session is shared; never stop it here
        pass


def spark_home() -> Path:
    """The folder of a Spark workspace's catalog and tables: ``$MERCATOR_SPARK_HOME`` or
    ``./mercator-spark``."""
    import os

    return Path(os.environ.get("MERCATOR_SPARK_HOME") or "mercator-spark").resolve()
