"""The two engines behind a workspace: embedded DuckDB and Apache Spark.

Everything that reads or transforms data is an Ibis expression and runs unchanged on both.
What differs is small and lives here: how a load's writes are made atomic, how an Arrow
table is staged, and the few functions whose names differ between the two SQL dialects
(parsing a date with a format, converting a local time to UTC).

Atomicity:
- DuckDB has real transactions (DDL included): a load runs between BEGIN and COMMIT on the
  one connection Ibis uses, so a failure, or a kill of the process, leaves the file as it
  was (DuckDB's write-ahead log is rolled back on the next open).
- Spark tables are not transactional without Delta Lake. Each canonical table is a view
  over a versioned physical table (``orders__v3``). A load computes the new version of
  every table it touches, and only at commit repoints the views; a failure before that
  leaves every view on its old version. Leftover versions are removed on the next open.
"""

from __future__ import annotations

import contextlib
import re
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pyarrow as pa

from mercator._keys import Key, as_key, same_key
from mercator.errors import WorkspaceBusyError, WorkspaceError, WorkspaceNotFound


# Dialect-specific builtins, declared once for Ibis. They are bound to the engine's own SQL
# functions by name, so they compile to native calls (no Python UDFs).
@ibis.udf.scalar.builtin(name="try_strptime")
def _duckdb_try_strptime(value: str, fmt: str) -> dt.timestamp:  # type: ignore[empty-body]
    ...


@ibis.udf.scalar.builtin(name="try_to_timestamp")
def _spark_try_to_timestamp(value: str, fmt: str) -> dt.timestamp:  # type: ignore[empty-body]
    ...


@ibis.udf.scalar.builtin(name="timezone")
def _duckdb_timezone(tz: str, value: dt.timestamp) -> dt.timestamp:  # type: ignore[empty-body]
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


class Engine:
    """What a workspace needs from an engine. Subclasses implement the differences."""

    name: str
    con: ibis.BaseBackend

    # -- reading -------------------------------------------------------------------------
    def table(self, name: str) -> ir.Table:
        return self.con.table(name)

    def exists(self, name: str) -> bool:
        return name in self.con.list_tables()

    def stage(self, arrow: pa.Table) -> ir.Table:
        """Make an Arrow table readable by the engine for the length of a load."""
        raise NotImplementedError

    def materialize(self, expr: ir.Table) -> ir.Table:
        """Compute ``expr`` once into a temporary table, so later steps do not recompute it."""
        raise NotImplementedError

    def release(self, table: ir.Table) -> None:
        """Drop a staged or materialized temporary table."""

    def compiled(self, expr: ir.Table) -> ir.Table:
        """``expr`` compiled to SQL once, as a temporary view that later expressions name
        instead of compiling ``expr`` again (computed on each read, never stored; released like
        a staged table). For a wide expression read more than once: a load's typed rows, where
        compiling through Ibis and sqlglot took most of a small load's time (0.5 s of 1.2 s for a
        small ad export; DuckDB runs the query in milliseconds)."""
        raise NotImplementedError

    # -- writing (inside ``transaction``) ---------------------------------------------------
    def create(self, name: str, schema: ibis.Schema) -> None:
        raise NotImplementedError

    def columns(self, names: Sequence[str]) -> dict[str, list[str]]:
        """The columns of each existing table of ``names``."""
        return {n: list(self.table(n).columns) for n in names if self.exists(n)}

    def add_columns(self, name: str, schema: ibis.Schema) -> None:
        """Add the columns of ``schema`` to table ``name``, empty in every row (inside a transaction)."""
        raise NotImplementedError

    def delete_keys(self, name: str, keys: ir.Table, key: Key | Sequence[str]) -> None:
        """Delete the rows of ``name`` whose key is in ``keys``."""
        raise NotImplementedError

    def insert(self, name: str, rows: ir.Table) -> None:
        raise NotImplementedError

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        raise NotImplementedError
        yield  # pragma: no cover

    # -- dialect ---------------------------------------------------------------------------
    def parse_timestamp(self, value: ir.StringValue, fmt: str) -> ir.TimestampValue:
        """Parse ``value`` with a strptime format; null where it does not parse."""
        raise NotImplementedError

    def local_to_utc(self, value: ir.TimestampValue, tz: str) -> ir.TimestampValue:
        """Read a naive local time in zone ``tz`` and return the naive UTC time."""
        raise NotImplementedError

    def sql(self, query: str) -> ir.Table:
        return self.con.sql(query)

    def read_only_query(self, query: str) -> ir.Table:
        """``query`` as an expression if it is exactly one SELECT (or WITH ... SELECT)
        statement; a clear error otherwise."""
        raise NotImplementedError

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.con.disconnect()


_SELECT_START = re.compile(r"^\s*(\(\s*)*(select|with|from|values)\b", re.IGNORECASE)


