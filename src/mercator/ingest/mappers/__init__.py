"""Built-in mappers for common exports."""

MAPPERS: dict = {}


def detect_mapper(raw):  # noqa: ANN001, ANN201
    raise NotImplementedError
