"""Personal data in free text, found and protected: e-mail addresses, phone numbers, payment
cards (with the Luhn check), IBANs (with their checksum) and IP addresses, by Microsoft
Presidio's pattern recognizers.

Presidio's own analyzer engine needs a spaCy language model, which cannot be installed offline
here, so its recognizers are called one by one (each works from its patterns, context words and
checksums alone). Name-like entities (people, places) need that model and are out of scope.

Only the values that could hold one (an ``@``, a run of digits, a dotted quad) leave the
engine: the engine filters the column first, then Presidio reads the distinct candidates.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import ClassVar

import pandas as pd

from mercator.errors import BadParameter
from mercator.results import Finding, Result

#: Presidio's entity -> the short name used in pseudonyms and reports.
ENTITIES = {"EMAIL_ADDRESS": "email", "PHONE_NUMBER": "phone", "CREDIT_CARD": "card", "IBAN_CODE": "iban",
            "IP_ADDRESS": "ip"}
#: The least score a finding must have (Presidio scores a phone number 0.4 without context words).
MIN_SCORE = 0.4
#: A value may hold personal data only if it matches this (checked in the engine before Presidio).
CANDIDATE = r"@|[0-9][0-9 ().+-]{6,}[0-9]|[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}|[A-Za-z]{2}[0-9]{2} ?[A-Za-z0-9]{4}"
#: Tables the scan reads by default: where people write free text.
TEXT_TABLES = ("content", "quarantine", "events", "customers", "orders", "decisions", "playbook", "optimizations")


@cache
def _recognizers() -> tuple:
    """Presidio's pattern recognizers, built once (importing Presidio takes seconds)."""
    import tldextract

    # the e-mail recognizer checks the domain against the public suffix list: use the copy the
    # package ships instead of fetching it (no network here, and none needed)
    tldextract.tldextract.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        PhoneRecognizer,
    )

    return tuple(r() for r in (EmailRecognizer, PhoneRecognizer, CreditCardRecognizer, IbanRecognizer, IpRecognizer))


@dataclass(frozen=True)
class Span:
    entity: str
    start: int
    end: int
    score: float


def _inside_longer_number(text: str, start: int, end: int) -> bool:
    """Whether digits run on before or after the span, across one separator: a card number
    does not (an account number or an IBAN whose middle digits pass the Luhn check by chance, one
    time in ten, does). Presidio's card pattern stops at word boundaries, so it cannot tell."""
    before = re.search(r"(\S+)[ -]$", text[:start])
    return bool((before and before.group(1)[-1].isdigit()) or re.match(r"[ -]?\d", text[end:]))


def find_pii(text: str | None) -> list[Span]:
    """Every piece of personal data in ``text``, in order (where findings overlap, the one with
    the higher score, then the longer one)."""
    from mercator.ingest._pii import TOKEN

    if not text:
        return []
    tokens = [m.span() for m in TOKEN.finditer(text)]  # pseudonyms already: their hex digits are no phone
    spans = []
    for r in _recognizers():
        for x in r.analyze(text, r.supported_entities, None) or ():
            if x.score >= MIN_SCORE and x.entity_type in ENTITIES and not (
                    x.entity_type == "CREDIT_CARD" and _inside_longer_number(text, x.start, x.end)) and not any(
                    x.start < b and a < x.end for a, b in tokens):
                spans.append(Span(ENTITIES[x.entity_type], x.start, x.end, float(x.score)))
    # overlapping findings (a card's digits read as a phone too): the surest, then the longest, wins
    out: list[Span] = []
    for s in sorted(spans, key=lambda s: (-s.score, -(s.end - s.start), s.start)):
        if all(s.end <= o.start or s.start >= o.end for o in out):
            out.append(s)
    return sorted(out, key=lambda s: s.start)


def protect_pii(text: str | None, spans: Sequence[Span], *, how: str = "pseudonymize",
                key: str | Sequence[str] | None = None) -> str | None:
    """``text`` with each span replaced: ``<email:1f2e…>`` (its keyed pseudonym under the key
    chain ``key``, the same one ingest gives that e-mail or phone in a tagged column) or
    ``<email>`` (``how="redact"``)."""
    from mercator.ingest import pseudonymize

    if not text or not spans:
        return text
    if how not in ("pseudonymize", "redact"):
        raise BadParameter(f"how must be pseudonymize or redact; got {how!r}")
    if how == "pseudonymize" and not key:
        raise BadParameter("pseudonymizing needs the workspace's key")
    parts, at = [], 0
    for s in spans:
        value = text[s.start:s.end]
        token = f"<{s.entity}>" if how == "redact" else f"<{s.entity}:{pseudonymize(value, s.entity, key)}>"
        parts += [text[at:s.start], token]
        at = s.end
    parts.append(text[at:])
    return "".join(parts)


