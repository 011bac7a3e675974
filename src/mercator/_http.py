"""Sending JSON to a webhook, shared by everything that calls one (decide's triggers, monitor's
contact points): retries with backoff on a network error, a 429 or a 5xx (honouring a
Retry-After of up to 5 s), no retry on another 4xx. Never raises: the caller records the
reason and goes on, so one unreachable receiver does not stop a batch."""

from __future__ import annotations

import time
from typing import Any

#: Attempts per message, and the first backoff in seconds (doubled each time).
ATTEMPTS = 3
BACKOFF = 0.2


def post_json(url: str, body: Any, *, headers: dict[str, str] | None = None, timeout: float = 10.0,
              attempts: int = ATTEMPTS) -> str | None:
    """POST ``body`` as JSON to ``url``: None when it was accepted (2xx), the reason otherwise
    (the URL's query string, which may hold a token, is left out of it)."""
    import httpx

    shown = url.split("?", 1)[0]
    reason = None
    for attempt in range(attempts):
        try:
            r = httpx.post(url, json=body, headers=headers, timeout=timeout)
        except httpx.HTTPError as exc:
            reason = f"webhook {shown} unreachable ({type(exc).__name__})"
            time.sleep(BACKOFF * 2**attempt)
            continue
        if r.status_code < 300:
            return None
        reason = f"webhook {shown} answered {r.status_code}"
        if r.status_code != 429 and r.status_code < 500:
            break
        wait = r.headers.get("retry-after")
        time.sleep(min(float(wait), 5.0) if wait and wait.isdigit() else BACKOFF * 2**attempt)
    return reason
