"""The decision log: every decision written down before its answer leaves, none lost in a crash,
none written twice.

Three stages, each one safe to crash in:

1. ``append`` writes the decision as one JSON line to the current write-ahead segment
   (``wal-<n>.jsonl`` in the log's folder) with a single ``write`` call, before the caller
   answers. The line is then in the operating system's page cache: a killed process (even
   ``kill -9``) loses nothing; ``fsync=True`` also survives a power cut, at the disk's latency.
2. Every ``interval`` seconds the segment is closed (a new one takes the appends) and its lines
   are written to a Parquet file (written under a temporary name, then renamed), then the
   segment is deleted. A crash before the rename leaves the segment, which the next start
   converts again; a torn last line (a crash inside a write) is the only thing skipped, and it
   belongs to a decision whose answer was never sent.
3. ``sync`` loads the Parquet files into the workspace's ``decisions`` table in one
   transaction, keyed by decision id (so a file loaded twice adds nothing), then deletes them.
   The server syncs every ``sync_interval`` seconds and at shutdown; between syncs the
   workspace file stays untouched, so the command line can use it and cached reads stay valid.

Written here rather than with a queue or a log library: what is needed is an append that costs
one system call on the request path and a hand-over into the workspace's own table, and none of
Python's logging handlers or queue libraries gives the "written before answered" guarantee with
an idempotent load behind it.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

#: The columns of a decision record, in the decisions table's order.
FIELDS = ("decision_id", "ts", "person_id", "policy", "policy_version", "context", "context_hash", "eligible",
          "arm", "propensity", "fallback_reason", "latency_ms")


def _dumps(record: dict) -> bytes:
    try:
        import orjson

        return orjson.dumps(record) + b"\n"
    except ImportError:  # pragma: no cover - orjson comes with the api extra
        return (json.dumps(record, separators=(",", ":")) + "\n").encode()


class DecisionLog:
    """Durable records (decisions, or with ``schema=REWARDS`` rewards) in ``folder`` on their way
    to the workspace (module docstring)."""

    def __init__(self, folder: str | Path, *, interval: float = 0.5, fsync: bool = False,
                 schema: pa.Schema | None = None) -> None:
        self.schema = SCHEMA if schema is None else schema
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.interval, self.fsync = interval, fsync
        self._lock = threading.Lock()
        self._n = max([self._number(p) for p in self.folder.glob("wal-*.jsonl")] + [0]) + 1
        self._fd = self._open(self._n)
        self.appended = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @staticmethod
    def _number(path: Path) -> int:
        return int(path.stem.split("-")[1])

    def _open(self, n: int) -> int:
        return os.open(self.folder / f"wal-{n:09d}.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def append(self, record: dict) -> None:
        """Write ``record`` (a decision: FIELDS; ``ts`` in microseconds since 1970, UTC, and the
        context as JSON text) to the write-ahead segment; returns once it is with the operating
        system."""
        line = _dumps(record)
        with self._lock:
            os.write(self._fd, line)
            if self.fsync:
                os.fsync(self._fd)
            self.appended += 1

    def rotate(self) -> int:
        """Close the current segment and turn every closed one into a Parquet file; the number
        of decisions converted."""
        with self._lock:
            old = self._fd
            if old >= 0:  # open: appends go on in a new segment
                self._n += 1
                self._fd = self._open(self._n)
            current = self._n if self._fd >= 0 else None
        if old >= 0:
            os.fsync(old)
            os.close(old)
        converted = 0
        for wal in sorted(self.folder.glob("wal-*.jsonl")):
            if self._number(wal) == current:
                continue
            if wal.stat().st_size:
                rows = _read_segment(wal, self.schema)
                tmp = wal.with_suffix(".parquet.tmp")
                pq.write_table(rows, tmp)
                os.replace(tmp, wal.with_suffix(".parquet"))
                converted += rows.num_rows
            wal.unlink()
        return converted

    def waiting(self) -> bool:
        """Whether anything is waiting to be handed over (a non-empty segment or a Parquet file)."""
        return bool(self.pending()) or any(p.stat().st_size > 0 for p in self.folder.glob("wal-*.jsonl"))

    def pending(self) -> list[Path]:
        """The Parquet files not yet loaded into the workspace."""
        return sorted(self.folder.glob("wal-*.parquet"))

    def sync(self, load: Callable[[pa.Table], None]) -> int:
        """Hand every pending decision to ``load`` (which must replace by decision id, in one
        transaction), then forget them; the number handed over."""
        self.rotate()
        files = self.pending()
        if not files:
            return 0
        table = pa.concat_tables([pq.read_table(f, schema=self.schema) for f in files])
        load(table)
        for f in files:
            f.unlink()
        return table.num_rows

    def start(self) -> None:
        """Rotate every ``interval`` seconds in a background thread (reopened after a close)."""
        with self._lock:
            if self._fd < 0:
                self._n += 1
                self._fd = self._open(self._n)
        self._stop = threading.Event()

        def loop() -> None:
            while not self._stop.wait(self.interval):
                self.rotate()

        self._thread = threading.Thread(target=loop, name="decision-log", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the background thread and convert what is left (the caller then syncs)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        with self._lock:
            if self._fd >= 0:  # closing twice (an app whose lifespan ran twice) is harmless
                os.fsync(self._fd)
                os.close(self._fd)
                self._fd = -1
        self.rotate()


SCHEMA = pa.schema([("decision_id", pa.string()), ("ts", pa.timestamp("us")), ("person_id", pa.string()),
                    ("policy", pa.string()), ("policy_version", pa.int64()), ("context", pa.string()),
                    ("context_hash", pa.string()),
                    ("eligible", pa.string()), ("arm", pa.string()), ("propensity", pa.float64()),
                    ("fallback_reason", pa.string()), ("latency_ms", pa.float64())])
REWARDS = pa.schema([("decision_id", pa.string()), ("ts", pa.timestamp("us")), ("reward", pa.float64())])


def _read_segment(path: Path, schema: pa.Schema) -> pa.Table:
    """The records of a segment as a table. Arrow's JSON reader parses it in C++ without holding
    Python's interpreter lock (the server keeps answering meanwhile); a segment it cannot read (a
    torn last line, left by a crash inside a write) is read line by line, skipping that line."""
    from pyarrow import json as pajson

    wire = pa.schema([pa.field(f.name, pa.int64() if f.name == "ts" else f.type) for f in schema])
    try:
        table = pajson.read_json(path, parse_options=pajson.ParseOptions(explicit_schema=wire,
                                                                         unexpected_field_behavior="ignore"))
    except pa.ArrowInvalid:
        rows = []
        with path.open("rb") as f:
            for line in f:
                try:
                    rows.append(json.loads(line))
                except ValueError:
                    continue
        table = pa.Table.from_pylist(rows, schema=wire)
    return table.set_column(table.schema.get_field_index("ts"), "ts",
                            table.column("ts").cast(pa.timestamp("us"))).select(schema.names)


def into(ws, table: str = "decisions") -> Callable[[pa.Table], None]:
    """A ``load`` for :meth:`DecisionLog.sync`: the records into the workspace's ``table``
    (decisions by decision id; rewards by decision id and time), in one transaction."""
    key = ["decision_id"] if table == "decisions" else ["decision_id", "ts"]

    def load(rows: pa.Table) -> None:
        ws.replace(table, rows.to_pandas(), on=key)

    return load


def outcomes(ws, policy: str, *, window_s: float, now: float | None = None):
    """The policy's logged choices (fallbacks left out) with the reward each earned within the
    attribution window (rewards joined to decisions in the engine, summed per decision); only
    decisions whose window has closed or that have a reward. An Ibis table."""
    import time

    import ibis

    now = time.time() if now is None else now
    d, r = ws.table("decisions"), ws.table("rewards")
    d = d.filter((d.policy == policy) & d.fallback_reason.isnull())
    earned = d.select("decision_id", "ts").join(r, "decision_id") \
        .filter(lambda t: t.ts_right <= t.ts + ibis.interval(seconds=int(window_s))) \
        .group_by("decision_id").aggregate(reward=lambda t: t.reward.sum())
    closed = ibis.timestamp(time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now - window_s)))
    rows = d.left_join(earned, "decision_id")
    rows = rows.filter(rows.reward.notnull() | (rows.ts <= closed))
    return rows.mutate(reward=rows.reward.fill_null(0))
