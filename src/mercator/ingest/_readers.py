"""Read a source file into an Arrow table, with the row number of every record.

This is the only step of a load that runs outside the engine: parsing bytes into columns.
It uses Arrow's multi-threaded readers (the CSV reader is faster than pandas.read_csv) and
keeps text columns as text, so that type errors are found per row later, in the engine,
instead of failing the whole file. Text values are trimmed and blank text becomes null.

Row numbers follow spreadsheets: the header is row 1, the first record row 2.

A file that cannot be read at all (empty, truncated, binary, missing) raises
:class:`~mercator.errors.SourceError` naming the file and the byte position.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import os
import threading
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from mercator.errors import SourceError

ROW = "_row"
FORMATS = ("csv", "parquet", "jsonl", "excel")
_SUFFIX_FORMAT = {
    ".csv": "csv", ".tsv": "csv", ".txt": "csv", ".dat": "csv",
    ".parquet": "parquet", ".pq": "parquet",
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
    ".xlsx": "excel", ".xlsm": "excel",
}
_SNIFF_BYTES = 64 * 1024


@dataclass(frozen=True)
class MalformedRow:
    """A record with the wrong number of fields: quarantined, the rest of the file loads."""

    row: int
    expected: int
    actual: int
    text: str


@dataclass(frozen=True)
class RawSource:
    """A file as read: its columns (text for text formats) plus ``_row``."""

    path: str
    format: str
    data: pa.Table
    sha256: str
    encoding: str | None = None
    delimiter: str | None = None
    malformed: tuple[MalformedRow, ...] = ()

    @property
    def columns(self) -> list[str]:
        return [c for c in self.data.column_names if c != ROW]

    @property
    def num_rows(self) -> int:
        return self.data.num_rows + len(self.malformed)


def detect_format(path: Path) -> tuple[str, bool]:
    """The format of ``path`` from its name, and whether it is gzip-compressed."""
    suffixes = [s.lower() for s in path.suffixes]
    gz = bool(suffixes) and suffixes[-1] == ".gz"
    if gz:
        suffixes = suffixes[:-1]
    fmt = _SUFFIX_FORMAT.get(suffixes[-1]) if suffixes else None
    if fmt is None:
        raise SourceError(path, f"cannot tell the format from the name {path.name!r}",
                          expected=f"a name ending in one of {', '.join(sorted(_SUFFIX_FORMAT))} (optionally .gz)",
                          hint="rename the file or pass format='csv' (CLI: --format csv).")
    return fmt, gz


class _Hasher(threading.Thread):
    """SHA-256 of the bytes on a second thread (hashlib releases the GIL), overlapping parsing."""

    def __init__(self, data: bytes) -> None:
        super().__init__(daemon=True)
        self.data = data
        self.digest = ""

    def run(self) -> None:
        self.digest = hashlib.sha256(self.data).hexdigest()


def _read_bytes(path: Path, gz: bool) -> tuple[bytes, bytes]:
    """The file's bytes as stored and, for gzip, decompressed."""
    if not path.exists():
        raise SourceError(path, "the file does not exist", hint="check the path.")
    if path.is_dir():
        raise SourceError(path, "is a folder, not a file", hint="name the files inside it.")
    stored = path.read_bytes()
    if not stored:
        raise SourceError(path, "the file is empty (0 bytes)", expected="a header row and at least one data row",
                          hint="re-export the file; an interrupted download often leaves an empty file.")
    if not gz:
        return stored, stored
    try:
        return stored, gzip.decompress(stored)
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise SourceError(path, f"the gzip stream is damaged or truncated ({exc}); the file has {len(stored):,} bytes",
                          position=len(stored), expected="a complete gzip file",
                          hint="download or copy the file again.") from exc


def _check_text(path: Path, data: bytes) -> None:
    head = data[:_SNIFF_BYTES]
    nul = head.find(b"\x00")
    if nul >= 0:
        raise SourceError(path, f"the file is not text: byte {nul:,} is a NUL byte (a binary file, or text in UTF-16)",
                          position=nul, expected="text in UTF-8 or Latin-1",
                          hint="export as CSV in UTF-8, or convert with `iconv -f UTF-16 -t UTF-8`.")


def _sniff_delimiter(sample: str) -> str:
    """The delimiter of a text sample; ``whitespace`` for space-aligned columns."""
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        first = sample.lstrip("\r\n").splitlines()[0] if sample.strip() else ""
        return "whitespace" if len(first.split()) > 1 else ","


