"""Coerce mapped columns to their canonical types and find the rows that break a rule.

Pure expression building. ``typed_expression`` gives every canonical column typed plus
``_rule``, the number of the first row rule a row breaks (null for a good row): one cheap
pass over the whole source. Only the rejected rows are then explained
(``explain=True``: ``_reason``, ``_column`` and ``_detail`` in words), so the cost of
building messages is paid per bad row, not per row. ``row_checks``, ``shared_key_rows`` and
``duplicate_rows`` find the rows whose natural key an earlier row of the same load has.
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

from mercator._engines import Engine
from mercator._keys import Key
from mercator.errors import SourceError
from mercator.ingest._mapping import ColumnSource, TableMapping
from mercator.ingest._pii import pseudonymize_expr
from mercator.ingest._readers import ROW
from mercator.schema import CODE_LISTS, EARLIEST_DATE, Column

REASON, COLUMN, DETAIL, RULE, KEY_HASH = "_reason", "_column", "_detail", "_rule", "_key_hash"
_TRUE = ("true", "t", "yes", "y", "1")
_FALSE = ("false", "f", "no", "n", "0")
_WORDS = {"int64": "a whole number", "float64": "a number", "boolean": "true or false", "date": "a date",
          "timestamp": "a date and time"}


def _raw_value(t: ir.Table, src: ColumnSource) -> ir.Value:
    if src.expr is not None:
        return src.expr(t)
    if src.source is not None:
        return t[src.source]
    return ibis.literal(src.value)


def _blank_to_null(v: ir.Value) -> ir.Value:
    # the reader has trimmed the source text; values a mapping derives may still be blank
    return v.nullif("") if v.type().is_string() else v


def _coerce(raw: ir.Value, col: Column, src: ColumnSource, mapping: TableMapping, engine: Engine) -> ir.Value:
    """The typed value of one column; null where the raw value does not read as the type."""
    rt = raw.type()
    if col.dtype == "string":
        return raw.cast("string") if not rt.is_string() else raw
    if col.dtype in ("int64", "float64"):
        if rt.is_string():
            txt = raw.replace(",", ".") if mapping.decimal == "," else raw
            num = txt.try_cast("float64")
        else:
            num = raw.try_cast("float64")
        if col.dtype == "int64":
            # '12.0' is an integer; '12.5' is not (try_cast to an integer would round it)
            return (num.floor() == num).ifelse(num, ibis.null("float64")).try_cast("int64")
        return num
    if col.dtype == "boolean":
        if rt.is_boolean():
            return raw
        low = raw.cast("string").lower()
        return ibis.cases((low.isin(_TRUE), True), (low.isin(_FALSE), False), else_=ibis.null("boolean"))
    # date and timestamp
    if rt.is_string():
        if src.format:
            ts = engine.parse_timestamp(raw, src.format)
        else:
            ts = raw.try_cast("timestamp")
    elif rt.is_integer() and src.format == "epoch":
        ts = raw.as_timestamp("s")
    else:
        ts = raw.try_cast("timestamp")
    if col.dtype == "timestamp" and mapping.timezone:
        ts = engine.local_to_utc(ts, mapping.timezone)
    return ts.date() if col.dtype == "date" else ts


def _quote(v: ir.Value) -> ir.StringValue:
    return "'" + v.cast("string").substr(0, 60) + "'"


def typed_expression(src: ir.Table, mapping: TableMapping, engine: Engine, key: str | tuple[str, ...], *,
                     explain: bool = False) -> ir.Table:
    """Map, coerce, pseudonymize and validate: ``_row``, the typed columns and ``_rule``.

    With ``explain``, also ``_reason``, ``_column`` and ``_detail`` of the first broken rule
    (meant for the few rejected rows: the detail text is built per row).
    """
    spec = mapping.spec
    missing = sorted(mapping.source_columns() - set(src.columns))
    if missing:
        raise SourceError(
            mapping.name, f"the source has no column {', '.join(repr(m) for m in missing)} needed for {spec.name}",
            column=missing[0], expected=f"columns {', '.join(sorted(mapping.source_columns()))}; "
                                        f"found {', '.join(c for c in src.columns if c != ROW)}",
            hint="fix the export, or pass a mapping (--mapping FILE) that names the right source columns.")
    absent_required = [c for c in spec.required if c not in mapping.columns]
    if absent_required:
        raise SourceError(
            mapping.name, f"nothing maps to the required column(s) {', '.join(absent_required)} of {spec.name}",
            column=absent_required[0], expected=f"a source column or constant for each of {', '.join(spec.required)}",
            hint="add them to the mapping's 'columns' (see docs/ingest.md).")

    raws: dict[str, ir.Value] = {}
    typed: dict[str, ir.Value] = {}
    failures: list[tuple[ir.BooleanValue, str, str, ir.Value]] = []  # (bad?, reason, column, detail)

    rate = None
    if mapping.currency is not None:
        cur = mapping.currency
        code = _blank_to_null(src[cur.column]).upper() if cur.column else ibis.literal(cur.value)
        rate = ibis.cases(*((code == c, float(r)) for c, r in cur.rates.items()), else_=ibis.null("float64"))
        failures.append((rate.isnull(), "unknown_currency", cur.column or "currency",
                         "currency " + _quote(code.fill_null("(empty)")) + f" has no rate to {cur.to}"))

    for col in spec.columns:
        source = mapping.columns.get(col.name)
        if source is None:
            typed[col.name] = ibis.literal(col.default, col.dtype) if col.default is not None else ibis.null(col.dtype)
            continue
        raw = _blank_to_null(_raw_value(src, source))
        value = _coerce(raw, col, source, mapping, engine)
        if col.codes is not None:  # 'usd' is USD; codes are checked against the standard below
            value = value.upper()
        if col.default is not None:
            value = value.fill_null(ibis.literal(col.default).cast(col.dtype))
        if col.unit == "currency" and rate is not None:
            value = value * rate
        if col.pii:
            value = pseudonymize_expr(value, col.pii, key)
        raws[col.name] = raw
        typed[col.name] = value
        if col.dtype != "string":
            reason = "unparseable_date" if col.is_temporal else "wrong_type"
            expected = f"a date like {source.format}" if (col.is_temporal and source.format) else _WORDS[col.dtype]
            failures.append((raw.notnull() & value.isnull(), reason, col.name,
                             _quote(raw) + f" in {col.name} is not {expected}"))
    if mapping.currency is not None and spec.has_column("currency"):
        typed["currency"] = ibis.literal(mapping.currency.to)

    # One projection holds the typed columns and the type-failure flags (which need the raw
    # source values); every other rule is then written over the typed columns.
    t = src.select(ROW, **typed,
                   **{f"__bad{i}": cond.fill_null(False) for i, (cond, *_r) in enumerate(failures)},
                   **({f"__det{i}": det.cast("string") for i, (_c, _r, _col, det) in enumerate(failures)}
                      if explain else {}))
    # A value that does not read as its type is reported as such, before it counts as empty.
    checks: list[tuple[ir.BooleanValue, str, str, ir.Value]] = [
        (t[f"__bad{i}"], reason, column, t[f"__det{i}"] if explain else None)
        for i, (_c, reason, column, _d) in enumerate(failures)]
    for k in spec.key:  # a nullable key part is a dimension the source may not report
        if not spec.column(k).nullable:
            checks.append((t[k].isnull(), "missing_key", k, ibis.literal(f"key column {k} is empty")))
    latest = dt.date.today() + dt.timedelta(days=366)
    for col in spec.columns:
        v = t[col.name]
        if not col.nullable and col.name not in spec.key:
            checks.append((v.isnull(), "missing_value", col.name, ibis.literal(f"{col.name} is empty")))
        if col.min is not None:
            reason = "negative_value" if col.min == 0 else "out_of_range"
            checks.append((v < col.min, reason, col.name, _quote(v) + f" in {col.name} is below {col.min:g}"))
        if col.max is not None:
            checks.append((v > col.max, "out_of_range", col.name, _quote(v) + f" in {col.name} is above {col.max:g}"))
        if col.is_temporal:
            lo = ibis.literal(EARLIEST_DATE) if col.dtype == "date" else ibis.timestamp(EARLIEST_DATE.isoformat())
            hi = ibis.literal(latest) if col.dtype == "date" else ibis.timestamp(latest.isoformat())
            checks.append(((v < lo) | (v > hi), "date_out_of_range", col.name,
                           _quote(v) + f" in {col.name} is outside {EARLIEST_DATE} .. {latest}"))
        if col.codes is not None:
            reason, codes = CODE_LISTS[col.codes]
            checks.append((~v.isin(sorted(codes())), reason, col.name,
                           _quote(v) + f" in {col.name} is not a code of {col.codes.upper().replace('ISO', 'ISO ')}"))
        if col.allowed:
            checks.append((~v.isin(col.allowed), "not_allowed", col.name,
                           _quote(v) + f" in {col.name} is not one of {', '.join(col.allowed)}"))
    for chk in spec.checks:
        if not chk.optional or chk.name in mapping.checks:
            checks.append((~chk.ok(t), chk.reason, chk.column, ibis.literal(f"row breaks {chk.description}")))

    # The first rule a row breaks names its reason; comparisons with null count as passing.
    conds = [(c.fill_null(False), r, col, d) for c, r, col, d in checks]
    rule = ibis.cases(*((c, i) for i, (c, *_x) in enumerate(conds)), else_=ibis.null("int16")).cast("int16")
    if not explain:
        return t.select(ROW, *spec.column_names, **{RULE: rule})
    return t.select(ROW, *spec.column_names, **{
        RULE: rule,
        REASON: ibis.cases(*((c, r) for c, r, _, _ in conds), else_=ibis.null("string")),
        COLUMN: ibis.cases(*((c, col) for c, _, col, _ in conds), else_=ibis.null("string")),
        DETAIL: ibis.cases(*((c, d.cast("string")) for c, _, _, d in conds), else_=ibis.null("string")),
    })


def row_checks(typed: ir.Table, key: Key) -> ir.Table:
    """``_row``, ``_rule`` and one 64-bit hash of the natural key: all a load needs to find
    its rejected and duplicate rows, small enough to keep while the typed rows stream."""
    return typed.select(ROW, RULE, **{KEY_HASH: ibis.struct(key.values(typed)).hash()})


def shared_key_rows(checks: ir.Table) -> ir.Table:
    """``_row`` of the good rows whose key hash another good row has: duplicate candidates.

    Ranking all rows by the full key would sort the whole load; grouping one integer is a
    cheap aggregate, and only the few candidates are then compared by the exact key.
    """
    good = checks.filter(checks[RULE].isnull())
    shared = good.group_by(KEY_HASH).aggregate(__n=good.count()).filter(lambda g: g["__n"] > 1).select(KEY_HASH)
    return good.semi_join(shared, KEY_HASH).select(ROW)


def duplicate_rows(candidates: ir.Table, key: Key) -> ir.Table:
    """``_row`` of every candidate whose exact key an earlier row (lower ``_row``) has."""
    rank = ibis.row_number().over(group_by=list(key.values(candidates).values()), order_by=candidates[ROW])
    return candidates.mutate(__rank=rank).filter(lambda r: r["__rank"] > 0).select(ROW)
