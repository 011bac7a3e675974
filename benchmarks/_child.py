"""Run one benchmark case in a fresh process, so its peak RSS is its own (Linux carries a
parent's peak RSS into the children it forks, so the parent must not load data first)."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def child(script: str, *args: str) -> dict | None:
    """Run ``script --one ARGS`` and return the last JSON line it printed, with its peak RSS;
    ``None`` if it failed."""
    proc = subprocess.Popen([sys.executable, script, "--one", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    line = [x for x in out.splitlines() if x.startswith("{")]
    if status != 0 or not line:
        return None
    return json.loads(line[-1]) | {"peak_rss_mb": round(usage.ru_maxrss / 1024)}
