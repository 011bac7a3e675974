"""Analysis inputs that are not canonical tables: a user's file (CSV or Parquet), a DataFrame,
or a workspace table, read as pandas (``read_table``: target, attribution path tables, the
media-mix model) or left in the engine as an Ibis table (``engine_table``: experiments and
forecasts aggregate millions of rows there, and DuckDB reads Parquet globs in place); and the
check that names the file, row and column of a cell that is not a number. Canonical tables go
through ingest instead (validation, quarantine, dedupe).
"""

from __future__ import annotations

import contextlib
import csv
import glob
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from mercator.errors import BadParameter, MercatorError, NotFoundError


def sniff_delimiter(sample: str) -> str:
    """The delimiter of a text sample; ``whitespace`` for space-aligned columns."""
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        first = sample.lstrip("\r\n").splitlines()[0] if sample.strip() else ""
        return "whitespace" if len(first.split()) > 1 else ","


def source_name(source) -> str:
    """How errors name ``source``."""
    return "the data frame" if isinstance(source, pd.DataFrame) else str(source)


#: False while a request to ``mercator serve`` runs: a request names workspace tables, never files
#: on the server's machine (files reach a served workspace through a load, inside its ingest folder).
FILES_ALLOWED: ContextVar[bool] = ContextVar("mercator_files_allowed", default=True)
FILE_SUFFIXES = (".csv", ".txt", ".tsv", ".parquet")


@contextlib.contextmanager
def tables_only() -> Iterator[None]:
    """Within: a source that names a file is refused (what the API's requests run under)."""
    token = FILES_ALLOWED.set(False)
    try:
        yield
    finally:
        FILES_ALLOWED.reset(token)


def file_source(source, *, pattern: bool = False) -> Path | None:
    """The file ``source`` names, or None when it names a workspace table: a name with a file's
    suffix, or one that is a file here (with ``pattern``, a glob that matches some). A file that
    is not there is a ``NotFoundError``; any file within :func:`tables_only`, a ``BadParameter``."""
    text = str(source)
    path = Path(text)
    if not text or not (path.suffix.lower() in FILE_SUFFIXES or path.is_file()):
        return None
    if not FILES_ALLOWED.get():
        raise BadParameter(f"{text!r}: a request names a workspace table, not a file on the server's machine "
                           "(load files first: POST /v1/ingest)")
    if not (glob.glob(text) if pattern else path.exists()):
        raise NotFoundError(f"{text}: no such file")
    return path


def read_table(ws, source: str | Path | pd.DataFrame, *, text_na: bool = False) -> pd.DataFrame:
    """A file (CSV with its delimiter sniffed, or Parquet), a DataFrame, or a workspace table.

    ``text_na``: only blank CSV cells are missing; "n/a", "NULL" or "-" stay text, so that an
    error can quote them (pandas would silently turn them into NaN)."""
    if isinstance(source, pd.DataFrame):
        return source
    path = file_source(source)
    if path is not None:
        if path.suffix.lower() == ".parquet":
            return pd.read_parquet(path)
        with path.open(newline="", encoding="utf-8", errors="replace") as f:
            sep = sniff_delimiter(f.read(64_000))
        na = {"keep_default_na": False, "na_values": [""]} if text_na else {}
        return pd.read_csv(path, sep=r"\s+" if sep == "whitespace" else sep, **na)
    if ws is None:
        raise MercatorError(f"{source!r} is not a file, and there is no workspace to read a table from")
    return ws.table(str(source)).to_pandas()


def engine_table(source, ws=None) -> tuple[ir.Table, str]:
    """``source`` as an Ibis table, and how errors name it: an Ibis table as it is, a DataFrame
    as a memtable, a CSV or Parquet file (or glob) read by an in-memory DuckDB, or a workspace
    table."""
    if isinstance(source, ir.Table):
        return source, "the table"
    if isinstance(source, pd.DataFrame):
        return ibis.memtable(source), "the data frame"
    path = str(source)
    suffix = Path(path).suffix.lower()
    if file_source(path, pattern=True) is not None:
        con = ibis.duckdb.connect()
        return (con.read_parquet(path) if suffix == ".parquet" else con.read_csv(path)), path
    if ws is None:
        raise MercatorError(f"{path!r} is not a file, and there is no workspace to read a table from")
    return ws.table(path), path


