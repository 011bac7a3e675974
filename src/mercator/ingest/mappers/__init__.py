"""Built-in mappers for common marketing exports.

``mercator ingest FILE`` picks the mapper whose signature columns the file has; pass
``mapper=`` (CLI ``--mapper``) to choose one, or a YAML mapping for anything else.
"""

from mercator.errors import MappingError
from mercator.ingest._readers import RawSource
from mercator.ingest.mappers._base import Mapper, json_object, with_content_id
from mercator.ingest.mappers._platforms import ALL

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


__all__ = ["MAPPERS", "Mapper", "detect_mapper", "json_object", "with_content_id"]