def _row_numbers(n: int, malformed_rows: list[int]) -> pa.Array:
    """Spreadsheet row numbers of the ``n`` good records, skipping the malformed ones."""
    rows = np.arange(2, n + len(malformed_rows) + 2, dtype=np.int64)
    if malformed_rows:
        rows = rows[~np.isin(rows, np.asarray(malformed_rows, dtype=np.int64))]
    return pa.array(rows[:n])


def _read_csv(path: Path, data: bytes, delimiter: str | None, encoding: str | None,
              skip_rows: int) -> tuple[pa.Table, str, str, list[MalformedRow]]:
    _check_text(path, data)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if encoding is None:
        try:
            data[:_SNIFF_BYTES].decode("utf-8")
            encoding = "utf-8"
        except UnicodeDecodeError as exc:
            # only a partial multi-byte character cut by the sample boundary is fine
            encoding = "utf-8" if exc.start >= _SNIFF_BYTES - 4 else "latin-1"
    sample = data[:_SNIFF_BYTES].decode(encoding, errors="replace")
    if delimiter is None:
        delimiter = _sniff_delimiter(sample)
    if delimiter == "whitespace":
        return _read_whitespace(path, data, encoding, skip_rows) + ([],)

    # Read the header first to declare every column as text.
    header_line = sample.splitlines()[skip_rows] if sample.strip() else ""
    if not header_line.strip():
        raise SourceError(path, "the file has no header row", expected="column names on the first line",
                          hint="add a header row, or use a mapping that names the columns.")
    names = next(csv.reader([header_line], delimiter=delimiter))

    def parse(enc: str, threads: bool, newlines: bool = False) -> tuple[pa.Table, list]:
        bad: list = []

        def on_invalid(row) -> str:
            bad.append(row)
            return "skip"

        table = pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(encoding=enc, use_threads=threads, skip_rows=skip_rows,
                                           block_size=1 << 24),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, invalid_row_handler=on_invalid,
                                             newlines_in_values=newlines),
            convert_options=pacsv.ConvertOptions(
                column_types={n.strip(): pa.string() for n in names}, strings_can_be_null=True,
                null_values=[""]),
        )
        return table, bad

    try:
        try:
            table, bad = parse(encoding, True)
        except pa.ArrowInvalid as exc:
            if "UTF8" in str(exc) or "utf8" in str(exc).lower():
                encoding = "latin-1"
                table, bad = parse(encoding, True)
            else:
                raise
        if bad and b'"' in data:  # quoted line breaks split records: parse them as values
            table, bad = parse(encoding, True, newlines=True)
        if bad:  # re-read on one thread: only then does Arrow know the row numbers
            table, bad = parse(encoding, False, newlines=b'"' in data)
    except pa.ArrowInvalid as exc:
        raise SourceError(path, f"cannot be parsed as CSV ({exc})", expected=f"{delimiter!r}-delimited text",
                          hint="check the delimiter and quoting (pass delimiter=...), or whether the file is cut short.") \
            from exc
    malformed = [MalformedRow(row=int(b.number) + skip_rows, expected=b.expected_columns, actual=b.actual_columns,
                              text=b.text) for b in bad]
    if malformed and not data.endswith((b"\n", b"\r")) and malformed[-1].actual < malformed[-1].expected \
            and malformed[-1].row >= table.num_rows + len(malformed):
        last = malformed[-1]
        raise SourceError(path, f"the file looks truncated: it ends at byte {len(data):,} in the middle of row "
                                f"{last.row} ({last.actual} of {last.expected} fields, no line end)",
                          position=len(data), expected="complete rows ending with a line break",
                          hint="export or copy the file again; if the cut is intended, remove the partial last line.")
    table = table.rename_columns([c.strip() for c in table.column_names])
    return table, encoding, delimiter, malformed


def _read_whitespace(path: Path, data: bytes, encoding: str, skip_rows: int) -> tuple[pa.Table, str, str]:
    """Whitespace-aligned text (e.g. the CDNOW log). Small legacy files: pandas' parser suffices."""
    import pandas as pd

    try:
        df = pd.read_csv(io.BytesIO(data), sep=r"\s+", dtype=str, encoding=encoding, skiprows=skip_rows,
                         keep_default_na=False, na_values=[""])
    except Exception as exc:
        raise SourceError(path, f"cannot be parsed as whitespace-delimited text ({exc})") from exc
    return pa.Table.from_pandas(df, preserve_index=False), encoding, "whitespace"


