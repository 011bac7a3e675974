"""Governance: who may be selected for what (consent per purpose, suppression lists), in the
engine. Retention, subject requests, access roles and the audit trail come here next."""

from mercator.govern._targeting import (
    PURPOSES,
    Eligibility,
    consent_column,
    consenting,
    eligible,
    eligible_frame,
)

__all__ = ["PURPOSES", "Eligibility", "consent_column", "consenting", "eligible", "eligible_frame"]
