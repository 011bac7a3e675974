"""Ingestion: read files, map them to canonical tables, validate, quarantine, load.

>>> from mercator import Workspace
>>> from mercator.ingest import ingest
>>> ws = Workspace("shop.duckdb")
>>> ingest(ws, "orders.csv", table="orders")             # columns matched by name
>>> ingest(ws, "KAG_conversion_data.csv")                 # built-in mapper, detected
>>> ingest(ws, "export.csv", mapping="google_ads.yaml")   # YAML mapping
"""

from mercator.ingest._load import IngestResult, combine, ingest
from mercator.ingest._mapping import (
    ColumnSource,
    Currency,
    TableMapping,
    identity_mapping,
    load_mapping,
)
from mercator.ingest._pii import mask_text, pii_kind_of_header, pseudonymize, redact_text
from mercator.ingest._readers import RawSource, read_source
from mercator.ingest.mappers import MAPPERS, Mapper, MapperList, detect_mapper, list_mappers

__all__ = [
    "MAPPERS",
    "ColumnSource",
    "Currency",
    "IngestResult",
    "Mapper",
    "MapperList",
    "RawSource",
    "TableMapping",
    "combine",
    "detect_mapper",
    "identity_mapping",
    "ingest",
    "list_mappers",
    "load_mapping",
    "mask_text",
    "pii_kind_of_header",
    "pseudonymize",
    "read_source",
    "redact_text",
]
