"""``python -m mercator.interfaces.cli``: the command line."""

from mercator.interfaces.cli import app

app()
