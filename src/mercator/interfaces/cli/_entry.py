"""The ``mercator`` executable: answers ``mercator version`` before loading the command line
(Typer coerces every option through pydantic, about 0.1 s that a version check should not
pay), and hands everything else to the Typer app."""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:] == ["version"]:
        from mercator import __version__

        sys.stdout.write(f"{__version__}\n")
        return
    from mercator.interfaces.cli import app

    app()
