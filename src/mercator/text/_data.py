"""The texts an analysis reads: the workspace's ``content`` table, or a file (CSV, TSV or
Parquet) or a DataFrame with a text column, and optionally a label, a time and a group."""

from __future__ import annotations

import pandas as pd

from mercator.errors import BadParameter, MercatorError
from mercator.frames import read_table, source_name


def texts(ws, source, *, text: str = "text", label: str | None = None, time: str | None = None,
          group: str | None = None, optional: tuple[str, ...] = ()) -> pd.DataFrame:
    """A frame with ``text`` (and ``label``, ``ts`` and ``group`` where named), one row
    per non-empty text. The workspace table ``content`` is read in the engine, only the columns
    asked for. A column of ``optional`` (by its key: ``"label"``) that the source lacks is left
    out instead of refused."""
    name = source_name(source)
    wanted = {"text": text, "label": label, "ts": time, "group": group}
    wanted = {k: v for k, v in wanted.items() if v}
    if isinstance(source, str) and source == "content":
        if ws is None:
            raise MercatorError("the content table needs a workspace (--workspace), or name a file with --data")
        t = ws.table("content")
        wanted = {k: v for k, v in wanted.items() if k not in optional or v in t.columns}
        missing = [v for v in wanted.values() if v not in t.columns]
        if missing:
            raise BadParameter(f"the content table has no column {', '.join(repr(m) for m in missing)}; it has "
                               f"{', '.join(t.columns)}")
        frame = t.select(*dict.fromkeys(wanted.values())).to_pandas()
    else:
        frame = read_table(ws, source, text_na=True)
        wanted = {k: v for k, v in wanted.items() if k not in optional or v in frame.columns}
        missing = [v for v in wanted.values() if v not in frame.columns]
        if missing:
            raise BadParameter(f"{name} has no column {', '.join(repr(m) for m in missing)}; it has "
                               f"{', '.join(map(str, frame.columns))}")
    out = pd.DataFrame({k: frame[v].to_numpy() for k, v in wanted.items()})
    out["text"] = out["text"].astype("string").fillna("").astype(str)
    out = out[out["text"].str.strip() != ""].reset_index(drop=True)
    if out.empty:
        raise MercatorError(f"{name}: no non-empty text in column {text!r}")
    if "label" in out:
        out["label"] = out["label"].astype("string")
    if "ts" in out:
        ts = pd.to_datetime(out["ts"], errors="coerce", format="mixed", utc=True)
        bad = ts.isna() & out["ts"].notna()
        if bad.any():
            row = int(bad.to_numpy().nonzero()[0][0])
            raise BadParameter(f"{name}, row {row + 2}, column {time}: {out['ts'].iloc[row]!r} is not a date or time")
        out["ts"] = ts.dt.tz_convert(None)
    return out