def batches(source, ws=None, *, columns: list[str] | None = None, batch_size: int = 100_000
            ) -> tuple[Iterator[pd.DataFrame], int | None]:
    """``source`` (a CSV or Parquet file, a DataFrame or a workspace table) as pandas frames of
    at most ``batch_size`` rows (only ``columns``, if given), and the number of rows (None where
    it cannot be told ahead).

    A workspace table streams from the engine as Arrow record batches and a Parquet file from
    its row groups, so a table larger than memory can be scored; a CSV is read in chunks the
    way :func:`read_table` reads it whole, so its columns get the same types."""
    if isinstance(source, pd.DataFrame):
        frame = source[columns] if columns else source
        return (frame.iloc[i:i + batch_size] for i in range(0, len(frame), batch_size)), len(frame)
    path = file_source(source)
    if path is not None:
        if path.suffix.lower() == ".parquet":
            import pyarrow.dataset as pads

            data = pads.dataset(path)
            scan = data.to_batches(columns=columns, batch_size=batch_size)
            return (b.to_pandas() for b in scan if b.num_rows), data.count_rows()
        with path.open(newline="", encoding="utf-8", errors="replace") as f:  # as read_table reads it
            sep = sniff_delimiter(f.read(64_000))
        chunks = pd.read_csv(path, sep=r"\s+" if sep == "whitespace" else sep, usecols=columns, chunksize=batch_size)
        return iter(chunks), _csv_rows(path, sep)
    if ws is None:
        raise MercatorError(f"{source!r} is not a file, and there is no workspace to read a table from")
    table = ws.table(str(source))
    if columns:
        table = table.select(*columns)
    total = int(table.count().to_pyarrow().as_py())
    stream = table.to_pyarrow_batches(chunk_size=batch_size)  # record batches from the engine, never the whole table
    return (b.to_pandas() for b in stream if b.num_rows), total

def _csv_rows(path: Path, sep: str) -> int | None:
    """Rows of a CSV file, counted by DuckDB's reader (quoted newlines are not rows); None
    where it cannot tell."""
    import duckdb

    try:
        if sep == "whitespace":
            return None
        with duckdb.connect() as con:
            return int(con.execute("SELECT count(*) FROM read_csv(?, delim = ?, header = true, all_varchar = true)",
                                   [str(path), sep]).fetchone()[0])
    except duckdb.Error:
        return None


def require_columns(have, need, name: str) -> None:
    """Raise, naming the source, the columns of ``need`` it lacks and those it has, if any is
    missing (``None`` entries, options not given, are skipped)."""
    have = [str(c) for c in have]
    missing = [c for c in dict.fromkeys(c for c in need if c) if c not in have]
    if missing:
        raise MercatorError(f"{name}: no column(s) {', '.join(missing)}; it has: {', '.join(have)}")


def check_numeric(frame: pd.DataFrame, columns: list[str], name: str) -> pd.DataFrame:
    """The columns as floats; the first empty or non-numeric cell is an error naming the file,
    its row (as a spreadsheet shows it: the header is row 1) and the column."""
    out = {}
    for c in columns:
        v = pd.to_numeric(frame[c], errors="coerce")
        bad = v.isna().to_numpy()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            cell = frame[c].iloc[row]
            what = "is empty" if pd.isna(cell) else f"{cell!r} is not a number"
            raise MercatorError(f"{name}: row {row + 2}, column {c}: {what}")
        out[c] = v.astype(float)
    return frame.assign(**out)


__all__ = ["check_numeric", "engine_table", "read_table", "require_columns", "source_name"]