@dataclass(frozen=True)
class PiiScan(Result):
    """Personal data found in the columns no tag covers: where, what and how often."""

    kind = "pii_scan"
    title = "Personal data in free text"
    headline = ("found",)
    display: ClassVar[dict[str, tuple[str, ...]]] = {
        "found": ("table", "column", "entity", "values", "rows", "example"),
        "columns": ("table", "column", "rows", "candidates", "with_pii", "protected")}


def _text_columns(ws, tables: Iterable[str]) -> list[tuple[str, str]]:
    from mercator.schema import TABLES

    out = []
    for name in tables:
        spec = TABLES[name]
        for c in spec.columns:
            if c.dtype == "string" and c.pii is None and c.name not in spec.key and not c.name.endswith("_id"):
                out.append((name, c.name))
    return out


def scan_pii(ws, tables: Sequence[str] | None = None, *, protect_how: str | None = None) -> PiiScan:
    """Find personal data in every untagged text column of ``tables`` (default: ``TEXT_TABLES``
    present in the workspace); with ``protect_how`` (``pseudonymize`` or ``redact``), rewrite the
    values that hold some, in one transaction."""
    from mercator.schema import TABLES

    names = [t for t in (tables or TEXT_TABLES)]
    for t in names:
        if t not in TABLES:
            raise BadParameter(f"unknown table {t!r}; tables: {', '.join(TABLES)}")
    key = ws.config.keys() if protect_how == "pseudonymize" else None
    found, columns, rewrites = [], [], {}
    for table, col in _text_columns(ws, names):
        t = ws.table(table)
        rows = int(t.count().to_pyarrow().as_py())
        if not rows:
            continue
        cand = t.filter(t[col].notnull() & t[col].re_search(CANDIDATE)).select(v=t[col]).distinct()
        values = cand.to_pyarrow().column("v").to_pylist()
        hits = {v: s for v in values if (s := find_pii(v))}
        n_rows = 0
        if hits:
            n_rows = int(t.filter(t[col].isin(list(hits))).count().to_pyarrow().as_py())
            by_entity: dict[str, list[str]] = {}
            for v, spans in hits.items():
                for s in spans:
                    by_entity.setdefault(s.entity, []).append(v)
            for entity, vals in sorted(by_entity.items()):
                example = protect_pii(vals[0], hits[vals[0]], how="redact")
                found.append({"table": table, "column": col, "entity": entity, "values": len(set(vals)),
                              "rows": n_rows, "example": (example or "")[:120]})
            if protect_how:
                rewrites[(table, col)] = {v: protect_pii(v, s, how=protect_how, key=key) for v, s in hits.items()}
        columns.append({"table": table, "column": col, "rows": rows, "candidates": len(values), "with_pii": n_rows,
                        "protected": bool(protect_how and hits)})
    if rewrites:
        _rewrite(ws, rewrites)
    f = pd.DataFrame(found, columns=["table", "column", "entity", "values", "rows", "example"])
    c = pd.DataFrame(columns, columns=["table", "column", "rows", "candidates", "with_pii", "protected"])
    total = int(c.with_pii.sum()) if len(c) else 0
    text = (f"{total:,} value(s) in {int((c.with_pii > 0).sum())} column(s) hold personal data no tag covers"
            + (f"; {'pseudonymized' if protect_how == 'pseudonymize' else 'redacted'} in place." if protect_how
               and total else "." if total else ": none found.")) if len(c) else "No text to scan."
    findings = [Finding(text, impact=1.0)]
    for r in f.itertuples():
        findings.append(Finding(f"{r.table}.{r.column}: {r.values:,} {r.entity} value(s) in {r.rows:,} row(s), "
                                f"e.g. {r.example!r}.", impact=0.8))
    return PiiScan(tables={"found": f, "columns": c}, findings=tuple(findings),
                   params={"tables": names, "protect": protect_how})


def _rewrite(ws, rewrites: dict[tuple[str, str], dict[str, str]]) -> None:
    """Replace each value by its protected text: the rows that hold one (few; they are read into
    Python anyway) are rewritten by key, all in one transaction."""
    import pyarrow as pa

    from mercator.schema import TABLES

    with ws.transaction():
        for (table, col), mapping in rewrites.items():
            t = ws.table(table)
            rows = t.filter(t[col].isin(list(mapping))).to_pyarrow()
            values = [mapping.get(v, v) for v in rows.column(col).to_pylist()]
            rows = rows.set_column(rows.schema.get_field_index(col), col, pa.array(values, pa.string()))
            ws.replace(table, rows.to_pandas(), on=list(TABLES[table].key))
