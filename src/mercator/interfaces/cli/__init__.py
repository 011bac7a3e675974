"""The ``mercator`` command line (Typer + Rich): one module per noun, each adding its
commands to the one root ``app``.

Every command that returns a result accepts ``--json`` and then prints exactly one JSON
document (the result's ``to_dict()``) on stdout; logs and progress go to stderr.
"""

from mercator.interfaces.cli import (  # noqa: F401  (each module registers its commands)
    attribution,
    clv,
    dashboard,
    decide,
    diagnose,
    experiment,
    explore,
    forecast,
    govern,
    mmm,
    monitor,
    recommend,
    report,
    segment,
    serve,
    target,
    text,
    workspace,
)
from mercator.interfaces.cli._common import app

__all__ = ["app"]