def _text_columns(table: pa.Table) -> pa.Table:
    """Nested values become JSON text; other types stay as they are."""
    cols = []
    for col in table.columns:
        if pa.types.is_nested(col.type):
            col = pa.array([None if v is None else json.dumps(v, default=str) for v in col.to_pylist()],
                           pa.string())
        cols.append(col)
    return pa.table(cols, names=table.column_names)


def _trim(col: pa.ChunkedArray) -> pa.ChunkedArray:
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        return col
    col = pc.utf8_trim_whitespace(col)
    blank = pc.equal(pc.binary_length(col), 0)
    return pc.if_else(blank, pa.scalar(None, col.type), col) if pc.any(blank).as_py() else col


def _trimmed(table: pa.Table) -> pa.Table:
    """Text values without surrounding whitespace, and blank text as null.

    Done here, in Arrow's vectorized kernels (one column per core; they release the GIL),
    because trimming a character set in SQL is several times slower: DuckDB's
    TRIM(x, chars) was most of the validation pass.
    """
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        cols = list(pool.map(_trim, table.columns))
    return pa.table(cols, names=table.column_names)


def read_source(path: str | Path, *, format: str | None = None, delimiter: str | None = None,
                encoding: str | None = None, sheet: str | int | None = None, skip_rows: int = 0) -> RawSource:
    """Read ``path`` (CSV/TSV, Parquet, JSON lines or Excel; ``.gz`` for text formats)."""
    path = Path(path)
    fmt, gz = detect_format(path) if format is None else (format, path.suffix.lower() == ".gz")
    if fmt not in FORMATS:
        raise SourceError(path, f"unknown format {fmt!r}", expected=f"one of {', '.join(FORMATS)}")
    stored, data = _read_bytes(path, gz)
    hasher = _Hasher(stored)
    hasher.start()
    malformed: list[MalformedRow] = []
    if fmt == "csv":
        table, encoding, delimiter, malformed = _read_csv(path, data, delimiter, encoding, skip_rows)
    elif fmt == "parquet":
        try:
            table = pq.read_table(io.BytesIO(data))
        except (pa.ArrowInvalid, OSError) as exc:
            raise SourceError(path, f"is not a readable Parquet file ({exc})", position=len(data),
                              expected="a complete Parquet file (it ends with the bytes 'PAR1')",
                              hint="write or copy the file again.") from exc
    elif fmt == "jsonl":
        _check_text(path, data)
        try:
            table = _text_columns(pajson.read_json(io.BytesIO(data)))
        except pa.ArrowInvalid as exc:
            raise SourceError(path, f"is not valid JSON lines ({exc})", expected="one JSON object per line",
                              hint="check for a cut-off last line or a JSON array instead of lines.") from exc
    else:
        import pandas as pd

        try:
            df = pd.read_excel(io.BytesIO(data), sheet_name=sheet or 0, dtype=str, skiprows=skip_rows)
        except Exception as exc:
            raise SourceError(path, f"is not a readable Excel workbook ({exc})",
                              expected="an .xlsx workbook", hint="save it again as .xlsx, or export CSV.") from exc
        table = pa.Table.from_pandas(df.rename(columns=lambda c: str(c).strip()), preserve_index=False)
    hasher.join()
    if table.num_rows == 0 and not malformed:
        raise SourceError(path, "has a header but no data rows", expected="at least one data row",
                          hint="check the export's filters and date range.")
    dup = {c for c in table.column_names if table.column_names.count(c) > 1}
    if dup:
        raise SourceError(path, f"has duplicate column names: {', '.join(sorted(dup))}",
                          hint="rename the columns so that each name appears once.")
    table = _trimmed(table)
    rows = _row_numbers(table.num_rows, [m.row for m in malformed]) if fmt == "csv" else \
        pa.array(np.arange(2 + skip_rows, table.num_rows + 2 + skip_rows, dtype=np.int64))
    table = table.append_column(ROW, rows)
    return RawSource(path=str(path), format=fmt, data=table, sha256=hasher.digest, encoding=encoding,
                     delimiter=delimiter, malformed=tuple(malformed))
