"""Result tables in a terminal (issue 18, item 4): at 80 and 120 columns every shown header is
whole, a table's meaning-carrying columns come first, the columns and rows left out are
counted, and ``--wide`` / ``--output FILE.csv`` give everything."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mercator.interfaces.cli import _common as cli
from mercator.interfaces.cli import app

runner = CliRunner()


@pytest.fixture
def ab_file(tmp_path):
    rng = np.random.default_rng(2)
    n = 4000
    frame = pd.DataFrame({"version": np.where(np.arange(n) % 2 == 0, "gate_30", "gate_40"),
                          "sum_gamerounds": rng.negative_binomial(0.8, 0.8 / 28, n),
                          "retention_1": (rng.random(n) < 0.45).astype(int),
                          "retention_7": (rng.random(n) < 0.19).astype(int)})
    path = tmp_path / "cookie_cats.csv"
    frame.to_csv(path, index=False)
    return path


def _run(args, width, monkeypatch):
    monkeypatch.setattr(cli.out, "width", width)
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    return r.stdout


def _headers(text: str, title: str) -> list[str]:
    """The header cells of the table titled ``title`` in Rich's box drawing."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == title)
    head = next(line for line in lines[start:] if line.startswith("┃"))
    return [c.strip() for c in head.strip("┃").split("┃")]


@pytest.mark.parametrize("width", [80, 120])
def test_effects_table_fits_with_whole_headers(ab_file, width, monkeypatch):
    args = ["experiment", "analyze", "--data", str(ab_file), "--variant-col", "version", "--control", "gate_30",
            "--metrics", "sum_gamerounds,retention_1,retention_7"]
    text = _run(args, width, monkeypatch)
    assert max(len(line) for line in text.splitlines()) <= width
    heads = _headers(text, "effects")
    assert heads[:5] == ["metric", "variant", "control", "treatment", "rel_effect"]
    assert all(h and "…" not in h for h in heads)  # never a header cut to nothing
    if width == 120:
        assert "p_adjusted" in heads and "significant" in heads
    hidden = 28 - len(heads)
    assert f"{hidden} more columns (all of it: --wide, --json or --output FILE.csv)" in text
    # no row of empty cells: every row of the table has its metric name
    body = [line for line in text.splitlines() if line.startswith("│")]
    assert body and all(line.strip("│ ").split("│")[0].strip() for line in body[:3])

    wide = _run([*args, "--wide"], width, monkeypatch)
    heads = _headers(wide, "effects")
    assert len(heads) == 28 and all("…" not in h for h in heads) and "more columns" not in wide


def test_long_tables_are_counted_and_output_writes_every_table(tmp_path, monkeypatch):
    monkeypatch.setattr(cli.out, "width", 80)
    frame = pd.DataFrame({"date": pd.date_range("2024-01-01", periods=60).astype(str), "value": np.arange(60.0)})
    result = cli.Result(tables={"daily": frame, "other": frame.head(3)})
    table, _ = cli._table("daily", frame, list(frame.columns), 80)
    assert table.caption.startswith("... 40 more rows") and table.row_count == cli.MAX_ROWS
    monkeypatch.setitem(cli._STATE, "output", str(tmp_path / "out" / "daily.csv"))
    cli._emit(result, as_json=True)
    assert len(pd.read_csv(tmp_path / "out" / "daily.csv")) == 60
    assert len(pd.read_csv(tmp_path / "out" / "daily-other.csv")) == 3


def test_ingest_loads_table_is_readable_at_80(tmp_path, monkeypatch):
    ads = tmp_path / "ads.csv"
    pd.DataFrame({"date": ["2024-01-01", "2024-01-02"], "campaign": ["a", "a"], "spend": [1.0, 2.0],
                  "impressions": [10, 20], "clicks": [1, 2]}).to_csv(ads, index=False)
    ws = tmp_path / "ws.duckdb"
    text = _run(["ingest", str(ads), "--table", "ad_performance", "--set", "platform=meta", "--workspace", str(ws)], 80,
                monkeypatch)
    heads = _headers(text, "loads")
    assert heads[:3] == ["table_name", "rows_read", "rows_inserted"]
    assert not re.search(r"table…|rows_…", text)
