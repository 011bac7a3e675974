"""Sample ratio: the units per arm against the planned split (equal unless a designed unequal
split is given), the table and the sentences that report it."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from mercator.errors import MercatorError
from mercator.experiment._stats import Aggregates, srm
from mercator.results import Finding

SRM_ALPHA = 0.001  # the usual threshold: a real mismatch gives p far below it, chance rarely does
SRM_MILD = 0.01  # between the two: said in the readable output as an imbalance to check


def parse_split(text: str) -> dict[str, float]:
    """``"psa:0.04,ad:0.96"`` (or ``"psa:4%,ad:96%"``, or ``"control:1,treatment:3"``) -> the
    planned share of each arm, summing to one."""
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        arm, _, share = part.rpartition(":")
        try:
            value = float(share.strip().rstrip("%"))
        except ValueError:
            value = -1.0
        if not arm.strip() or value <= 0:
            raise MercatorError(f"expected split {part!r}: write ARM:SHARE with a positive share, e.g. "
                                "\"psa:0.04,ad:0.96\"")
        out[arm.strip()] = value
    if not out:
        raise MercatorError("expected split: give ARM:SHARE for every arm, e.g. \"psa:0.04,ad:0.96\"")
    total = sum(out.values())
    return {k: v / total for k, v in out.items()}


def srm_table(arms: dict[str, Aggregates], expected: Mapping[str, float] | None, name: str
              ) -> tuple[pd.DataFrame, float]:
    """Units, share and planned share per arm, and the SRM p-value; a planned split must name
    every arm and only those."""
    if expected and set(expected) != set(arms):
        raise MercatorError(f"{name}: the expected split names {sorted(expected)} but the arms are {sorted(arms)}; "
                            "give a share for every arm (e.g. "
                            f"\"{','.join(f'{a}:{1 / len(arms):.2f}' for a in sorted(arms))}\")")
    counts = {v: a.n for v, a in sorted(arms.items())}
    _, p = srm(counts, expected)
    total = sum(counts.values())
    share = np.array([(expected or {}).get(k, 1.0) for k in counts], float)
    return pd.DataFrame({"variant": list(counts), "units": list(counts.values()),
                         "share": [c / total for c in counts.values()], "expected_share": share / share.sum()}), p


def srm_findings(variants: pd.DataFrame, params: dict) -> list[Finding]:
    """A mismatch (p < 0.001: the assignment is broken) or a mild imbalance to check
    (0.001 <= p < 0.01), said against the planned split."""
    p = params["srm_pvalue"]
    if p >= SRM_MILD:
        return []
    units = ", ".join(f"{a} {int(n):,}" for a, n in zip(variants.variant, variants.units, strict=True))
    split = params.get("expected_split")
    planned = ("the planned split " + ", ".join(f"{a} {w:.0%}" for a, w in split.items())) if split else \
        "an equal split (pass --expected-split if the test was designed unequal)"
    if p < SRM_ALPHA:
        return [Finding(f"Sample ratio mismatch: {units} units against {planned} (p = {p:.2g}). The assignment or "
                        "the logging is broken; do not trust the effects until it is explained.", metric="srm",
                        value=p, impact=100.0)]
    return [Finding(f"Mild imbalance to check: {units} units against {planned} (p = {p:.2g}). Not enough to call "
                    f"the assignment broken (that takes p < {SRM_ALPHA}), but worth a look at how units were "
                    "assigned and logged.", metric="srm", value=p, impact=20.0)]


__all__ = ["SRM_ALPHA", "SRM_MILD", "parse_split", "srm_findings", "srm_table"]
