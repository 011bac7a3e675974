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
import re
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
from mercator.frames import sniff_delimiter

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
    """A record the reader could not take as it is (wrong number of fields, bytes that are
    not UTF-8): quarantined with its reason, the rest of the file loads."""

    row: int
    expected: int
    actual: int
    text: str
    reason: str = "malformed_row"

    @property
    def detail(self) -> str:
        if self.reason == "bad_encoding":
            return "the row has bytes that are not UTF-8 while the rest of the file is UTF-8 (shown as \ufffd)"
        return f"expected {self.expected} fields, found {self.actual}"


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
    mixed = False
    if encoding is None:
        encoding, mixed = _detect_encoding(data)
        if mixed:  # mostly UTF-8 with some lines that are not: those rows are quarantined
            data = data.decode("utf-8", errors="replace").encode("utf-8")
    sample = data[:_SNIFF_BYTES].decode(encoding, errors="replace")
    if delimiter is None:
        delimiter = sniff_delimiter(sample)
    if delimiter == "whitespace":
        return _read_whitespace(path, data, encoding, skip_rows) + ([],)  # type: ignore[return-value]

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
        table, bad = parse(encoding, True)
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
    _check_quotes(path, data, table, malformed, skip_rows)
    if malformed and not data.endswith((b"\n", b"\r")) and malformed[-1].actual < malformed[-1].expected \
            and malformed[-1].row >= table.num_rows + len(malformed):
        last = malformed[-1]
        raise SourceError(path, f"the file looks truncated: it ends at byte {len(data):,} in the middle of row "
                                f"{last.row} ({last.actual} of {last.expected} fields, no line end)",
                          position=len(data), expected="complete rows ending with a line break",
                          hint="export or copy the file again; if the cut is intended, remove the partial last line.")
    table = table.rename_columns([c.strip() for c in table.column_names])
    return table, "utf-8 (mixed)" if mixed else encoding, delimiter, malformed


# A valid UTF-8 sequence of two to four bytes; bytes that are not part of one are not UTF-8.
_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")


def _detect_encoding(data: bytes) -> tuple[str, bool]:
    """``(encoding, mixed)``: UTF-8 when the bytes decode as UTF-8; Latin-1 when the non-ASCII
    bytes are not UTF-8 sequences; UTF-8 with ``mixed`` when most are and a few are not (a
    Latin-1 line pasted into a UTF-8 file), so that only those rows are set apart instead of
    silently re-decoding the whole file."""
    try:
        data.decode("utf-8")
        return "utf-8", False
    except UnicodeDecodeError:
        pass
    valid = len(_UTF8_MULTIBYTE.findall(data))  # C regex over the bytes: only for files that are not pure UTF-8
    invalid = len(re.findall(rb"[\x80-\xff]", _UTF8_MULTIBYTE.sub(b"", data)))
    return ("utf-8", True) if valid >= invalid else ("latin-1", False)


def _line_count(data: bytes) -> int:
    """Physical lines in ``data`` (a last line without a line break counts)."""
    sep = b"\n" if b"\n" in data else b"\r"
    return data.count(sep) + (0 if data.endswith((b"\n", b"\r")) else 1) if data else 0


