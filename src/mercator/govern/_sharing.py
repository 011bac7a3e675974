"""The sharing gate: a data set leaves for a partner only if nobody in it stands out.

Given the quasi-identifiers (columns that are not names but together can single a person out:
place, time zone, age, postcode, the time of a post) and the sensitive column, the data set
passes when every group of rows sharing the same quasi-identifiers holds at least ``k`` rows
(k-anonymity, Sweeney 2002) and at least ``l`` distinct sensitive values (distinct
l-diversity, Machanavajjhala et al. 2007). The groups are counted in the engine.

When it fails, the gate suggests generalizations that would pass and says what each costs:
numbers into bands, times truncated (hour, day, month), text truncated to a prefix, a column
left out, and, last, the rows of the groups still too small suppressed. The suggestion is
greedy (each step the generalization that makes the fewest rows stand out, per value lost), a
heuristic in the spirit of ARX's and Mondrian's search, not an optimum.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import ibis
import ibis.expr.types as ir
import pandas as pd

from mercator.errors import BadParameter

_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}")
from mercator.results import Finding, Result


@dataclass(frozen=True)
class SharingCheck(Result):
    """Whether a data set may go to a partner, and what would make it pass."""

    kind = "sharing_check"
    title = "Sharing gate"
    headline = ("summary", "suggestions")
    display: ClassVar[dict[str, tuple[str, ...]]] = {
        "summary": ("rows", "groups", "k", "l", "rows_below_k", "passes"),
        "suggestions": ("step", "column", "generalization", "k", "l", "rows_below_k", "distinct_before",
                        "distinct_after")}


def _consenting_only(ws, t: ir.Table, name: str, id_col: str, purpose: str) -> tuple[ir.Table, int]:
    """``t`` without the people who did not consent to ``purpose``, and how many rows went."""
    from mercator.govern._targeting import eligible, eligible_frame

    if ws is None:
        raise BadParameter(f"{name} has person ids ({id_col}): checking their consent to {purpose} needs the "
                           "workspace")
    from mercator.schema import TABLES

    if name in TABLES:  # a workspace table: filtered where it is
        res = eligible(ws, t, id_col=id_col, purpose=purpose)
        return res.people, sum(res.removed.values())
    # a file or a frame, read by its own engine: its ids are checked in the workspace's
    kept, removed = eligible_frame(ws, t.to_pandas(), id_col=id_col, purpose=purpose)
    return ibis.memtable(kept), sum(removed.values())


def _stats(t: ir.Table, quasi: Sequence[str], sensitive: str | None, k: int, l: int) -> dict:
    """Rows, groups, the smallest group, the least diverse group, and the rows in failing groups."""
    g = t.group_by(list(quasi)).aggregate(n=t.count(), **({"d": t[sensitive].nunique()} if sensitive else {}))
    bad = (g.n < k) | (g.d < l) if sensitive else (g.n < k)
    row = g.aggregate(rows=g.n.sum(), groups=g.count(), k=g.n.min(),
                      **({"l": g.d.min()} if sensitive else {}),
                      below=g.n.sum(where=bad)).to_pyarrow().to_pylist()[0]
    return {"rows": int(row["rows"] or 0), "groups": int(row["groups"] or 0), "k": int(row["k"] or 0),
            "l": int(row["l"] or 0) if sensitive else None, "rows_below_k": int(row["below"] or 0)}


def _candidates(t: ir.Table, col: str) -> list[tuple[str, object]]:
    """Ways to generalize ``col``, mildest first: (description, function of the original column)."""
    c = t[col]
    dtype = c.type()
    out: list[tuple[str, object]] = []
    if dtype.is_numeric():
        lo, hi = t.aggregate(lo=c.min(), hi=c.max()).to_pyarrow().to_pylist()[0].values()
        span = float(hi - lo) if lo is not None and hi is not None else 0.0
        for parts in (20, 10, 5, 2):
            width = span / parts if span else 1.0
            out.append((f"bands of {width:g}", lambda x, lo=lo, w=width: ((x - lo) / w).floor().cast("int64")))
    elif dtype.is_timestamp() or dtype.is_date():
        for unit, word in (("h", "hour"), ("D", "day"), ("W", "week"), ("M", "month")):
            if not (unit == "h" and dtype.is_date()):
                out.append((f"truncated to the {word}", lambda x, u=unit: x.truncate(u)))
    elif dtype.is_string():
        if _looks_like_time(t, col):  # an ISO date and time as text: truncated as text, in its own zone
            for n, word in ((13, "hour"), (10, "day"), (7, "month")):
                out.append((f"truncated to the {word}", lambda x, n=n: x.substr(0, n)))
        for n in (5, 3, 1):
            out.append((f"first {n} character(s)", lambda x, n=n: x.strip().lower().substr(0, n)))
    out.append(("left out", lambda x: ibis.literal("*")))
    return out


def _looks_like_time(t: ir.Table, col: str) -> bool:
    """Whether a text column holds ISO dates and times (``2015-02-24 11:35:52 -0800``)."""
    sample = t.select(v=t[col]).filter(t[col].notnull()).limit(50).to_pyarrow().column(0).to_pylist()
    return bool(sample) and sum(bool(_ISO.match(str(v))) for v in sample) > 0.9 * len(sample)


def sharing_gate(data, *, ws=None, quasi: Sequence[str], sensitive: str | None = None, k: int = 5, l: int = 2,
                 output: str | Path | None = None, max_steps: int = 12,
                 max_suppressed: float = 0.05, id_col: str = "customer_id",
                 purpose: str = "sale_sharing") -> SharingCheck:
    """Check ``data`` (a file, a frame or a workspace table) for k-anonymity and l-diversity on
    ``quasi``; write it to ``output`` only when it passes; otherwise suggest generalizations,
    stopping once the rows still standing out are at most ``max_suppressed`` of all (they are
    then suppressed; ARX calls it the suppression limit). A data set with a person id column
    (``id_col``) first loses everyone without consent to ``purpose`` (sale and sharing), through
    the one engine-side filter: the gate judges, and writes, only the rest."""
    from mercator.exports import write_csv
    from mercator.frames import engine_table
    from mercator.govern._audit import record_export

    if k < 2 or l < 1:
        raise BadParameter(f"k must be at least 2 and l at least 1; got k={k}, l={l}")
    t, name = engine_table(data, ws)
    quasi = list(dict.fromkeys(quasi))
    if not quasi:
        raise BadParameter("declare the quasi-identifiers: the columns that together could single a person out")
    missing = [c for c in [*quasi, *([sensitive] if sensitive else [])] if c not in t.columns]
    if missing:
        raise BadParameter(f"{name}: no column {missing[0]!r} (columns: {', '.join(t.columns)})")
    removed = 0
    if id_col in t.columns:
        t, removed = _consenting_only(ws, t, name, id_col, purpose)
    l_need = l if sensitive else 1
    t = t.mutate(**{c: t[c].cast("string").fill_null("(missing)") if t[c].type().is_string() else t[c]
                    for c in quasi})
    base = _stats(t, quasi, sensitive, k, l_need)
    passes = base["k"] >= k and (not sensitive or base["l"] >= l)
    summary = pd.DataFrame([{**base, "k_required": k, "l_required": l if sensitive else None, "passes": passes}])
    steps = []
    if not passes:
        steps = _suggest(t, quasi, sensitive, k, l_need, max_steps, int(max_suppressed * base["rows"]))
    params = {"source": name, "quasi": quasi, "sensitive": sensitive, "k_required": k, "l_required": l,
              "passes": passes, "k": base["k"], "l": base["l"], "no_consent": removed}
    if passes and output is not None:
        shared = t.to_pandas()
        write_csv(shared, output)  # the gate has passed: the whole data set, as shared, leaves
        record_export(ws, output, what=f"partner export of {name} (k = {base['k']})", rows=len(shared),
                      purpose=purpose if id_col in t.columns else None)
        params["output"] = str(output)
    what = f"k = {base['k']}" + (f", l = {base['l']}" if sensitive else "")
    if removed:
        findings_pre = [Finding(f"{removed:,} row(s) of people without consent to {purpose} were left out before "
                                "the check.", impact=0.9)]
    else:
        findings_pre = []
    if passes:
        text = (f"{name} may be shared: every group of {', '.join(quasi)} holds at least {k} rows"
                + (f" and {l} values of {sensitive}" if sensitive else "") + f" ({what})."
                + (f" Written to {output}." if output is not None else ""))
    else:
        text = (f"{name} may NOT be shared: {what} on {', '.join(quasi)} (required k >= {k}"
                + (f", l >= {l}" if sensitive else "") + f"); {base['rows_below_k']:,} of {base['rows']:,} rows are in "
                f"groups that single people out. Nothing was written.")
    findings = [Finding(text, impact=1.0), *findings_pre]
    if steps:
        last = steps[-1]
        findings.append(Finding(
            f"Suggested: {'; '.join(_final(steps))}; then k = {last['k']}"
            + (f", l = {last['l']}" if sensitive else "") + (f", with {last['rows_below_k']:,} row(s) to suppress"
                                                             if last["rows_below_k"] else "") + ".", impact=0.9))
    return SharingCheck(tables={"summary": summary, "suggestions": pd.DataFrame(steps, columns=[
        "step", "column", "generalization", "k", "l", "rows_below_k", "distinct_before", "distinct_after"])},
        findings=tuple(findings), params=params)


def _final(steps: list[dict]) -> list[str]:
    """The path's end per column (its last level replaces the earlier ones), then the suppression."""
    last = {s["column"]: s["generalization"] for s in steps}
    return [g if c == "(rows)" else f"{c} {g}" for c, g in last.items()]


