"""Governance: who may be selected for what (consent per purpose, suppression lists), in the
engine, access roles, and the hash-chained audit trail of governed changes. Retention and
subject requests come here next."""

from mercator.govern._access import ROLES, access_tokens, allows, role_of
from mercator.govern._audit import AuditTrail, audit_trail, entry_hash, record
from mercator.govern._targeting import (
    PURPOSES,
    Eligibility,
    consent_column,
    consenting,
    eligible,
    eligible_frame,
)

__all__ = [
    "PURPOSES",
    "ROLES",
    "AuditTrail",
    "Eligibility",
    "access_tokens",
    "allows",
    "audit_trail",
    "consent_column",
    "consenting",
    "eligible",
    "eligible_frame",
    "entry_hash",
    "record",
    "role_of",
]
