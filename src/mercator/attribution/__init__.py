"""Multi-touch attribution: which channels earn the conversions.

>>> res = attribution(ws)                                   # journeys from the workspace's events
>>> res.to_frame("comparison")                              # credit share per channel and model
>>> res.to_frame("models")                                  # which model the data supports
>>> attribution(None, paths="paths.csv", path_col="path", conversions_col="conv", nulls_col="null")

Journeys are built in the engine (``_journeys``); the models run on the table of unique
paths (``_models``). Credit is given for conversions and for conversion value; with the
workspace's ``ad_performance`` cost, each channel gets a cost per attributed conversion and a
ROAS per model, and the platforms' own conversion counts are reconciled with ours.
"""

from mercator.attribution._analysis import (
    MODELS,
    AttributionResult,
    Paths,
    attribution,
    build_paths,
    read_paths,
)

__all__ = ["MODELS", "AttributionResult", "Paths", "attribution", "build_paths", "read_paths"]
