"""The canonical data model: every table Mercator stores, declared once."""

from mercator.errors import SchemaError
from mercator.schema._docs import data_model_markdown
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
from mercator.schema._tables import TABLES


def table_spec(name: str) -> TableSpec:
    """The declaration of canonical table ``name``; a clear error for an unknown name."""
    try:
        return TABLES[name]
    except KeyError:
        raise SchemaError(
            f"{name!r} is not a canonical table. Canonical tables: {', '.join(TABLES)}."
        ) from None


__all__ = [
    "CODE_LISTS", "EARLIEST_DATE", "LOAD_ID", "NOT_SET", "REASONS", "TABLES", "Column", "RowCheck", "TableSpec",
    "data_model_markdown", "iso4217", "table_spec",
]