def _check_quotes(path: Path, data: bytes, table: pa.Table, malformed: list[MalformedRow], skip_rows: int) -> None:
    """Every physical line must be part of a record the reader returned or set apart.

    A quote that opens and never closes makes the CSV reader swallow the following lines
    into one field; that record then has the wrong number of fields and would be quarantined
    as one row, losing the lines it swallowed. Such a file fails whole, naming the line
    where the quote opened. Lines are counted with ``bytes.count`` (C speed); only when there
    are more lines than records are the line breaks inside quoted values counted (Arrow's
    vectorized kernels) to see whether they explain the difference.
    """
    for m in malformed:
        if "\n" in m.text or "\r" in m.text:
            lines = m.text.count("\n") + 1
            raise SourceError(path, f"a quote opens in row {m.row} and never closes: the next {lines - 1:,} lines "
                                    f"were read as part of one value",
                              position=m.row, expected="every opening double quote closed on the same record",
                              hint=f"fix the quoting of row {m.row} (double a quote inside a value: \"\"), "
                                   "or re-export the file.")
    if b'"' not in data:  # without quotes every record is one line: nothing can be swallowed
        return
    physical = _line_count(data) - 1 - skip_rows
    if physical <= table.num_rows + len(malformed):  # the usual case: no line break inside a value
        return
    sep = b"\n" if b"\n" in data else b"\r"
    blank = data.count(sep + sep) + (data.count(b"\n\r\n") if sep == b"\n" else 0)
    embedded = sum(int(pc.sum(pc.count_substring(col, "\n")).as_py() or 0) for col in table.columns
                   if pa.types.is_string(col.type) or pa.types.is_large_string(col.type))
    accounted = table.num_rows + len(malformed) + embedded + blank
    if physical > accounted:
        raise SourceError(path, f"{physical - accounted:,} of its {physical:,} data lines are in no record the CSV "
                                f"reader returned ({table.num_rows:,} records, {len(malformed):,} malformed)",
                          expected="one record per line, or quoted values that close",
                          hint="check the file's quoting and line endings, or re-export it.")


def _read_whitespace(path: Path, data: bytes, encoding: str, skip_rows: int) -> tuple[pa.Table, str, str]:
    """Whitespace-aligned text (e.g. the CDNOW logs). Small legacy files: pandas' parser suffices.

    Such logs often come without a header (CDNOW_sample.txt): when every name on the first
    line is a number, the file has none, and its columns are called column_1, column_2, ...
    (a mapper then maps them by position).
    """
    import pandas as pd

    first = data.decode(encoding, errors="replace").lstrip("\r\n").splitlines()
    tokens = first[skip_rows].split() if len(first) > skip_rows else []
    headerless = bool(tokens) and all(_is_number(t) for t in tokens)
    try:
        df = pd.read_csv(io.BytesIO(data), sep=r"\s+", dtype=str, encoding=encoding, skiprows=skip_rows,
                         keep_default_na=False, na_values=[""], header=None if headerless else "infer")
    except Exception as exc:
        raise SourceError(path, f"cannot be parsed as whitespace-delimited text ({exc})") from exc
    if headerless:
        df.columns = [f"column_{i + 1}" for i in range(df.shape[1])]
        return pa.Table.from_pandas(df, preserve_index=False), encoding, "whitespace-headerless"
    return pa.Table.from_pandas(df, preserve_index=False), encoding, "whitespace"


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


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


def _set_apart_bad_encoding(table: pa.Table, malformed: list[MalformedRow]) -> tuple[pa.Table, list[MalformedRow]]:
    """Move the rows holding U+FFFD (bytes that were not UTF-8) from the table to the
    malformed rows, so that they are quarantined instead of loaded with broken text."""
    mask = None
    for name in table.column_names:
        col = table[name]
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            hit = pc.fill_null(pc.match_substring(col, "\ufffd"), False)
            mask = hit if mask is None else pc.or_(mask, hit)
    if mask is None or not pc.any(mask).as_py():
        return table, malformed
    bad = table.filter(mask)
    n_fields = len(table.column_names) - 1
    extra = [MalformedRow(row=int(rec.pop(ROW)), expected=n_fields, actual=n_fields, reason="bad_encoding",
                          text=",".join("" if v is None else str(v) for v in rec.values()))
             for rec in bad.to_pylist()]  # the few rows set apart
    return table.filter(pc.invert(mask)), sorted([*malformed, *extra], key=lambda m: m.row)


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
    first = 1 + skip_rows if delimiter == "whitespace-headerless" else 2 + skip_rows  # spreadsheet row numbers
    rows = _row_numbers(table.num_rows, [m.row for m in malformed]) if fmt == "csv" and first == 2 + skip_rows \
        else pa.array(np.arange(first, table.num_rows + first, dtype=np.int64))
    table = table.append_column(ROW, rows)
    if encoding == "utf-8 (mixed)":
        table, malformed = _set_apart_bad_encoding(table, malformed)
    return RawSource(path=str(path.resolve()), format=fmt, data=table, sha256=hasher.digest, encoding=encoding,
                     delimiter=delimiter, malformed=tuple(malformed))