def _suggest(t: ir.Table, quasi: list[str], sensitive: str | None, k: int, l: int, max_steps: int,
             suppressible: int) -> list[dict]:
    """Greedy: each step applies the generalization that leaves the fewest rows standing out
    (ties: the one that keeps the most distinct values), until at most ``suppressible`` rows
    do; those rows, in the groups still too small, are then suppressed. A column's next level replaces its last one (each level
    is computed from the original values, kept aside as ``__orig_<column>``); a level that
    loses nothing (a prefix as long as the values) is skipped."""
    options = {c: _candidates(t, c) for c in quasi}
    level = dict.fromkeys(quasi, -1)
    current = t.mutate(**{f"__orig_{c}": t[c] for c in quasi})
    steps: list[dict] = []
    distinct = {c: int(t[c].nunique().to_pyarrow().as_py()) for c in quasi}
    for step in range(1, max_steps + 1):
        best = None
        for c in quasi:
            # the column's next level that loses something (a prefix as long as the values is no step)
            while level[c] + 1 < len(options[c]):
                desc, fn = options[c][level[c] + 1]
                trial = current.mutate(**{c: fn(current[f"__orig_{c}"])})
                after = int(trial[c].nunique().to_pyarrow().as_py())
                if after < distinct[c]:
                    break
                level[c] += 1
            else:
                continue
            s = _stats(trial, quasi, sensitive, k, l)
            score = (s["rows_below_k"], -after)
            if best is None or score < best[0]:
                best = (score, c, desc, trial, s, after)
        if best is None:
            break
        _, c, desc, trial, s, after = best
        before, distinct[c] = distinct[c], after
        level[c] += 1
        current = trial
        steps.append({"step": step, "column": c, "generalization": desc, "k": s["k"], "l": s["l"],
                      "rows_below_k": s["rows_below_k"], "distinct_before": before, "distinct_after": after})
        if s["rows_below_k"] <= suppressible:
            break
    if steps and steps[-1]["rows_below_k"]:
        last = steps[-1]
        steps.append({"step": len(steps) + 1, "column": "(rows)", "generalization":
                      f"suppress the {last['rows_below_k']:,} rows still in small groups", "k": max(last["k"], k),
                      "l": None if last["l"] is None else max(last["l"], l), "rows_below_k": 0,
                      "distinct_before": None, "distinct_after": None})
    return steps
