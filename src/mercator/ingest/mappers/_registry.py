"""The built-in mappers by name, and which one recognizes a file."""

from __future__ import annotations

from dataclasses import dataclass

from mercator.errors import MappingError
from mercator.ingest._readers import RawSource
from mercator.ingest.mappers._base import Mapper
from mercator.ingest.mappers._platforms import ALL
from mercator.results import Result

MAPPERS: dict[str, Mapper] = {m.name: m for m in ALL}


def detect_mapper(raw: RawSource) -> Mapper:
    """The built-in mapper that recognizes the file's columns."""
    for m in ALL:
        if m.matches(raw.columns):
            return m
    raise MappingError(
        f"{raw.path}: no built-in mapper recognizes the columns {', '.join(raw.columns[:12])}"
        f"{' ...' if len(raw.columns) > 12 else ''}. Pass --table T to match columns by name, or "
        f"--mapping FILE (see docs/ingest.md). Built-in mappers: {', '.join(MAPPERS)}."
    )


@dataclass(frozen=True)
class MapperList(Result):
    """The built-in mappers and the columns that identify each export."""

    kind = "mappers"
    title = "Built-in mappers"


def list_mappers() -> MapperList:
    import pandas as pd

    df = pd.DataFrame([{"mapper": m.name, "description": m.description, "signature": ", ".join(sorted(m.signature)),
                        "options": "; ".join(f"{k}: {v}" for k, v in m.options.items())} for m in MAPPERS.values()])
    return MapperList(tables={"mappers": df})
