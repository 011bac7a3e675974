"""The workspace: one store for all of a team's marketing data.

``Workspace()`` opens (or creates) an embedded DuckDB file, ``./mercator.duckdb`` unless
``MERCATOR_WORKSPACE`` or the argument says otherwise. ``Workspace("spark://host:7077")``,
``Workspace("spark:local[2]")`` or ``Workspace(spark=session)`` runs the same code on Spark.
Canonical tables are created empty on first open, so every analysis can rely on them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa

from mercator._engines import Engine, engine_for, spark_home
from mercator.config import WorkspaceConfig, default_location
from mercator.errors import WorkspaceError
from mercator.results import Result
from mercator.schema import TABLES, table_spec


@dataclass(frozen=True)
class TablesResult(Result):
    """The canonical tables with their row counts and time ranges."""

    kind = "tables"
    title = "Tables"


@dataclass(frozen=True)
class QueryResult(Result):
    """The rows a SQL query returned."""

    kind = "query"
    title = "Query"


@dataclass(frozen=True)
class DoctorResult(Result):
    """What is installed and whether the workspace opens."""

    kind = "doctor"
    title = "Doctor"


class Workspace:
    """A Mercator store on DuckDB (default) or Spark.

    Args:
        location: ``path/to/file.duckdb`` (or ``duckdb://path``), ``spark://host:port``, or
            ``spark:local[N]``. Default: ``$MERCATOR_WORKSPACE`` or ``./mercator.duckdb``.
        spark: an existing ``SparkSession`` to use instead of a location.
        database: the Spark database holding the tables (Spark only).
        config_path: settings file; default ``<workspace file>.toml`` beside a DuckDB file,
            ``settings.toml`` in the Spark workspace's folder (``$MERCATOR_SPARK_HOME`` or
            ``./mercator-spark``, which also holds its catalog and tables).
        read_only: open a DuckDB file read-only (several readers may share it; the file
            itself may be read-only). The workspace must exist.
        wait: seconds to wait while another process holds the DuckDB file's lock.
        on_wait: called once, with who holds the lock, when the open starts waiting.
        sandbox: with ``read_only``, a connection that cannot read or write files, attach
            databases or install extensions (what ``mercator query`` runs on).
    """

    def __init__(self, location: str | Path | None = None, *, spark=None, database: str = "mercator",
                 config_path: str | Path | None = None, read_only: bool = False, wait: float = 0.0,
                 on_wait: Callable[[str], None] | None = None, sandbox: bool = False) -> None:
        self.location = "spark-session" if spark is not None else str(location or default_location())
        self.engine: Engine = engine_for(self.location, spark_session=spark, read_only=read_only,
                                         database=database, wait=wait, on_wait=on_wait, sandbox=sandbox)
        if config_path is None:
            config_path = (spark_home() / "settings.toml" if self.engine.name == "spark"
                           else f"{self.location.removeprefix('duckdb://')}.toml")
        self.config = WorkspaceConfig.load_or_create(Path(config_path), create=not read_only)
        self._depth, self._after = 0, []
        self.read_only = read_only
        self.audit_deferred = 0  # audit entries this read-only session left for the next writer
        if not read_only:
            self.ensure_tables()
            self._settle()

    # -- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.engine.close()

    def cursor(self) -> Workspace:
        """This DuckDB workspace through another connection to the same open database, for
        another thread (a server's reads while its own load writes); closed on its own."""
        if self.engine.name != "duckdb":
            raise WorkspaceError("only a DuckDB workspace shares its open database this way")
        other = object.__new__(Workspace)
        other.location, other.config = self.location, self.config
        other.engine = self.engine.cursor()  # type: ignore[attr-defined]
        other._depth, other._after = 0, []
        other.read_only, other.audit_deferred = self.read_only, 0
        return other

    def _settle(self) -> None:
        """What a writer finishes when it opens: a key rotation a crash interrupted, and the audit
        entries that readers left waiting (``mercator.govern``); a stat or two when there is none."""
        from mercator.govern._audit import chain_pending, pending_files
        from mercator.govern._keys import settle_rotation

        settle_rotation(self)
        path, claimed = pending_files(self)
        if path.exists() or claimed:
            chain_pending(self)

    def __repr__(self) -> str:
        return f"Workspace({self.location!r}, engine={self.engine.name!r})"

    @property
    def con(self) -> ibis.BaseBackend:
        """The Ibis backend, for expressions that the canonical API does not cover."""
        return self.engine.con

    def ensure_tables(self) -> None:
        """Create every canonical table that does not exist yet (empty, with its schema), and
        add the columns a newer version of the data model declared to the tables that lack
        them (empty in the rows already there). The model only ever grows: a column is never
        dropped or retyped here."""
        have = self.engine.columns(list(TABLES))
        missing = [spec for name, spec in TABLES.items() if name not in have]
        # the schemas are built only for tables that lack a column (building all costs 50 ms an open)
        grown = {name: ibis.schema({c: t for c, t in spec.ibis_schema().items() if c not in have[name]})
                 for name, spec in TABLES.items()
                 if name in have and not {c.name for c in spec.columns} <= set(have[name])}
        if missing or grown:
            with self.transaction():
                for spec in missing:
                    self.engine.create(spec.name, spec.ibis_schema())
                for name, schema in grown.items():
                    self.engine.add_columns(name, schema)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside commit together or not at all; what :meth:`after_commit` was given
        inside runs once the outermost one has committed (and never if it rolls back)."""
        self._depth += 1
        try:
            with self.engine.transaction():
                yield
        except BaseException:
            if self._depth == 1:
                self._after = []
            raise
        finally:
            self._depth -= 1
        if self._depth == 0 and self._after:
            done, self._after = self._after, []
            for fn in done:
                fn()

    def after_commit(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` once the current transaction commits (now, outside of one)."""
        if self._depth:
            self._after.append(fn)
        else:
            fn()

    def replace(self, name: str, rows: ir.Table | pd.DataFrame, on: Sequence[str]) -> None:
        """Replace the rows of ``name`` that share their ``on`` values with ``rows``, in one
        transaction (re-saving an analysis's output never duplicates it)."""
        staged = None
        if isinstance(rows, pd.DataFrame):
            staged = rows = self.engine.stage(pa.Table.from_pandas(rows, preserve_index=False))
        try:
            with self.transaction():
                self.engine.delete_keys(name, rows.select(*on).distinct(), list(on))
                self.engine.insert(name, rows)
        finally:
            if staged is not None:
                self.engine.release(staged)

    # -- reading ---------------------------------------------------------------------------
    def delete(self, name: str, where) -> None:
        """Delete the rows of ``name`` for which ``where(table)`` holds, in one transaction (run in
        the engine: the rows' keys are selected and removed)."""
        spec = table_spec(name)
        t = self.table(name)
        with self.transaction():
            self.engine.delete_keys(name, t.filter(where(t)).select(*spec.key), list(spec.key))

    def table(self, name: str) -> ir.Table:
        """The canonical table ``name`` as an Ibis expression."""
        table_spec(name)  # clear error for unknown names
        return self.engine.table(name)

    def sql(self, query: str) -> ir.Table:
        """An Ibis expression from SQL over the workspace's tables."""
        return self.engine.sql(query)

    def count(self, name: str) -> int:
        return int(self.table(name).count().to_pyarrow().as_py())

    def query(self, query: str, *, limit: int | None = 10_000) -> QueryResult:
        """Run one read-only SELECT and return its rows (at most ``limit``) as a result.

        Anything but a single SELECT (or WITH ... SELECT) statement is refused. On a
        workspace opened with ``sandbox=True`` the query cannot reach files or other
        databases either.
        """
        expr = self.engine.read_only_query(query)
        try:
            df = expr.limit(limit).to_pandas() if limit else expr.to_pandas()
        except Exception as exc:
            raise WorkspaceError(f"the query failed: {exc}") from exc
        return QueryResult(tables={"rows": df}, params={"sql": query, "limit": limit})

    def inventory(self) -> TablesResult:
        """Every canonical table with its row count and the range of its time column, in one
        query (a union of one aggregate per table: on Spark, one job instead of one per table)."""
        parts = []
        for name, spec in TABLES.items():
            t = self.table(name)
            if spec.time_column:
                first, last = t[spec.time_column].min().cast("string"), t[spec.time_column].max().cast("string")
            else:
                first = last = ibis.null("string")
            parts.append(t.aggregate(table=ibis.literal(name), rows=t.count(), first=first, last=last))
        counts = {r["table"]: r for r in ibis.union(*parts).to_pyarrow().to_pylist()}
        rows = [{"table": name, "rows": int(counts[name]["rows"]), "time_column": spec.time_column,
                 "first": counts[name]["first"], "last": counts[name]["last"]} for name, spec in TABLES.items()]
        return TablesResult(tables={"tables": pd.DataFrame(rows)}, params={"workspace": self.location})


def doctor(location: str | None = None, *, wait: float = 0.0) -> DoctorResult:
    """Versions of Mercator and its engines, and whether the workspace opens (and what it holds)."""
    import sys

    import duckdb

    from mercator import __version__
    from mercator.errors import MercatorError
    from mercator.results import Finding

    checks = [("mercator", __version__), ("python", sys.version.split()[0]), ("ibis", ibis.__version__),
              ("duckdb", duckdb.__version__)]
    try:
        import pyspark
        checks.append(("pyspark", pyspark.__version__))
    except ImportError:
        checks.append(("pyspark", "not installed (pip install 'mercator[spark]')"))
    try:
        with Workspace(location, wait=wait) as ws:
            inv = ws.inventory().to_frame()
            finding = Finding(f"workspace {ws.location} on {ws.engine.name}: {int(inv.rows.sum()):,} rows in "
                              f"{int((inv.rows > 0).sum())} non-empty tables; settings in {ws.config.path}.")
    except MercatorError as exc:
        finding = Finding(f"workspace cannot be opened: {exc}", impact=1.0)
    return DoctorResult(tables={"versions": pd.DataFrame(checks, columns=["component", "version"])},
                        findings=(finding,))
