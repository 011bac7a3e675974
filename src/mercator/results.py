"""The one result convention every analysis follows.

An analysis is a function of tables and parameters that returns a frozen :class:`Result`;
it never prints. The report, the CLI, the REST API and the dashboard only render results:

- ``to_frame(name)``: the tables behind the result (pandas, small: the engine aggregated them);
- ``findings``: plain-language sentences with their numbers and uncertainty, ranked by impact;
- ``recommendations``: an action, its expected impact with an interval, and the evidence;
- ``figures()``: Plotly figures drawn from the tables (data and chart stay separate);
- ``to_dict()``: a JSON-safe dict, the document ``--json`` prints.

Subclasses set ``kind`` and ``title`` and, where a picture helps, override ``figures``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Self

if TYPE_CHECKING:  # pandas is imported where a table is made, so `mercator --help` starts fast
    import pandas as pd

#: Findings a renderer shows first; the rest sit behind a "more" list (they are ranked).
LEAD_FINDINGS = 7


def _jsonable(value: Any) -> Any:
    """Turn numpy/pandas scalars, dates and NaN into plain JSON values."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalar
        return _jsonable(value.item())
    return str(value)


def number(x: float, sign: bool = False) -> str:
    """A number for a sentence: 3 significant digits without an exponent (4,923 / 2.36 /
    0.0412), with its sign if ``sign``."""
    x = float(x)
    text = f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"
    return f"+{text}" if sign and x > 0 else text


def frame_records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """A DataFrame as JSON-safe records (ISO dates, NaN as null)."""
    return json.loads(df.to_json(orient="records", date_format="iso", date_unit="s"))


@dataclass(frozen=True)
class Finding:
    """A plain-language statement backed by numbers.

    ``impact`` orders findings (larger first); ``interval`` is the expected band or the
    uncertainty interval of ``value``; ``confidence`` is how sure we are (0-1), if known.
    """

    text: str
    metric: str | None = None
    segment: str | None = None
    value: float | None = None
    interval: tuple[float, float] | None = None
    impact: float = 0.0
    confidence: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(self.__dict__)


@dataclass(frozen=True)
class Recommendation:
    """An action with its expected impact (and interval) and the evidence behind it."""

    action: str
    expected_impact: float | None = None
    interval: tuple[float, float] | None = None
    unit: str | None = None
    evidence: str = ""

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(self.__dict__)


@dataclass(frozen=True)
class Result:
    """Base of every analysis result."""

    kind: ClassVar[str] = "result"
    title: ClassVar[str] = "Result"
    #: Per table, the columns that carry its meaning, in the order a reader wants them; a
    #: terminal shows these first (the rest under ``--wide``, ``--json`` and ``--output``).
    display: ClassVar[Mapping[str, tuple[str, ...]]] = {}
    #: The tables a report section shows, in order (None: every table); the rest stay in
    #: ``--json``, ``--output`` and the result's own page.
    headline: ClassVar[tuple[str, ...] | None] = None

    tables: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    findings: tuple[Finding, ...] = ()
    recommendations: tuple[Recommendation, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        ranked = tuple(sorted(self.findings, key=lambda f: -abs(f.impact)))
        object.__setattr__(self, "findings", ranked)

    def to_frame(self, name: str | None = None) -> pd.DataFrame:
        """The table ``name`` (default: the first one)."""
        if not self.tables:
            import pandas as pd

            return pd.DataFrame()
        if name is None:
            return next(iter(self.tables.values()))
        try:
            return self.tables[name]
        except KeyError:
            raise KeyError(f"{self.kind} has no table {name!r}; it has: {', '.join(self.tables)}") from None

    def display_columns(self, name: str) -> list[str]:
        """The columns of table ``name`` in display order: the named ones first, then the rest."""
        cols = [str(c) for c in self.tables[name].columns]
        first = [c for c in self.display.get(name, ()) if c in cols]
        return first + [c for c in cols if c not in first]

    def figures(self) -> list:
        """Plotly figures of the result; none by default."""
        return []

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Self:
        """The result a ``to_dict()`` document describes (what a server sent back), for display:
        tables come back as DataFrames of JSON values (dates as ISO text)."""
        import pandas as pd

        def interval(v: Any) -> tuple[float, float] | None:
            return tuple(v) if v is not None else None  # type: ignore[return-value]

        return cls(tables={name: pd.DataFrame.from_records(rows) for name, rows in doc.get("tables", {}).items()},
                   findings=tuple(Finding(**{**f, "interval": interval(f.get("interval"))})
                                  for f in doc.get("findings", ())),
                   recommendations=tuple(Recommendation(**{**r, "interval": interval(r.get("interval"))})
                                         for r in doc.get("recommendations", ())),
                   params=dict(doc.get("params", {})))

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "title": self.title,
            "params": _jsonable(dict(self.params)),
            "findings": [f.to_dict() for f in self.findings],
            "recommendations": [r.to_dict() for r in self.recommendations],
            "tables": {name: frame_records(df) for name, df in self.tables.items()},
        }


@dataclass(frozen=True)
class Unavailable(Result):
    """An analysis the data cannot support, and why (a report section says so instead of failing)."""

    kind = "unavailable"
    title = "Not available"

    @classmethod
    def because(cls, why: str) -> Unavailable:
        return cls(findings=(Finding(f"Not shown: {why}."),), params={"reason": why})
