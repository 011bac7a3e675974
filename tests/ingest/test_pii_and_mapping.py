"""PII is pseudonymized at ingest (engine and Python agree); YAML mappings coerce and normalize."""

from __future__ import annotations

import hashlib

from mercator.ingest import ingest, pseudonymize, redact_text


def test_pii_never_reaches_tables_and_hashes_agree(ws, tmp_path):
    p = tmp_path / "customers.csv"
    p.write_text("customer_id,email,phone,created_at\n"
                 "c1, Ann@Example.com ,+1 (555) 010-0001,2024-01-01\n"
                 "c2,bob@example.com,555 0002,not-a-date\n")
    ingest(ws, p, table="customers")
    key = ws.config.pseudonymization_key.reveal()
    row = ws.table("customers").to_pandas().iloc[0]
    assert row.email == pseudonymize("ann@example.com", "email", key)
    # independent check of the construction: sha256(key|kind|normalized value)
    assert row.email == hashlib.sha256(f"{key}|email|ann@example.com".encode()).hexdigest()
    assert row.phone == pseudonymize("+15550100001", "phone", key)
    dump = ws.table("customers").to_pandas().to_csv() + ws.table("quarantine").to_pandas().to_csv()
    # the numbers in any form (hashes and timestamps may contain "555" by chance, so look for the numbers)
    assert "example.com" not in dump
    assert not any(v in dump for v in ("5550100001", "010-0001", "(555)", "5550002", "555 0002"))
    assert key not in repr(ws.config)


def test_yaml_mapping_formats_decimal_timezone_currency(duckdb_ws, tmp_path):
    m = tmp_path / "shop.yaml"
    m.write_text(
        "table: orders\n"
        "columns:\n"
        "  order_id: Order\n"
        "  ts: {from: When, format: '%d/%m/%Y %H:%M'}\n"
        "  revenue: Amount\n"
        "  channel: {value: shop}\n"
        "decimal: ','\n"
        "timezone: Europe/Paris\n"
        "currency: {column: Cur, to: USD, rates: {EUR: 1.10, USD: 1.0}}\n")
    p = tmp_path / "shop.csv"
    p.write_text("Order;When;Amount;Cur\nA1;01/07/2024 12:00;10,5;EUR\nA2;15/01/2024 12:00;2;USD\n"
                 "A3;15/01/2024 12:00;2;JPY\n")
    ingest(duckdb_ws, p, mapping=m)
    df = duckdb_ws.table("orders").to_pandas().set_index("order_id")
    assert str(df.loc["A1", "ts"]) == "2024-07-01 10:00:00"  # CEST is UTC+2
    assert str(df.loc["A2", "ts"]) == "2024-01-15 11:00:00"  # CET is UTC+1
    assert abs(df.loc["A1", "revenue"] - 11.55) < 1e-9 and df.loc["A1", "currency"] == "USD"
    assert df.loc["A1", "channel"] == "shop"
    assert duckdb_ws.table("quarantine").reason.to_pandas().tolist() == ["unknown_currency"]


def test_date_format_on_both_engines(ws, tmp_path):
    m = tmp_path / "m.yaml"
    m.write_text("table: orders\ncolumns:\n  order_id: id\n  ts: {from: day, format: '%Y%m%d'}\n")
    p = tmp_path / "o.csv"
    p.write_text("id,day\na,19970101\nb,19971340\n")
    ingest(ws, p, mapping=m)
    assert [str(x) for x in ws.table("orders").ts.to_pandas()] == ["1997-01-01 00:00:00"]
    assert ws.table("quarantine").reason.to_pandas().tolist() == ["unparseable_date"]


# -- issue 17, item 11: personal data never reaches quarantine in plain text ---------------------

_PLAIN = ("ann.lee@example.com", "bob@example.org", "+44 20 7946 0958", "07700 900123", "Ann Lee")


def _no_plain_pii(ws) -> str:
    dump = ws.table("quarantine").to_pandas().to_csv()
    found = [v for v in _PLAIN if v in dump]
    assert not found, f"personal data in quarantine: {found}"
    return dump


def test_malformed_customer_row_keeps_no_email_or_phone(duckdb_ws, tmp_path):
    ws = duckdb_ws
    p = tmp_path / "customers.csv"
    p.write_text("customer_id,email,phone,created_at\n"
                 "c1,ann.lee@example.com,+44 20 7946 0958,2024-01-01\n"
                 "c2,bob@example.org,07700 900123,2024-01-02,an extra field\n"  # malformed: 5 fields
                 "c3,bob@example.org,07700 900123,not a date\n")               # rejected by a rule
    res = ingest(ws, p, table="customers")
    dump = _no_plain_pii(ws)
    assert "<email:" in dump and "<phone:" in dump  # found by pattern in the malformed line's text
    samples = res.to_frame("quarantine_samples").to_csv()
    assert not any(v in samples for v in _PLAIN)


def test_unmapped_personal_columns_are_pseudonymized_and_reported(ws, tmp_path):
    """An orders file carries e-mail and phone columns orders has no place for; a customers
    file names them 'Email Address' and 'Phone Number'."""
    p = tmp_path / "orders.csv"
    p.write_text("order_id,ts,revenue,Email Address,Phone Number,Name,note\n"
                 "o1,2024-01-01,5,ann.lee@example.com,+44 20 7946 0958,Ann Lee,call 07700 900123\n"
                 "o2,yesterday,5,bob@example.org,07700 900123,Ann Lee,bob@example.org asked\n")
    res = ingest(ws, p, table="orders")
    _no_plain_pii(ws)
    note = [f.text for f in res.findings if f.metric == "columns_not_loaded"]
    assert note and "Email Address" in note[0] and "personal data" in note[0]
    c = tmp_path / "customers.csv"
    c.write_text("customer_id,Email Address,Phone Number\nc1,Ann.Lee@example.com,+44 20 7946 0958\n")
    ingest(ws, c, table="customers")
    key = ws.config.pseudonymization_key.reveal()
    row = ws.table("customers").to_pandas().iloc[0]
    assert row.email == pseudonymize("ann.lee@example.com", "email", key)
    assert row.phone == pseudonymize("+442079460958", "phone", key)


def test_pattern_redaction_spares_dates_amounts_and_ids():
    """The phone pattern must not eat the numbers a marketing row is made of."""
    key = "k" * 32
    for text in ("2024-01-01 10:00:00", "1234567.89", "536365", "cost 12.50", "2024-01-01,15:30"):
        assert redact_text(text, key) == text
    assert redact_text("ring +1 (555) 010-0001 or 0612345678", key).count("<phone:") == 2
