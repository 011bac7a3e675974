"""Attribution of conversions to channels."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mercator.interfaces._params import csv_list, days, iso_date
from mercator.interfaces.cli._common import (
    JsonOpt,
    WorkspaceOpt,
    _analysis,
    _file_or_workspace,
    app,
)


@app.command("attribution")
def attribution_cmd(model: Annotated[str | None, typer.Option(
                        "--model", help="Models, comma-separated (default all): first_touch, last_touch, "
                                        "last_non_direct, linear, time_decay, position_based, markov_1, markov_2, "
                                        "markov_3, shapley.")] = None,
                    lookback: Annotated[str, typer.Option(help="Touches counted before a conversion: 30d, 2w.")]
                    = "30d",
                    half_life: Annotated[str, typer.Option(help="Half-life of time-decay credit.")] = "7d",
                    conversion_event: Annotated[str, typer.Option(help="The event that is a conversion.")]
                    = "purchase",
                    since: Annotated[str | None, typer.Option(help="First day of events (YYYY-MM-DD).")] = None,
                    until: Annotated[str | None, typer.Option(help="Last day of events (YYYY-MM-DD).")] = None,
                    exclude_channels: Annotated[str | None, typer.Option(help="Channels that are not touches.")]
                    = None,
                    paths: Annotated[Path | None, typer.Option(help="A CSV/Parquet of paths with counts instead "
                                                                   "of the workspace's events.")] = None,
                    path_col: Annotated[str, typer.Option(help="Path column (channels joined by --sep).")] = "path",
                    conversions_col: Annotated[str, typer.Option(help="Conversions per path (or 0/1).")]
                    = "conversions",
                    nulls_col: Annotated[str | None, typer.Option(help="Journeys without conversion per path.")]
                    = "nulls",
                    value_col: Annotated[str | None, typer.Option(help="Conversion value per path.")] = "value",
                    sep: Annotated[str, typer.Option(help="Separator between channels in --paths.")] = ">",
                    workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Credit per channel under each attribution model, which model the data supports,
    cost per conversion and ROAS, and platform-reported vs attributed conversions."""
    from mercator.attribution import MODELS, attribution

    models = tuple(csv_list(model)) or MODELS
    kw = {"models": models, "lookback_days": days(lookback), "half_life_days": days(half_life),
              "conversion_event": conversion_event, "start": iso_date(since), "end": iso_date(until),
              "exclude_channels": tuple(csv_list(exclude_channels))}
    if paths is not None:
        def run(ws):
            return attribution(ws, paths=paths, path_col=path_col, conversions_col=conversions_col,
                               nulls_col=nulls_col or None, value_col=value_col or None, sep=sep, **kw)
        _file_or_workspace(workspace, str(paths), run, as_json)
    else:
        _analysis(workspace, lambda ws: attribution(ws, **kw), as_json)

