"""Key rotation (issue 23, item 2): every pseudonym re-hashed under the new key, in tagged
columns and as tokens in text; new loads join the old rows; a subject request still finds the
person; the old key alone matches nothing; a crash after the commit keeps the new key, one
before it the old. The expected pseudonyms are computed here with hashlib, from the documented
formula (sha256(key | kind | value), then sha256(new key | rotate | h)), not with Mercator's
functions."""

from __future__ import annotations

import hashlib
import re

import pytest
from typer.testing import CliRunner

from mercator import Workspace
from mercator.govern import audit_trail, find_person, rotate_key, scan_pii, verify_audit
from mercator.interfaces.cli import app
from tests.conftest import ingest_text
from tests.govern.conftest import mentions

JANE = "Jane.Doe@Example.com"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _hexes(ws) -> set[str]:
    """Every 64-digit hex string anywhere in the workspace's tables."""
    from mercator.schema import TABLES

    out = set()
    for name in TABLES:
        for v in ws.table(name).to_pandas().astype(str).to_numpy().ravel():
            out |= set(re.findall(r"[0-9a-f]{64}", v))
    return out


@pytest.fixture
def protected(shop, tmp_path):
    """The shop with an e-mail in free text (protected into a token) and a rejected customers
    row whose raw text holds a tagged e-mail."""
    shop.replace("content", __import__("pandas").DataFrame({"doc_id": ["d3"], "customer_id": ["cust-bo-2"],
                                                            "text": ["mail me: bo@example.org"]}), on=["doc_id"])
    scan_pii(shop, ["content"], protect_how="pseudonymize")
    ingest_text(shop, tmp_path, "customer_id,email,first_seen\ncust-cy-3,cy@example.net,not a date\n", "customers")
    return shop


def test_rotation_rehashes_every_pseudonym_and_new_loads_still_join(protected, tmp_path):
    ws = protected
    k1 = ws.config.keys()[0]
    h1 = _sha(f"{k1}|email|{JANE.lower()}")
    trail = " ".join(ws.table("audit").to_pandas().astype(str).to_numpy().ravel())
    old = {h for h in _hexes(ws) if h not in trail}  # the audit trail's own hashes are not pseudonyms
    assert h1 in old and len(old) >= 5  # two customers' e-mails and phones, the token, the quarantined e-mail

    res = rotate_key(ws, new_key="k2-" + "0" * 30)
    k2 = "k2-" + "0" * 30
    assert ws.config.keys() == (k1, k2)
    assert res.params["values"] >= 5
    assert mentions(ws, sorted(old)) == {}  # no old pseudonym anywhere, whole or in a token
    jane = ws.table("customers").filter(lambda t: t.customer_id == "cust-jane-1").email.to_pyarrow().to_pylist()[0]
    assert jane == _sha(f"{k2}|rotate|{h1}")
    assert _sha(f"{k2}|rotate|{_sha(f'{k1}|email|bo@example.org')}") in \
        ws.table("content").filter(lambda t: t.doc_id == "d3").text.to_pyarrow().to_pylist()[0]

    ingest_text(ws, tmp_path, "customer_id,email\ncust-jane-7, jane.doe@EXAMPLE.com\n", "customers")
    rows = ws.table("customers").filter(lambda t: t.email == jane).customer_id.to_pyarrow().to_pylist()
    assert sorted(rows) == ["cust-jane-1", "cust-jane-7"]  # the new load joins the rotated row
    assert find_person(ws, "jane.doe@example.com").customer_ids == {"cust-jane-1", "cust-jane-7"}
    assert h1 not in _hexes(ws)  # the first key alone recomputes nothing stored
    assert verify_audit(ws).params["intact"]
    assert audit_trail(ws, action="govern.rotate_key").params["entries"] >= 1
    from mercator.config import WorkspaceConfig

    assert WorkspaceConfig.load_or_create(ws.config.path, create=False).keys() == (k1, k2)  # as the next open reads it


def test_a_crash_after_the_commit_keeps_the_new_key(protected, monkeypatch):
    """The process dies after the transaction committed, before the settings moved: the next
    writer finds the rotation in the audit trail and installs the new settings."""
    ws = protected
    monkeypatch.setattr("mercator.govern._keys._install", lambda ws, pending: None)
    rotate_key(ws)
    location, k1 = ws.location, ws.config.keys()[0]
    jane = ws.table("customers").filter(lambda t: t.customer_id == "cust-jane-1").email.to_pyarrow().to_pylist()[0]
    ws.close()
    monkeypatch.undo()
    with Workspace(location) as again:
        assert len(again.config.keys()) == 2 and again.config.keys()[0] == k1
        assert find_person(again, JANE).customer_ids == {"cust-jane-1"}
        stored = again.table("customers").filter(lambda t: t.customer_id == "cust-jane-1").email
        assert stored.to_pyarrow().to_pylist()[0] == jane


def test_a_crash_before_the_commit_keeps_the_old_key(shop):
    """A rotation's settings left behind by a crash inside the transaction (nothing committed):
    the next writer drops them."""
    from mercator.govern._keys import _pending, _with_rotations

    settings = shop.config.path
    before = shop.config.keys()
    _pending(settings).write_text(_with_rotations(settings.read_text(), ["never-committed-key-0123456789"]))
    _pending(settings).chmod(0o600)
    location = shop.location
    shop.close()
    with Workspace(location) as again:
        assert again.config.keys() == before and not _pending(settings).exists()
        assert find_person(again, JANE).customer_ids == {"cust-jane-1"}


def test_cli_rotate_key(shop):
    location = shop.location
    shop.close()
    res = CliRunner().invoke(app, ["govern", "rotate-key", "--workspace", location, "--json"])
    assert res.exit_code == 0, res.output
    assert '"kind": "key_rotation"' in res.output
    with Workspace(location) as again:
        assert len(again.config.keys()) == 2
        assert find_person(again, "+44 20 7946 0958").customer_ids == {"cust-jane-1"}
