"""Governance: who may be selected for what (consent per purpose, suppression lists), in the
engine, and the hash-chained audit trail of governed changes. Retention, subject requests
and access roles come here next."""

from mercator.govern._audit import AuditTrail, audit_trail, entry_hash, record
from mercator.govern._targeting import (
    PURPOSES,
    Eligibility,
    consent_column,
    consenting,
    eligible,
    eligible_frame,
)

__all__ = ["PURPOSES", "AuditTrail", "Eligibility", "audit_trail", "consent_column", "consenting", "eligible",
           "eligible_frame", "entry_hash", "record"]
