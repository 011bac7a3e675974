"""Pseudonymization of personal data: a keyed SHA-256 of the normalized value.

The same value always gives the same pseudonym within a workspace (so joins on hashed
e-mail work across tables and loads) and nobody without the workspace key can recompute
it from a list of known addresses. The engine expression and the Python function below
give identical digests; the Python one covers the raw rows kept in quarantine.

The key is prefixed to the message (``sha256(key | kind | value)``): SHA-256's
length-extension property does not matter here, where the threat is guessing the input,
not forging a tag, and this form compiles to one native function call on every engine.

Keys rotate (``mercator govern rotate-key``) without the original values, which are never
kept: each stored pseudonym ``h`` becomes ``sha256(new key | rotate | h)``, and from then on a
new value is hashed under the first key and then through each rotation in turn (the key
chain), so old and new rows still join. Someone holding an old key alone can no longer
recompute a stored pseudonym from a guessed address. In text a pseudonym is always written as
a token, ``<email:64 hex digits>``, so that a rotation finds and re-hashes it too.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import ibis.expr.types as ir

KINDS = ("email", "phone", "name")

#: A pseudonym in text: ``<kind:hex>`` (64 digits; 16 in text written before key rotation came).
TOKEN = re.compile(r"<([a-z_]+):([0-9a-f]{64}|[0-9a-f]{16})>")
#: The same as a regular expression the engines run.
TOKEN_PATTERN = r"<[a-z_]+:[0-9a-f]{16}"  # the start of either length

Keys = str | Sequence[str]


def _chain(keys: Keys) -> tuple[str, ...]:
    return (keys,) if isinstance(keys, str) else tuple(keys)


def rotated(pseudonym: str, key: str) -> str:
    """``pseudonym`` re-hashed under a rotation ``key``."""
    return hashlib.sha256(f"{key}|rotate|{pseudonym}".encode()).hexdigest()


def rotated_expr(value: ir.StringValue, key: str) -> ir.StringValue:
    """Engine expression: :func:`rotated` (null stays null)."""
    return (f"{key}|rotate|" + value).hexdigest("sha256")


def rotate_tokens(text: str | None, key: str) -> str | None:
    """``text`` with every pseudonym token re-hashed under a rotation ``key`` (a 16-digit one,
    from before rotation came, stays 16 digits)."""
    if not text:
        return text
    return TOKEN.sub(lambda m: f"<{m.group(1)}:{rotated(m.group(2), key)[:len(m.group(2))]}>", text)


def token(kind: str, value: str, keys: Keys) -> str:
    """How a pseudonymized value is written in text: ``<kind:pseudonym>``."""
    return f"<{kind}:{pseudonymize(value, kind, keys)}>"


def normalize_expr(value: ir.StringValue, kind: str) -> ir.StringValue:
    value = value.strip()
    if kind == "phone":
        return value.re_replace(r"[^0-9+]", "")
    return value.lower()


def pseudonymize_expr(value: ir.StringValue, kind: str, keys: Keys) -> ir.StringValue:
    """Engine expression: the pseudonym of ``value`` under the key chain ``keys`` (a key alone
    before any rotation; null stays null)."""
    first, *rotations = _chain(keys)
    out = (f"{first}|{kind}|" + normalize_expr(value, kind)).hexdigest("sha256")
    for key in rotations:
        out = rotated_expr(out, key)
    return out


def pseudonymize(value: str | None, kind: str, keys: Keys) -> str | None:
    """The same pseudonym computed in Python."""
    if value is None:
        return None
    first, *rotations = _chain(keys)
    norm = value.strip()
    norm = re.sub(r"[^0-9+]", "", norm) if kind == "phone" else norm.lower()
    out = hashlib.sha256(f"{first}|{kind}|{norm}".encode()).hexdigest()
    for key in rotations:
        out = rotated(out, key)
    return out


# Personal data in text that no column tag covers (a malformed row's raw text, a value in a
# column the mapping does not use). Patterns, not a model: e-mail addresses, and phone
# numbers written with a leading + or 0, or with separators, of 9 to 15 digits. A date
# (2024-01-01, 8 digits) or a time (digits around ':') does not match.
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?<![\w.:/-])(?:\+|\(?0)?\d[\d ().-]{7,19}\d(?![\w:/])")
_HEADER_KINDS = {  # normalized column name -> kind of personal data it holds
    "email": "email", "e_mail": "email", "email_address": "email", "e_mail_address": "email", "mail": "email",
    "phone": "phone", "phone_number": "phone", "telephone": "phone", "tel": "phone", "mobile": "phone",
    "mobile_number": "phone", "cell": "phone", "name": "name", "full_name": "name", "first_name": "name",
    "last_name": "name", "surname": "name", "customer_name": "name",
}


def _normalized(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", name.strip().lower()).strip("_")


def pii_kind_of_header(name: str) -> str | None:
    """The kind of personal data a column holds, judged by its name (``Email Address`` is an
    e-mail column); None for other names."""
    return _HEADER_KINDS.get(_normalized(name))


def _is_phone(text: str) -> bool:
    digits = sum(ch.isdigit() for ch in text)
    separated = any(c in text for c in " ()-") or text.count(".") >= 2  # one dot is a decimal number
    return 9 <= digits <= 15 and (text.startswith(("+", "0", "(")) or separated)


def redact_text(text: str | None, keys: Keys) -> str | None:
    """``text`` with every e-mail address and phone number replaced by its pseudonym's token
    (``<email:…>``, ``<phone:…>``), so stored messages and raw rows carry no personal data."""
    if not text:
        return text
    text = _EMAIL.sub(lambda m: token("email", m.group(0), keys), text)
    return _PHONE.sub(lambda m: token("phone", m.group(0), keys) if _is_phone(m.group(0)) else m.group(0), text)


def mask_text(text: str) -> str:
    """``text`` with e-mail addresses and phone numbers replaced by ``<email>`` / ``<phone>``:
    for messages shown where no workspace key is at hand (errors, logs)."""
    text = _EMAIL.sub("<email>", text)
    return _PHONE.sub(lambda m: "<phone>" if _is_phone(m.group(0)) else m.group(0), text)
