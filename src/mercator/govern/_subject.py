"""Subject rights: everything held about a person, exported or erased.

A request names the person by an e-mail address, a phone number or a customer (or user) id.
An e-mail or a phone is pseudonymized the way ingest does it, then looked up; the person is
every customer id it leads to, the user ids ``identities`` links to them, and their
pseudonyms. Their rows are found in every table, derived ones included:

- by person columns: ``customer_id``, ``user_id``, ``person_id`` (decisions) and ``unit_id``
  (experiment assignments);
- by what hangs off those rows: order lines by order id, rewards by decision id;
- by pseudonym: any personal-data column holding one;
- in quarantine, any raw row whose text carries an id or a pseudonym.

``dsar_export`` writes them as JSON and CSV per table; ``dsar_erase`` removes them in one
transaction (orders are kept for the books, with the customer id cleared, and their lines with
them), lists the saved
models fitted before it (trained on the person's rows: to be retrained), and records the
request in the audit trail by a request id that is not the person's pseudonym.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import ibis
import pandas as pd

from mercator.errors import BadParameter, NotFoundError
from mercator.results import Finding, Result

#: Columns that hold a person's id, per table (where the column has another name than customer_id).
PERSON_COLUMNS = {"customers": ("customer_id",), "consents": ("customer_id",), "orders": ("customer_id",),
                  "content": ("customer_id",), "segment_members": ("customer_id",),
                  "identities": ("customer_id", "user_id"), "events": ("user_id",), "decisions": ("person_id",),
                  "assignments": ("unit_id",)}
#: Tables whose rows belong to a person through another table's row: (table, column, parent, parent column).
CHILDREN = (("order_items", "order_id", "orders", "order_id"), ("rewards", "decision_id", "decisions", "decision_id"))
#: Tables whose rows are kept on erasure, with the person's columns cleared (the books need them).
ANONYMIZE = {"orders": ("customer_id",)}


@dataclass(frozen=True)
class Person:
    request_id: str
    customer_ids: frozenset[str]
    user_ids: frozenset[str]
    pseudonyms: frozenset[str]

    @property
    def ids(self) -> frozenset[str]:
        return self.customer_ids | self.user_ids


def _kind(identifier: str) -> str:
    if "@" in identifier:
        return "email"
    if re.fullmatch(r"\+?[\d ().-]{7,}", identifier.strip()) and sum(c.isdigit() for c in identifier) >= 7:
        return "phone"
    return "id"


def find_person(ws, identifier: str) -> Person:
    """The person an e-mail, phone or id names (a ``NotFoundError`` when nothing is held)."""
    from mercator.ingest import pseudonymize

    identifier = str(identifier or "").strip()
    if not identifier:
        raise BadParameter("a subject request needs an e-mail, a phone number or a customer id")
    key = ws.config.keys()
    kind = _kind(identifier)
    c, i = ws.table("customers"), ws.table("identities")
    if kind == "id":
        h = identifier
        customers = {identifier} if any(_has(ws.table(t), ws.table(t)[col] == identifier)
                                        for t, cols in PERSON_COLUMNS.items() for col in cols
                                        if col == "customer_id") else set()
        users = {identifier} if _has(ws.table("events"), ws.table("events").user_id == identifier) else set()
    else:
        h = pseudonymize(identifier, kind, key)
        customers = set(_values(c.filter(c[kind] == h), "customer_id"))
        if kind == "email":
            customers |= set(_values(i.filter(i.email == h), "customer_id"))
        users = set()
    if customers:
        users |= set(_values(i.filter(i.customer_id.isin(list(customers))), "user_id"))
    if not customers and not users:
        raise NotFoundError(f"nothing is held about that {kind}: no table refers to it")
    mine = c.filter(c.customer_id.isin(list(customers) or [""]))
    pseudonyms = {v for col in ("email", "phone", "name") for v in _values(mine, col) if v}
    pseudonyms |= {v for v in _values(i.filter(i.customer_id.isin(list(customers) or [""])), "email") if v}
    # the same request id however the e-mail or phone is written (it is derived from the pseudonym)
    request = hashlib.sha256(f"dsar|{key[0]}|{kind}|{h}".encode()).hexdigest()[:16]
    return Person(request, frozenset(customers), frozenset(users), frozenset(pseudonyms))


def _has(t, predicate) -> bool:
    return bool(t.filter(predicate).count().to_pyarrow().as_py())


def _values(t, col: str) -> list:
    return t.select(col).distinct().to_pyarrow().column(0).to_pylist()


def _filters(ws, person: Person) -> dict:
    """Per table, the predicate (a function of the table) that selects the person's rows."""
    from mercator.schema import TABLES

    ids = sorted(person.ids)
    pseud = sorted(person.pseudonyms)
    out = {}
    for name, spec in TABLES.items():
        cols = PERSON_COLUMNS.get(name, ())
        pii = [c.name for c in spec.columns if c.pii]
        if not cols and not (pii and pseud):
            continue

        def pred(t, cols=cols, pii=pii):
            p = ibis.literal(False)
            for col in cols:
                p = p | t[col].cast("string").isin(ids)
            for col in pii if pseud else ():
                p = p | t[col].isin(pseud)
            return p
        out[name] = pred
    parents = dict(out)
    for child, col, parent, pcol in CHILDREN:
        if parent in parents:
            out[child] = (lambda t, col=col, parent=parent, pcol=pcol:
                          t[col].isin(ws.table(parent).filter(parents[parent](ws.table(parent)))[pcol]))
    # a raw row is JSON: an id is a quoted value there; a pseudonym is in a token (<email:...>),
    # or its first 16 hex digits in text redacted before tokens carried the whole pseudonym
    needles = [json.dumps(x) for x in ids] + pseud + [p[:16] for p in pseud]
    if needles:
        pattern = "|".join(re.escape(x) for x in needles)
        out["quarantine"] = lambda t: t.raw.re_search(pattern).fill_null(False)
    return out


