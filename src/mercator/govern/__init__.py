"""Governance: who may be selected for what (consent per purpose with its history, suppression
lists), in the engine; personal data found in free text; access roles; and the hash-chained
audit trail of governed changes. docs/governance.md says what is built and what is not."""

from mercator.govern._access import (
    RIGHTS,
    ROLES,
    access_tokens,
    allows,
    mask_personal,
    mask_result,
    personal_keys,
    role_of,
)
from mercator.govern._audit import (
    AuditCheck,
    AuditTrail,
    audit_trail,
    chain_pending,
    defer,
    entry_hash,
    pending_files,
    pending_path,
    record,
    record_export,
    verify_audit,
    waiting,
)
from mercator.govern._dpia import Dpia, dpia, dpia_markdown
from mercator.govern._keys import KeyRotation, rotate_key
from mercator.govern._pii import PiiScan, find_pii, protect_pii, scan_pii
from mercator.govern._retention import DEFAULTS, Retention, policies, retention
from mercator.govern._sharing import SharingCheck, sharing_gate
from mercator.govern._subject import SubjectRequest, dsar_erase, dsar_export, find_person
from mercator.govern._targeting import (
    PURPOSES,
    Eligibility,
    consent_column,
    consented,
    consenting,
    eligible,
    eligible_frame,
    purpose_of,
    targeting,
)

__all__ = [
    "DEFAULTS",
    "PURPOSES",
    "RIGHTS",
    "ROLES",
    "AuditCheck",
    "AuditTrail",
    "Dpia",
    "Eligibility",
    "KeyRotation",
    "PiiScan",
    "Retention",
    "SharingCheck",
    "SubjectRequest",
    "access_tokens",
    "allows",
    "audit_trail",
    "chain_pending",
    "consent_column",
    "consented",
    "consenting",
    "defer",
    "dpia",
    "dpia_markdown",
    "dsar_erase",
    "dsar_export",
    "eligible",
    "eligible_frame",
    "entry_hash",
    "find_person",
    "find_pii",
    "mask_personal",
    "mask_result",
    "pending_files",
    "pending_path",
    "personal_keys",
    "policies",
    "protect_pii",
    "purpose_of",
    "record",
    "record_export",
    "retention",
    "role_of",
    "rotate_key",
    "scan_pii",
    "sharing_gate",
    "targeting",
    "verify_audit",
    "waiting",
]