def _refuse_query(query: str, why: str) -> WorkspaceError:
    return WorkspaceError(f"refused: {why}. `mercator query` runs exactly one read-only SELECT (or WITH ... "
                          f"SELECT) over the workspace's tables; got {query.strip()[:80]!r}")


_DUCKDB_MAGIC = b"DUCK"  # bytes 8-11 of every DuckDB database file


def check_duckdb_path(path: str, *, must_exist: bool) -> None:
    """Refuse a workspace path that cannot be a DuckDB database, before DuckDB touches it."""
    if path == ":memory:":
        return
    p = Path(path)
    if p.is_dir():
        raise WorkspaceError(f"{path} is a folder; a workspace is a DuckDB file, e.g. {p / 'mercator.duckdb'}")
    if p.exists():
        with p.open("rb") as f:
            head = f.read(12)
        if head[8:12] != _DUCKDB_MAGIC:
            what = "an empty file" if not head else f"a file of {p.stat().st_size:,} bytes starting {head[:8]!r}"
            raise WorkspaceError(f"{path} is not a DuckDB database ({what}). Expected a workspace file made by "
                                 "`mercator init` (or a path that does not exist yet); is this a data file given "
                                 "as --workspace instead of as a file to ingest?")
    elif must_exist:
        raise WorkspaceNotFound(f"the workspace {path} does not exist. Create it with `mercator init -w {path}` (or "
                             "load a file into it with `mercator ingest`).")
    elif not p.parent.exists():
        raise WorkspaceError(f"cannot create the workspace {path}: the folder {p.parent} does not exist.")


def lock_holder(message: str) -> str | None:
    """Who holds a DuckDB file's lock, from DuckDB's error message: the process id and its
    command line where this machine can tell; None when the error is not about a lock."""
    if "lock" not in message.lower():
        return None
    m = re.search(r"held in (.+?) \(PID (\d+)\)", message)
    if not m:
        return "another process"
    pid = m.group(2)
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        cmd = m.group(1)
    return f"process {pid} ({cmd[:120]})"


