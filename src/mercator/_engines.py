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

This module holds the contract (``Engine``) and DuckDB; Spark is in ``mercator._spark``, imported
only when a Spark workspace is opened.
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


@ibis.udf.scalar.builtin(name="timezone")
def _duckdb_timezone(tz: str, value: dt.timestamp) -> dt.timestamp:  # type: ignore[empty-body]
    ...


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


def spark_home() -> Path:
    """The folder of a Spark workspace's catalog and tables (``mercator._spark``)."""
    from mercator._spark import spark_home as home

    return home()


def engine_for(location: str, *, spark_session=None, read_only: bool = False, database: str = "mercator",
               wait: float = 0.0, on_wait: Callable[[str], None] | None = None, sandbox: bool = False) -> Engine:
    """Pick the engine for a workspace location."""
    if spark_session is not None or location.startswith("spark:"):
        from mercator._spark import SparkEngine

        return SparkEngine(spark_session, database) if spark_session is not None else \
            SparkEngine.from_url(location, database)
    path = location.removeprefix("duckdb://")
    return DuckDBEngine(path, read_only=read_only, wait=wait, on_wait=on_wait, sandbox=sandbox)


__all__ = ["DuckDBEngine", "Engine", "Key", "as_key", "engine_for", "same_key", "spark_home"]
