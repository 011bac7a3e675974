"""``--html FILE`` (issue 18, item 2): a file analysis gets a self-contained page with its
findings, charts and every table; every command that prints a result accepts it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import typer
from typer.testing import CliRunner

from mercator.interfaces.cli import app

runner = CliRunner()


def _commands(group, path=()):
    for name, cmd in group.commands.items():
        if hasattr(cmd, "commands"):
            yield from _commands(cmd, (*path, name))
        else:
            yield (*path, name), cmd


def test_every_result_command_takes_html_wide_and_output():
    root = typer.main.get_command(app)
    with_json = [(p, c) for p, c in _commands(root) if any(x.name == "as_json" for x in c.params)]
    assert len(with_json) > 20
    for path, cmd in with_json:
        names = {x.name for x in cmd.params}
        assert {"html", "wide", "output"} <= names, path
        assert len([x for x in cmd.params if x.name == "output"]) == 1, path


def test_file_ab_test_as_a_page(tmp_path):
    rng = np.random.default_rng(3)
    n = 3000
    f = tmp_path / "ab.csv"
    pd.DataFrame({"group": np.where(np.arange(n) % 2 == 0, "control", "treatment"),
                  "converted": (rng.random(n) < 0.1).astype(int)}).to_csv(f, index=False)
    page = tmp_path / "out" / "ab.html"
    r = runner.invoke(app, ["experiment", "analyze", "--data", str(f), "--variant-col", "group", "--html", str(page),
                            "--json"])
    assert r.exit_code == 0, r.output
    html = page.read_text()
    assert "<script src" not in html and "Plotly.newPlot" in html  # self-contained, with its chart
    assert "<h2>Experiment</h2>" in html and "converted: " in html  # the lead finding
    assert "<h3>effects</h3>" in html and "<h3>variants</h3>" in html
