"""Experiment data in the engine: where the units come from, and their sufficient statistics.

Every analysis reads the per-variant (and per-segment) count, means, variances and the few
covariances its metrics need, computed by one ``GROUP BY`` inside DuckDB or Spark. Nothing
per unit comes back to Python, so 100M rows cost one scan (DuckDB reads Parquet files in
place). The sources:

- a file: Parquet (one file or a glob such as ``days/*.parquet``) or CSV, read by DuckDB;
- a pandas DataFrame or an Ibis table;
- a workspace experiment: its ``assignments`` joined in the engine with ``orders`` in the window
  after each unit's assignment (``converted``, ``orders``, ``revenue``) and in as many days
  before it (``pre_converted``, ``pre_orders``, ``pre_revenue``, the CUPED covariates).
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir
import pandas as pd

from mercator.errors import MercatorError, NotFoundError
from mercator.experiment._stats import Aggregates, Metric
from mercator.frames import require_columns


def experiment_units(ws, experiment_id: str, *, window_days: int | None = None, channel: str | None = None
                     ) -> tuple[ir.Table, dict]:
    """One row per assigned unit of a workspace experiment, as an engine expression: its variant,
    whether it ordered (``converted``), its ``orders`` and ``revenue`` within ``window_days`` of
    assignment (default: the experiment's length), and the same over as many days before its
    assignment (``pre_*``). Returns the expression and the experiment's row."""
    e = ws.table("experiments")
    row = e.filter(e.experiment_id == experiment_id).to_pyarrow().to_pylist()
    if not row:
        known = e.experiment_id.to_pyarrow().to_pylist()
        raise NotFoundError(f"no experiment {experiment_id!r} in the workspace; experiments: {known}")
    start, end = row[0]["start"], row[0]["end"]
    days = window_days or ((end - start).days + 1 if start and end else 28)
    a = ws.table("assignments")
    a = a.filter(a.experiment_id == experiment_id)
    o = ws.table("orders")
    o = o.filter(o.customer_id.notnull() & ~o.is_return.fill_null(False))
    if channel:
        o = o.filter(o.channel == channel)
    o = o.select("order_id", "customer_id", "ts", "revenue")
    win = ibis.interval(days=days)
    j = a.left_join(o, [a.unit_id == o.customer_id, o.ts >= a.assigned_at - win, o.ts < a.assigned_at + win])
    post = j.ts >= j.assigned_at
    units = j.group_by([j.unit_id, j.variant]).aggregate(
        orders=post.ifelse(j.order_id, ibis.null()).count(), revenue=post.ifelse(j.revenue, 0.0).sum(),
        pre_orders=(~post).ifelse(j.order_id, ibis.null()).count(), pre_revenue=(~post).ifelse(j.revenue, 0.0).sum())
    units = units.mutate(converted=(units.orders > 0).cast("int64"), revenue=units.revenue.fill_null(0.0),
                         pre_converted=(units.pre_orders > 0).cast("int64"),
                         pre_revenue=units.pre_revenue.fill_null(0.0))
    return units, dict(row[0], window_days=days)


def quality(table: ir.Table, variant: str, *, unit: str | None = None, exposure: str | None = None,
            clean: bool = False) -> tuple[pd.DataFrame, ir.Table]:
    """Data-quality checks of a unit-level experiment table, in the engine, and (with
    ``clean``) the table without the rows they flag:

    - exposure mismatch: each variant should show one thing (``exposure``, such as the landing
      page); rows showing another than the variant's usual one are flagged;
    - units in more than one variant (after the mismatches are set aside): all their rows go;
    - units with more than one row: the first is kept.
    Returns the checks (check, rows, detail) and the table to analyse."""
    rows = []
    if exposure is not None:
        x = table.group_by([variant, exposure]).aggregate(rows=table.count()).to_pandas()
        usual = x.sort_values("rows", ascending=False).drop_duplicates(variant).set_index(variant)[exposure]
        x["usual"] = x[variant].map(usual)
        bad = x[x[exposure] != x["usual"]]
        detail = "; ".join(f"{r[variant]} showing {r[exposure]}: {int(r['rows']):,}" for _, r in bad.iterrows())
        rows.append({"check": f"{exposure} differs from the variant's usual one", "rows": int(bad["rows"].sum()),
                     "detail": detail or "none"})
        if clean:
            cond = ibis.or_(*[(table[variant] == v) & (table[exposure] == e) for v, e in usual.items()])
            table = table.filter(cond)
    if unit is not None:
        per = table.group_by(unit).aggregate(n=table.count(), variants=table[variant].nunique())
        s = per.aggregate(dup_units=(per.n > 1).cast("int64").sum(), extra_rows=(per.n - 1).sum(),
                          cross=(per.variants > 1).cast("int64").sum()).to_pandas().iloc[0].fillna(0)
        rows.append({"check": f"{unit}s in more than one variant", "rows": int(s["cross"]),
                     "detail": "all their rows are dropped when cleaning" if s["cross"] else "none"})
        rows.append({"check": f"{unit}s with more than one row", "rows": int(s["dup_units"]),
                     "detail": f"{int(s['extra_rows']):,} extra row(s); the first is kept when cleaning"
                     if s["dup_units"] else "none"})
        if clean:
            single = per.filter(per.variants == 1).select(unit)
            table = table.semi_join(single, unit).distinct(on=unit, keep="first")
    return pd.DataFrame(rows, columns=["check", "rows", "detail"]), table


def _numeric(table: ir.Table, columns: Sequence[str], name: str) -> None:
    schema = table.schema()
    require_columns(schema.names, columns, name)
    bad = [f"{c} ({schema[c]})" for c in columns if not (schema[c].is_numeric() or schema[c].is_boolean())]
    if bad:
        raise MercatorError(f"{name}: column(s) {', '.join(bad)} are not numbers; metrics need numeric or 0/1 "
                            "columns")


def aggregate(table: ir.Table, variant: str, metrics: Sequence[Metric], *, by: Sequence[str] = (),
              name: str = "the data") -> tuple[dict[tuple, Aggregates], set[str]]:
    """Per (variant, *by) group, the :class:`Aggregates` the metrics need, in one engine query;
    and the metric columns that hold only 0 and 1 (read as proportions)."""
    cols = sorted({c for m in metrics for c in m.columns})
    _numeric(table, cols, name)
    keys = [variant, *by]
    require_columns(table.columns, keys, name)
    pairs = sorted({(a, b) if a <= b else (b, a) for m in metrics for a in m.columns for b in m.columns})
    schema = table.schema()
    t = table.select(*[(table[k] if schema[k].is_string() else table[k].cast("string")).name(f"k{i}")
                       for i, k in enumerate(keys)],
                     **{f"x{i}": table[c].cast("float64") for i, c in enumerate(cols)})
    x = {c: t[f"x{i}"] for i, c in enumerate(cols)}
    # a whole-number column is 0/1 exactly when sum(x^2 - x) = (n - 1) var + n mean (mean - 1) is 0
    # (x^2 - x >= 2 at every other whole number, far above rounding): no extra aggregate needed
    binary_candidates = sorted({m.num for m in metrics if m.den is None and (schema[m.num].is_integer()
                                                                              or schema[m.num].is_boolean())})
    # one count of rows with any empty metric cell (a sum is empty when any term is); only when
    # there are some does a second query find which column
    aggs = {"n": t.count(), "complete": sum(x.values(), ibis.literal(0.0)).count()}
    for i, c in enumerate(cols):
        aggs[f"m{i}"] = x[c].mean()
    for j, (a, b) in enumerate(pairs):
        aggs[f"v{j}"] = x[a].var(how="sample") if a == b else x[a].cov(x[b], how="sample")
    grouped = t.group_by([f"k{i}" for i in range(len(keys))])
    out = grouped.aggregate(**aggs).to_pandas()
    if out.empty:
        raise MercatorError(f"{name}: no rows")
    if (out["n"] != out["complete"]).any():
        nulls = t.aggregate(**{c: x[c].isnull().cast("int64").sum() for c in cols}).to_pandas().iloc[0]
        c = nulls.idxmax()
        raise MercatorError(f"{name}: column {c} is empty in {int(nulls[c]):,} row(s); fill them (0 for no "
                            "activity) or drop them")
    result = {}
    for _, r in out.iterrows():
        n = float(r["n"])
        covs = {p: (float(r[f"v{j}"]) if n > 1 and pd.notna(r[f"v{j}"]) else 0.0) for j, p in enumerate(pairs)}
        result[tuple(r[f"k{i}"] for i in range(len(keys)))] = Aggregates(
            n, {c: float(r[f"m{i}"]) for i, c in enumerate(cols)}, covs)
    binary = {c for c in binary_candidates
              if all(abs((a.n - 1) * a.covs[(c, c)] + a.n * a.means[c] * (a.means[c] - 1)) < 0.5 for a in result.values())}
    return result, binary


__all__ = ["aggregate", "experiment_units", "quality"]
