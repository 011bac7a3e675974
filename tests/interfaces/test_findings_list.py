"""Long lists of findings (issue 18, item 6): the terminal and the HTML page show the first
LEAD_FINDINGS (the findings are ranked) and keep the rest behind a "more" list; --json has all."""

from __future__ import annotations

import io
import json

from rich.console import Console

from mercator.interfaces.cli import _common as cli
from mercator.interfaces.report import result_page
from mercator.results import LEAD_FINDINGS, Finding, Result


def _result(n: int) -> Result:
    return Result(findings=tuple(Finding(f"finding number {i}", impact=float(n - i)) for i in range(n)))


def test_terminal_shows_the_lead_and_counts_the_rest(monkeypatch):
    buffer = io.StringIO()
    monkeypatch.setattr(cli, "out", Console(file=buffer, width=100))
    cli._emit(_result(LEAD_FINDINGS + 3), as_json=False)
    text = buffer.getvalue()
    assert f"finding number {LEAD_FINDINGS - 1}" in text and f"finding number {LEAD_FINDINGS}" not in text
    assert "... 3 more findings" in text


def test_json_has_every_finding(capsys):
    cli._emit(_result(LEAD_FINDINGS + 3), as_json=True)
    assert len(json.loads(capsys.readouterr().out)["findings"]) == LEAD_FINDINGS + 3


def test_page_keeps_the_rest_behind_more(tmp_path):
    html = result_page(_result(LEAD_FINDINGS + 3), tmp_path / "r.html", "test").read_text()
    lead, more = html.split("<details", 1)
    assert f"finding number {LEAD_FINDINGS - 1}" in lead and f"finding number {LEAD_FINDINGS}<" not in lead
    assert "3 more findings" in more and f"finding number {LEAD_FINDINGS + 2}" in more
