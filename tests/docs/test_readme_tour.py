"""The README's tour, run as written (issue 18, item 17): every command in its bash block
succeeds, in order, in a fresh directory, and every line it quotes as output (``#   ->``)
is printed by the command before it. Real datasets are read from ../shared/data."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mercator.interfaces.cli import app
from tests.conftest import SHARED_DATA, shared

pytestmark = [pytest.mark.real, pytest.mark.slow]

README = Path(__file__).resolve().parents[2] / "README.md"
EXPECT = "#   -> "


def tour() -> list[str]:
    """The logical lines of the tour's bash block (continuations joined)."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## A tour on real data"):]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL).group(1)
    return block.replace("\\\n", " ").splitlines()


def _plain(text: str) -> str:
    """Terminal output without its wrapping: a quoted sentence may break across lines."""
    return " ".join(re.sub(r"[│┃]", " ", text).split())


def test_the_tour_block_has_commands_and_quotes():
    lines = tour()
    assert sum(x.startswith("mercator ") for x in lines) >= 15
    assert sum(x.startswith(EXPECT) for x in lines) >= 10


def test_readme_tour_runs_and_prints_what_it_quotes(tmp_path, monkeypatch):
    shared()  # skips, with the reason, where ../shared/data is absent
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "100")
    env: dict[str, str | None] = {"MERCATOR_WORKSPACE": None}
    runner = CliRunner()
    last, output = None, ""
    for line in tour():
        line = line.strip()
        if line.startswith(EXPECT):
            quoted = line[len(EXPECT):].strip()
            assert _plain(quoted) in _plain(output), f"{last!r} did not print {quoted!r}:\n{output[-3000:]}"
        elif not line or line.startswith(("#", "source ")):
            continue
        elif line.startswith("export "):
            key, value = line[len("export "):].split("=", 1)
            env[key] = value
        elif line.startswith("unset "):
            env[line.split()[1]] = None
        else:
            assert line.startswith("mercator "), f"the tour runs only mercator commands: {line!r}"
            args = shlex.split(line.split(" #", 1)[0].replace("../shared/data", str(SHARED_DATA)))[1:]
            result = runner.invoke(app, args, env=env)
            last, output = line, result.stdout
            assert result.exit_code == 0, f"{line!r} failed:\n{result.output[-3000:]}"
