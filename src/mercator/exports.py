"""The one CSV writer for everything Mercator exports (target and uplift lists, scores, CLV
per customer, segment members): what a person opens in a spreadsheet.

Text cells that begin with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return would be run
as formulas by Excel, LibreOffice or Google Sheets (CSV injection: ``=HYPERLINK(...)`` in a
customer id). As OWASP recommends, such cells are written with a leading single quote, which
spreadsheets show as text; numbers are written as numbers (-5 stays -5).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralize(value: object) -> object:
    """``value`` made safe for a spreadsheet cell: text starting like a formula gets a ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_frame(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with every text cell neutralized (vectorized per text column)."""
    out = df.copy(deep=False)
    for col in out.columns:
        s = out[col]
        if s.dtype == object or pd.api.types.is_string_dtype(s):
            text = s.astype("string")
            risky = text.str.startswith(FORMULA_STARTS).fillna(False).to_numpy(dtype=bool)
            if risky.any():
                values = s.to_numpy(dtype=object, copy=True)
                values[risky] = np.array(["'" + v for v in values[risky]], dtype=object)
                out[col] = values
    if any(str(c).startswith(FORMULA_STARTS) for c in out.columns):
        out.columns = [neutralize(str(c)) for c in out.columns]
    return out


def write_csv(df: pd.DataFrame, path: str | Path, *, append: bool = False) -> Path:
    """Write ``df`` to ``path`` as UTF-8 CSV with formula-like text neutralized; with
    ``append``, add rows without a header (for exports written in chunks)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # CRLF line ends (RFC 4180) also make the writer quote a value holding a lone carriage return
    safe_frame(df).to_csv(path, mode="a" if append else "w", header=not append, index=False, lineterminator="\r\n")
    return path


__all__ = ["FORMULA_STARTS", "neutralize", "safe_frame", "write_csv"]
