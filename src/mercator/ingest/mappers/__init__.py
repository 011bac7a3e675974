"""Built-in mappers for common marketing exports.

``mercator ingest FILE`` picks the mapper whose signature columns the file has; pass
``mapper=`` (CLI ``--mapper``) to choose one, or a YAML mapping for anything else.
"""

from mercator.ingest.mappers._base import Mapper, json_object, with_content_id
from mercator.ingest.mappers._registry import MAPPERS, MapperList, detect_mapper, list_mappers

__all__ = ["MAPPERS", "Mapper", "MapperList", "detect_mapper", "json_object", "list_mappers", "with_content_id"]
