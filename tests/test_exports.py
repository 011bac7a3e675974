"""CSV exports cannot carry spreadsheet formulas (issue 17, item 12; OWASP "CSV Injection"):
one writer, used by every export, neutralizes text that starts like a formula."""

from __future__ import annotations

import csv
import re

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from mercator.exports import FORMULA_STARTS, write_csv
from mercator.interfaces.cli import app
from mercator.target import score_table, target_list, train_model

runner = CliRunner()
EVIL = ['=HYPERLINK("http://evil.example","click")', "+1+2", "-2+3", "@SUM(A1)", "\tX", "\rY"]


def _cells(path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def _assert_no_formula(path) -> None:
    bad = [c for row in _cells(path) for c in row if c.startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(c)]
    assert not bad, f"{path}: cells a spreadsheet would run: {bad[:5]}"


def test_writer_neutralizes_text_and_keeps_numbers(tmp_path):
    p = write_csv(pd.DataFrame({"id": EVIL + ["plain", None], "value": [-1.5, 2, 3, 4, 5, 6, -7, 8]}),
                  tmp_path / "x.csv")
    rows = _cells(p)
    assert [r[0] for r in rows[1:7]] == ["'" + v for v in EVIL]
    assert rows[7][0] == "plain" and rows[1][1] == "-1.5" and rows[7][1] == "-7.0"  # numbers stay numbers
    _assert_no_formula(p)


def test_every_export_goes_through_the_writer(tmp_path, duckdb_ws):
    """target score, uplift target lists and clv fit --output, each with customer ids that are
    formulas."""
    rng = np.random.default_rng(3)
    n = 3000
    ids = [EVIL[i % len(EVIL)] + str(i) for i in range(n)]
    x1 = rng.normal(size=n)
    frame = pd.DataFrame({"customer_id": ids, "x1": x1, "x2": rng.normal(size=n),
                          "bought": (rng.random(n) < 1 / (1 + np.exp(1 - 2 * x1))).astype(int)})
    src = tmp_path / "data.csv"
    frame.to_csv(src, index=False)
    model = tmp_path / "m.mercator-model"
    train_model(None, str(src), "bought", exclude=["customer_id"], save_to=model)
    scores = tmp_path / "scores.csv"
    score_table(model, None, str(src), scores, id_col="customer_id", batch_size=1000)
    _assert_no_formula(scores)
    assert pd.read_csv(scores).customer_id.iloc[0] == "'" + ids[0]

    frame["arm"] = np.where(rng.random(n) < 0.5, "mail", "none")
    frame.to_csv(src, index=False)
    listed = tmp_path / "list.csv"
    target_list(None, str(src), listed, treatment_col="arm", treated="mail", control="none", outcome="bought",
                id_col="customer_id", top=500)
    _assert_no_formula(listed)

    rows = ["order_id,customer_id,ts,revenue"]
    for c in range(300):
        days = np.unique(rng.integers(0, 180, 1 + rng.poisson(0.3 + 2 * rng.random())))
        rows += [f"o{c}_{d},{EVIL[c % 4].replace(',', ' ').replace(chr(34), '')}{c},"
                 f"{np.datetime64('2024-01-01') + d} 10:00:00,{10 + c % 50}" for d in days]
    orders = tmp_path / "orders.csv"
    orders.write_text("\n".join(rows) + "\n")
    ws = str(tmp_path / "w.duckdb")
    assert runner.invoke(app, ["ingest", str(orders), "--table", "orders", "-w", ws]).exit_code == 0
    out = tmp_path / "clv.csv"
    res = runner.invoke(app, ["clv", "fit", "--calibration-end", "2024-03-01", "--output", str(out), "-w", ws])
    assert res.exit_code == 0, res.output
    _assert_no_formula(out)
    assert any(c.startswith("'=") for row in _cells(out) for c in row)
