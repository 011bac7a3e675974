"""LightGBM settings shared by every model that uses it (propensity, uplift, drivers)."""

from __future__ import annotations

import os

#: Below this many training rows a fit runs on one OpenMP thread. Measured on 2 cores with
#: OMP_WAIT_POLICY=passive and 200-300 trees of 15 leaves (November 2026): one thread against
#: two took 0.13 s against 1.33 s for 8,760 rows and 0.58 s against 1.17 s for 60,000; two won
#: from about 300,000 rows (2.3 s against 2.6 s).
ONE_THREAD_BELOW = 200_000


def threads(rows: int) -> int:
    """OpenMP threads for a LightGBM fit on ``rows`` training rows."""
    return 1 if rows < ONE_THREAD_BELOW else max(1, os.cpu_count() or 1)
