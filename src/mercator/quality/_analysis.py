"""The public analyses of ``mercator.quality`` (the package re-exports them)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import plotly.graph_objects as go

from mercator.results import Finding, Result
from mercator.schema import REASONS
from mercator.workspace import Workspace


@dataclass(frozen=True)
class QuarantineResult(Result):
    kind = "quarantine"
    title = "Quarantine"

    def figures(self) -> list:
        return plot_quarantine_by_reason(self.to_frame("by_reason"))


@dataclass(frozen=True)
class DataQualityResult(Result):
    kind = "data_quality"
    title = "Data quality"
    headline = ("tables", "quarantine_by_reason")

    def figures(self) -> list:
        tables = self.to_frame("tables")
        tables = tables[tables.rows > 0]
        figs = []
        if not tables.empty:
            fig = go.Figure(go.Bar(x=tables["table"], y=tables["rows"], name="rows loaded"))
            fig.update_layout(title="Rows per table", yaxis_type="log", yaxis_title="rows (log scale)", height=360)
            figs.append(fig)
        return figs + plot_quarantine_by_reason(self.to_frame("quarantine_by_reason"))


def plot_quarantine_by_reason(by_reason: pd.DataFrame) -> list:
    """Bars of rejected rows per table and reason (columns table_name, reason, rows)."""
    if by_reason.empty:
        return []
    labels = by_reason["table_name"] + ": " + by_reason["reason"]
    fig = go.Figure(go.Bar(x=by_reason["rows"], y=labels, orientation="h"))
    fig.update_layout(title="Quarantined rows by table and reason", xaxis_title="rows",
                      height=160 + 28 * len(by_reason), yaxis={"autorange": "reversed"})
    return [fig]


def _by_reason(ws: Workspace, table: str | None = None) -> pd.DataFrame:
    q = ws.table("quarantine")
    if table:
        q = q.filter(q.table_name == table)
    df = (q.group_by(["table_name", "reason"]).aggregate(rows=q.count(), files=q.source_file.nunique())
          .order_by([q.table_name, "reason"]).to_pandas())
    df = df.sort_values("rows", ascending=False, kind="stable").reset_index(drop=True)
    df["meaning"] = df["reason"].map(REASONS)
    return df


def quarantine_report(ws: Workspace, *, table: str | None = None, limit: int = 1000) -> QuarantineResult:
    """Rejected rows counted by table and reason, with up to ``limit`` of the rows themselves."""
    by_reason = _by_reason(ws, table)
    q = ws.table("quarantine")
    if table:
        q = q.filter(q.table_name == table)
    by_file = q.group_by(["source_file", "table_name"]).aggregate(rows=q.count()).order_by("source_file").to_pandas()
    rows = q.order_by(["table_name", "source_file", "source_row"]).limit(limit).to_pandas()
    total = int(by_reason["rows"].sum()) if len(by_reason) else 0
    findings = [Finding(f"{r.rows:,} rows rejected for {r.table_name}: {r.meaning} ({r.reason}).",
                        metric="rows_quarantined", segment=f"{r.table_name}/{r.reason}", value=float(r.rows),
                        impact=float(r.rows)) for r in by_reason.itertuples()]
    if not findings:
        findings = [Finding("No rows are in quarantine.", metric="rows_quarantined", value=0.0)]
    return QuarantineResult(tables={"by_reason": by_reason, "by_file": by_file, "rows": rows},
                            findings=tuple(findings), params={"table": table, "limit": limit, "total": total})


def data_quality(ws: Workspace) -> DataQualityResult:
    """Tables, rows and time ranges; loads; quarantine by reason."""
    inv = ws.inventory().to_frame()
    by_reason = _by_reason(ws)
    loads = ws.table("loads")
    load_df = loads.order_by(loads.started_at.desc()).limit(200).to_pandas()
    findings = []
    loaded = inv[inv.rows > 0]
    for r in loaded.itertuples():
        if r.table in ("quarantine", "loads"):
            continue
        span = f" from {str(r.first)[:10]} to {str(r.last)[:10]}" if r.first else ""
        findings.append(Finding(f"{r.table}: {r.rows:,} rows{span}.", metric="rows", segment=r.table,
                                value=float(r.rows), impact=0.0))
    read = int(load_df["rows_read"].sum()) if len(load_df) else 0
    for r in by_reason.itertuples():
        findings.append(Finding(f"{r.rows:,} rows meant for {r.table_name} were rejected: {r.meaning} "
                                f"({r.reason}); see `mercator quarantine --table {r.table_name}`.",
                                metric="rows_quarantined", segment=f"{r.table_name}/{r.reason}",
                                value=float(r.rows), impact=float(r.rows)))
    return DataQualityResult(
        tables={"tables": inv, "quarantine_by_reason": by_reason, "loads": load_df},
        findings=tuple(findings), params={"rows_read_recent_loads": read})
