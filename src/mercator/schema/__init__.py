"""The canonical data model: every table Mercator stores, declared once."""

from mercator.errors import SchemaError
from mercator.schema._docs import TableDescription, data_model_markdown, describe_table
from mercator.schema._model import (
    CODE_LISTS,
    EARLIEST_DATE,
    LOAD_ID,
    NOT_SET,
    REASONS,
    Column,
    RowCheck,
    TableSpec,
    iso4217,
)
from mercator.schema._tables import TABLES, table_spec

__all__ = [
    "CODE_LISTS", "EARLIEST_DATE", "LOAD_ID", "NOT_SET", "REASONS", "TABLES", "Column", "RowCheck", "SchemaError",
    "TableDescription", "TableSpec", "data_model_markdown", "describe_table", "iso4217", "table_spec",
]
