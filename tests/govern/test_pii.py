"""Personal data in free text (issue 23, item 2): Presidio's pattern recognizers find every
planted e-mail, payment card and IBAN in generated sentences (recall 1.0) and none of the
decoys whose checksums are broken (the Luhn check for cards, ISO 13616's mod-97 for IBANs);
a scan of the workspace finds them in the untagged text columns and pseudonymizes them in
place with the same pseudonym ingest gives a tagged e-mail column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mercator.govern import find_pii, scan_pii
from mercator.ingest import pseudonymize

pytest.importorskip("presidio_analyzer")

N = 60


def _luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:  # the digit left of the check digit is doubled
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def _iban(country: str, bban: str) -> str:
    digits = "".join(str(int(c, 36)) for c in bban + country + "00")
    check = 98 - int(digits) % 97
    return f"{country}{check:02d}{bban}"


def _grouped(s: str) -> str:
    return " ".join(s[i:i + 4] for i in range(0, len(s), 4))


def _planted(rng):
    cards, ibans, emails, bad_cards, bad_ibans = [], [], [], [], []
    for _ in range(N):
        body = "4" + "".join(rng.choice(list("0123456789"), 14))
        card = body + _luhn_digit(body)
        cards.append(_grouped(card) if rng.random() < 0.5 else card)
        wrong = str((int(card[-1]) + 1 + rng.integers(0, 8)) % 10)
        bad_cards.append(_grouped(card[:-1] + wrong))
        bban = "WEST" + "".join(rng.choice(list("0123456789"), 14)) if rng.random() < 0.5 else \
            "".join(rng.choice(list("0123456789"), 18))
        country = "GB" if bban.startswith("WEST") else "DE"
        iban = _iban(country, bban)
        ibans.append(_grouped(iban) if rng.random() < 0.5 else iban)
        check = int(iban[2:4])
        bad_ibans.append(_grouped(iban[:2] + f"{(check + 1 + rng.integers(0, 50)) % 97 + 2:02d}" + iban[4:]))
        emails.append(f"{rng.choice(['ana', 'bo.li', 'c_d', 'e+tag'])}{rng.integers(0, 999)}@"
                      f"{rng.choice(['example.com', 'mail.co.uk', 'shop.de'])}")
    return cards, ibans, emails, bad_cards, bad_ibans


def test_recall_on_planted_values_and_no_false_positive_on_broken_checksums():
    cards, ibans, emails, bad_cards, bad_ibans = _planted(np.random.default_rng(0))
    for entity, values in (("card", cards), ("iban", ibans), ("email", emails)):
        for v in values:
            text = f"Hello, please use {v} for the refund, thanks!"
            spans = [s for s in find_pii(text) if s.entity == entity]
            assert len(spans) == 1 and text[spans[0].start:spans[0].end] == v, (entity, v, find_pii(text))
    for v in bad_cards + bad_ibans:
        text = f"Reference {v} on the order."
        assert not [s for s in find_pii(text) if s.entity in ("card", "iban")], (v, find_pii(text))


def test_a_scan_finds_and_pseudonymizes_text_in_place(duckdb_ws):
    ws = duckdb_ws
    texts = ["Great shoes, write me at jane.doe@example.com", "Card 4111 1111 1111 1111 was charged twice",
             "My IBAN is GB82 WEST 1234 5698 7654 32", "Nothing personal here, order 12345", "Fine product."]
    ws.replace("content", pd.DataFrame({"doc_id": [f"d{i}" for i in range(len(texts))], "text": texts,
                                        "channel": "review"}), on=["doc_id"])
    res = scan_pii(ws, ["content"])
    found = res.to_frame("found").set_index("entity")
    assert set(found.index) == {"email", "card", "iban"} and (found.rows == 3).all()
    assert "jane.doe" not in res.to_dict().__repr__()  # the report shows no personal data
    scan_pii(ws, ["content"], protect_how="pseudonymize")
    after = ws.table("content").order_by("doc_id").to_pandas()
    key = ws.config.pseudonymization_key.reveal()
    assert after.text[0] == f"Great shoes, write me at <email:{pseudonymize('jane.doe@example.com', 'email', key)}>"
    assert "4111" not in after.text[1] and "WEST" not in after.text[2]
    assert list(after.text[3:]) == texts[3:]
    assert scan_pii(ws, ["content"]).to_frame("found").empty
