"""Pseudonymization of personal data: a keyed SHA-256 of the normalized value.

The same value always gives the same pseudonym within a workspace (so joins on hashed
e-mail work across tables and loads) and nobody without the workspace key can recompute
it from a list of known addresses. The engine expression and the Python function below
give identical digests; the Python one covers the raw rows kept in quarantine.

The key is prefixed to the message (``sha256(key | kind | value)``): SHA-256's
length-extension property does not matter here, where the threat is guessing the input,
not forging a tag, and this form compiles to one native function call on every engine.
"""

from __future__ import annotations

import hashlib
import re

import ibis.expr.types as ir

KINDS = ("email", "phone", "name")


def normalize_expr(value: ir.StringValue, kind: str) -> ir.StringValue:
    value = value.strip()
    if kind == "phone":
        return value.re_replace(r"[^0-9+]", "")
    return value.lower()


def pseudonymize_expr(value: ir.StringValue, kind: str, key: str) -> ir.StringValue:
    """Engine expression: the pseudonym of ``value`` (null stays null)."""
    return (f"{key}|{kind}|" + normalize_expr(value, kind)).hexdigest("sha256")


def pseudonymize(value: str | None, kind: str, key: str) -> str | None:
    """The same pseudonym computed in Python."""
    if value is None:
        return None
    norm = value.strip()
    norm = re.sub(r"[^0-9+]", "", norm) if kind == "phone" else norm.lower()
    return hashlib.sha256(f"{key}|{kind}|{norm}".encode()).hexdigest()


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


def redact_text(text: str | None, key: str) -> str | None:
    """``text`` with every e-mail address and phone number replaced by its pseudonym
    (``<email:…>``, ``<phone:…>``), so stored messages and raw rows carry no personal data."""
    if not text:
        return text
    text = _EMAIL.sub(lambda m: f"<email:{pseudonymize(m.group(0), 'email', key)[:16]}>", text)
    return _PHONE.sub(lambda m: f"<phone:{pseudonymize(m.group(0), 'phone', key)[:16]}>"
                      if _is_phone(m.group(0)) else m.group(0), text)


def mask_text(text: str) -> str:
    """``text`` with e-mail addresses and phone numbers replaced by ``<email>`` / ``<phone>``:
    for messages shown where no workspace key is at hand (errors, logs)."""
    text = _EMAIL.sub("<email>", text)
    return _PHONE.sub(lambda m: "<phone>" if _is_phone(m.group(0)) else m.group(0), text)