class DuckDBEngine(Engine):
    """Embedded DuckDB: one file, nothing to start."""

    name = "duckdb"

    def __init__(self, path: str, *, read_only: bool = False, wait: float = 0.0,
                 on_wait: Callable[[str], None] | None = None, sandbox: bool = False) -> None:
        check_duckdb_path(path, must_exist=read_only)
        deadline, told = time.monotonic() + wait, False
        while True:
            try:
                self.con = ibis.duckdb.connect(path, read_only=read_only)
                break
            except Exception as exc:  # duckdb raises IOException for locks, corrupt files...
                holder = lock_holder(str(exc))
                if holder is None:
                    raise WorkspaceError(f"cannot open the DuckDB workspace {path!r}: {exc}") from exc
                if time.monotonic() >= deadline:
                    raise WorkspaceBusyError(
                        f"the workspace {path!r} is in use by {holder}"
                        + (f" and stayed so for {wait:g} s" if wait else "")
                        + ". Wait for it to finish or close it (a notebook, a running `mercator` command); "
                          "--wait SECONDS waits longer.") from exc
                if on_wait is not None and not told:
                    on_wait(holder)
                    told = True
                time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
        if sandbox:
            if not read_only:
                raise WorkspaceError("a sandboxed DuckDB workspace must be opened read-only")
            # No file access (read_csv, read_text, COPY, ATTACH), no extension installs or loads,
            # and no way back: the configuration is locked for the connection's life.
            for setting in ("enable_external_access = false", "autoinstall_known_extensions = false",
                            "autoload_known_extensions = false", "lock_configuration = true"):
                self.con.raw_sql(f"SET {setting}")
        self._in_txn = False

    def cursor(self) -> DuckDBEngine:
        """Another connection to this open database, for another thread: it sees what is
        committed (DuckDB's MVCC), so it reads while this one writes inside a transaction."""
        other = object.__new__(DuckDBEngine)
        other.con = ibis.duckdb.from_connection(self.con.con.cursor())
        other._in_txn = False
        return other

    def interrupt(self) -> None:
        """Stop the statement running on this connection (from another thread)."""
        self.con.con.interrupt()

    def read_only_query(self, query: str) -> ir.Table:
        try:
            statements = self.con.con.extract_statements(query)
        except Exception as exc:  # duckdb's parser error names the position
            raise WorkspaceError(f"the query does not parse: {exc}") from exc
        if len(statements) != 1:
            raise _refuse_query(query, f"it holds {len(statements)} statements")
        kind = str(statements[0].type).rsplit(".", 1)[-1]
        if kind != "SELECT" or not _SELECT_START.match(query):
            raise _refuse_query(query, f"it is a {kind} statement, not a SELECT")
        try:
            return self.con.sql(query)
        except Exception as exc:  # binding runs the table functions' checks: file access is refused here
            if "disabled by configuration" in str(exc):
                raise _refuse_query(query, "it reads files outside the workspace") from exc
            raise WorkspaceError(f"the query failed: {exc}") from exc

    def stage(self, arrow: pa.Table) -> ir.Table:
        name = f"_stage_{uuid.uuid4().hex[:12]}"
        self.con.con.register(name, arrow)
        return self.con.table(name)

    def materialize(self, expr: ir.Table) -> ir.Table:
        name = f"_tmp_{uuid.uuid4().hex[:12]}"
        self.con.raw_sql(f'CREATE TEMP TABLE "{name}" AS {self.con.compile(expr)}')
        return self.con.table(name)

    def compiled(self, expr: ir.Table) -> ir.Table:
        name = f"_view_{uuid.uuid4().hex[:12]}"
        self.con.raw_sql(f'CREATE TEMP VIEW "{name}" AS {self.con.compile(expr)}')
        return self.con.table(name)

    def release(self, table: ir.Table) -> None:
        name = table.get_name()
        with contextlib.suppress(Exception):
            if name.startswith("_stage_"):
                self.con.con.unregister(name)
            elif name.startswith("_view_"):
                self.con.raw_sql(f'DROP VIEW IF EXISTS "{name}"')
            else:
                self.con.raw_sql(f'DROP TABLE IF EXISTS "{name}"')

    def create(self, name: str, schema: ibis.Schema) -> None:
        # the DDL written here: Ibis's create_table builds it through sqlglot, 17 ms a table, and
        # a new workspace creates every table of the model (0.55 s of a 0.65 s open)
        from ibis.backends.sql.datatypes import DuckDBType

        cols = ", ".join(f'"{c}" {DuckDBType.to_string(t)}{"" if t.nullable else " NOT NULL"}'
                         for c, t in schema.items())
        self.con.raw_sql(f'CREATE TABLE "{name}" ({cols})')

    def columns(self, names: Sequence[str]) -> dict[str, list[str]]:
        rows = self.con.raw_sql("SELECT table_name, column_name FROM duckdb_columns() WHERE database_name = "
                                "current_database() AND schema_name = current_schema() ORDER BY column_index"
                                ).fetchall()
        found: dict[str, list[str]] = {}
        for table, column in rows:
            found.setdefault(table, []).append(column)
        return {n: found[n] for n in names if n in found}

    def add_columns(self, name: str, schema: ibis.Schema) -> None:
        from ibis.backends.sql.datatypes import DuckDBType

        for column, dtype in schema.items():
            self.con.raw_sql(f'ALTER TABLE "{name}" ADD COLUMN "{column}" {DuckDBType.to_string(dtype)}')

    def delete_keys(self, name: str, keys: ir.Table, key: Key | Sequence[str]) -> None:
        key = as_key(key)
        self.con.raw_sql(f'DELETE FROM "{name}" AS t USING ({self.con.compile(keys.select(*key.columns))}) AS d '
                         f'WHERE {key.sql("t", "d")}')

    def insert(self, name: str, rows: ir.Table) -> None:
        cols = ", ".join(f'"{c}"' for c in rows.columns)
        self.con.raw_sql(f'INSERT INTO "{name}" ({cols}) {self.con.compile(rows)}')

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        if self._in_txn:  # nested: the outer transaction decides
            yield
            return
        self.con.raw_sql("BEGIN TRANSACTION")
        self._in_txn = True
        try:
            yield
        except BaseException:
            self.con.raw_sql("ROLLBACK")
            raise
        else:
            self.con.raw_sql("COMMIT")
        finally:
            self._in_txn = False

    def parse_timestamp(self, value: ir.StringValue, fmt: str) -> ir.TimestampValue:
        return _duckdb_try_strptime(value, fmt)

    def local_to_utc(self, value: ir.TimestampValue, tz: str) -> ir.TimestampValue:
        # timezone(tz, naive) reads the naive time as local to tz (giving an instant);
        # timezone('UTC', instant) renders that instant as naive UTC.
        return _duckdb_timezone("UTC", _duckdb_timezone(tz, value).cast("timestamp('UTC')")).cast("timestamp")


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


def engine_for(location: str, *, spark_session=None, read_only: bool = False, database: str = "mercator",
               wait: float = 0.0, on_wait: Callable[[str], None] | None = None, sandbox: bool = False) -> Engine:
    """Pick the engine for a workspace location."""
    if spark_session is not None:
        return SparkEngine(spark_session, database)
    if location.startswith("spark:"):
        return SparkEngine.from_url(location, database)
    path = location.removeprefix("duckdb://")
    return DuckDBEngine(path, read_only=read_only, wait=wait, on_wait=on_wait, sandbox=sandbox)


__all__ = ["DuckDBEngine", "Engine", "Key", "SparkEngine", "as_key", "engine_for", "same_key", "strptime_to_java"]