@dataclass(frozen=True)
class SubjectRequest(Result):
    """What a subject request found (and exported or erased), per table."""

    kind = "subject_request"
    title = "Subject request"
    headline = ("tables",)
    display: ClassVar[dict[str, tuple[str, ...]]] = {"tables": ("table", "rows", "action")}


def dsar_export(ws, identifier: str, folder: str | Path | None = None) -> SubjectRequest:
    """Every row held about the person, per table; with ``folder``, written there as one JSON
    document and one CSV per table (the request is recorded in the audit trail)."""
    from mercator.exports import write_csv
    from mercator.govern._audit import record

    person = find_person(ws, identifier)
    rows, frames = [], {}
    for name, pred in _filters(ws, person).items():
        t = ws.table(name)
        df = t.filter(pred(t)).to_pandas().drop(columns=["_load_id"], errors="ignore")
        if len(df):
            frames[name] = df
        rows.append({"table": name, "rows": len(df), "action": "exported"})
    counts = pd.DataFrame(rows).sort_values("table").reset_index(drop=True)
    params = {"request_id": person.request_id, "customers": len(person.customer_ids), "users": len(person.user_ids),
              "rows": int(counts.rows.sum())}
    if folder is not None:
        out = Path(folder) / f"dsar-{person.request_id}"
        out.mkdir(parents=True, exist_ok=True)
        doc = {name: json.loads(df.to_json(orient="records", date_format="iso")) for name, df in frames.items()}
        (out / "subject.json").write_text(json.dumps(doc, indent=1, ensure_ascii=False), encoding="utf-8")
        for name, df in frames.items():
            write_csv(df, out / f"{name}.csv")
        params["folder"] = str(out)
    record(ws, "govern.dsar.export", person.request_id, detail={"rows": params["rows"]})
    text = (f"Subject request {person.request_id}: {params['rows']:,} row(s) in "
            f"{int((counts.rows > 0).sum())} table(s) refer to the person"
            + (f"; written to {params['folder']}." if folder is not None else "."))
    return SubjectRequest(tables={"tables": counts}, findings=(Finding(text, impact=1.0),), params=params)


def dsar_erase(ws, identifier: str, *, at: dt.datetime | None = None) -> SubjectRequest:
    """Remove every row held about the person (orders kept with the customer id cleared), in one
    transaction; list the saved models fitted before it, and record the request."""
    from mercator.govern._audit import record
    from mercator.modelstore import models_dir

    person = find_person(ws, identifier)
    filters = _filters(ws, person)
    counts = {}
    for name, pred in filters.items():  # counted before anything changes (children read their parents)
        t = ws.table(name)
        counts[name] = int(t.filter(pred(t)).count().to_pyarrow().as_py())
    now = (at or dt.datetime.now(dt.UTC)).replace(tzinfo=None)
    folder = models_dir(ws.location)
    models = sorted(str(p) for p in folder.glob("*") if p.is_file()) if folder.is_dir() else []
    rows = []
    # the lines of an order kept for the books stay with it: they say nothing about the person
    kept = {child for child, _c, parent, _p in CHILDREN if parent in ANONYMIZE}
    counts = {k: v for k, v in counts.items() if k not in kept}
    with ws.transaction():
        for child, _col, _parent, _pcol in CHILDREN:  # children first: they find their rows through the parents
            if counts.get(child):
                ws.delete(child, filters[child])
        for name, pred in filters.items():
            if name in {c for c, *_ in CHILDREN} or not counts.get(name):
                continue
            if name in ANONYMIZE:
                _anonymize(ws, name, pred, ANONYMIZE[name])
            else:
                ws.delete(name, pred)
        record(ws, "govern.dsar.erase", person.request_id, at=now,
               detail={"rows": counts, "models_to_retrain": len(models)})
    for name in sorted(counts):
        rows.append({"table": name, "rows": counts[name],
                     "action": "anonymized" if name in ANONYMIZE else "deleted"})
    frame = pd.DataFrame(rows)
    total = int(frame.rows.sum())
    findings = [Finding(f"Subject request {person.request_id}: {total:,} row(s) erased or anonymized in "
                        f"{int((frame.rows > 0).sum())} table(s).", impact=1.0)]
    if models:
        findings.append(Finding(f"{len(models)} saved model(s) were fitted before the erasure, possibly on the "
                                "person's rows: retrain them.", impact=0.9))
    return SubjectRequest(tables={"tables": frame, "models_to_retrain": pd.DataFrame({"model": models})},
                          findings=tuple(findings),
                          params={"request_id": person.request_id, "rows": total, "models_to_retrain": len(models)})


def _anonymize(ws, name: str, pred, columns: tuple[str, ...]) -> None:
    """The person's rows kept with ``columns`` cleared (read, cleared, written back by key)."""
    from mercator.schema import TABLES

    t = ws.table(name)
    rows = t.filter(pred(t)).to_pandas()
    for col in columns:
        rows[col] = None
    ws.replace(name, rows, on=list(TABLES[name].key))
