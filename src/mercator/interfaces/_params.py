"""Parameters as people type them, parsed once for the command line and the API alike, so
the same text means the same thing (and fails with the same message) in both."""

from __future__ import annotations

import datetime as dt

from mercator.errors import BadParameter


def csv_list(text: str | None) -> list[str]:
    """``"a, b,,c"`` -> ``["a", "b", "c"]``; None or empty -> ``[]``."""
    return [v.strip() for v in (text or "").split(",") if v.strip()]


def iso_date(text: str | None, name: str = "date") -> dt.date | None:
    """``YYYY-MM-DD`` as a date (None stays None)."""
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise BadParameter(f"{name} {text!r} is not an ISO date (YYYY-MM-DD)") from None


def iso_time(text: str | None, name: str = "time") -> dt.datetime | None:
    """``YYYY-MM-DDTHH:MM[:SS]`` (UTC) as a naive datetime (None stays None)."""
    if text is None:
        return None
    try:
        return dt.datetime.fromisoformat(text).replace(tzinfo=None)
    except ValueError:
        raise BadParameter(f"{name} {text!r} is not a time (YYYY-MM-DDTHH:MM, UTC)") from None


def days(text: str, name: str = "duration") -> float:
    """``'30d'``, ``'2w'`` or ``'30'`` (days) as days."""
    t = text.strip().lower()
    try:
        return float(t[:-1]) * 7 if t.endswith("w") else float(t.removesuffix("d"))
    except ValueError:
        raise BadParameter(f"{name} {text!r} is not a duration such as 30d or 2w") from None


def pairs(items: list[str] | None, flag: str) -> dict[str, str]:
    """``["k=v", ...]`` -> ``{"k": "v"}``; anything without ``=`` is refused, naming ``flag``."""
    out = {}
    for item in items or []:
        if "=" not in item:
            raise BadParameter(f"{flag} {item!r}: expected key=value")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def quantiles(text: str) -> int | list[float]:
    """RFM quantiles: a number (``"5"``) or cut points (``"0.5,0.8,0.95"``)."""
    try:
        return int(text) if "," not in text and "." not in text else [float(v) for v in text.split(",")]
    except ValueError:
        raise BadParameter(f"quantiles {text!r} is neither a number nor comma-separated cut points") from None
