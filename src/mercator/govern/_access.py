"""Access roles: who may read, who may run analyses, who may change rules and objectives, who
may read the audit trail, and who sees personal data.

Four roles, each a set of rights (``RIGHTS``):

- ``viewer``: reads results and pages (read), with personal-data columns masked;
- ``analyst``: also runs analyses and evaluations, acknowledges and silences alerts (act), and
  sees personal-data columns (pseudonyms and person ids);
- ``admin``: also changes alert rules, objectives, approvals and settings (configure), and
  reads the audit trail;
- ``auditor``: reads results, pages and the audit trail, with personal data masked; acts on
  nothing.

Tokens are kept in the workspace's settings file (private, mode 600), per role::

    [access]
    viewer = ["a-long-random-token"]
    analyst = ["another-one"]
    admin = ["the-admins-token"]

or in ``MERCATOR_ACCESS_TOKENS`` (``role:token,role:token``), which wins. With no token
configured, access is open: everyone is admin, as fits a server on 127.0.0.1 (the default
of ``mercator serve``). Tokens are compared in constant time and never logged.
"""

from __future__ import annotations

import hmac
import os
import re
import tomllib
from pathlib import Path

from mercator.errors import ConfigError

ROLES = ("viewer", "analyst", "admin", "auditor")
#: What each role may do.
RIGHTS = {"viewer": frozenset({"read"}),
          "analyst": frozenset({"read", "act", "personal_data"}),
          "admin": frozenset({"read", "act", "personal_data", "configure", "audit"}),
          "auditor": frozenset({"read", "audit"})}
#: The right a route's floor names (the role that has it first), for ``allows(role, "analyst")``.
NEEDS = {"viewer": "read", "analyst": "act", "admin": "configure", "auditor": "audit"}
ENV_TOKENS = "MERCATOR_ACCESS_TOKENS"


def access_tokens(settings: str | Path | None) -> dict[str, str]:
    """token -> role, from ``MERCATOR_ACCESS_TOKENS`` or the settings file's ``[access]`` section
    (empty: access is open)."""
    env = os.environ.get(ENV_TOKENS)
    out: dict[str, str] = {}
    if env:
        for item in env.split(","):
            role, _, token = item.strip().partition(":")
            if role not in ROLES or len(token) < 16:
                raise ConfigError(f"{ENV_TOKENS}: each entry is role:token with a role among {', '.join(ROLES)} "
                                  "and a token of at least 16 characters")
            out[token] = role
        return out
    if settings is None or not Path(settings).exists():
        return out
    try:
        data = tomllib.loads(Path(settings).read_text(encoding="utf-8")).get("access", {})
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{settings}: not valid TOML ({exc})") from exc
    for role, tokens in data.items():
        if role not in ROLES:
            raise ConfigError(f"{settings}: [access] names an unknown role {role!r} (roles: {', '.join(ROLES)})")
        for token in [tokens] if isinstance(tokens, str) else tokens:
            if len(str(token)) < 16:
                raise ConfigError(f"{settings}: an access token for {role} is shorter than 16 characters")
            out[str(token)] = role
    return out


def role_of(token: str | None, tokens: dict[str, str]) -> str | None:
    """The role ``token`` grants (admin when access is open), or None."""
    if not tokens:
        return "admin"
    if not token:
        return None
    found = None
    for known, role in tokens.items():  # every comparison made, in constant time
        if hmac.compare_digest(known.encode(), token.encode()):
            found = role
    return found


def allows(role: str | None, needed: str) -> bool:
    """Whether ``role`` may do what ``needed`` names: a right (``read``, ``act``, ``configure``,
    ``audit``, ``personal_data``) or a role, meaning that role's defining right."""
    return role is not None and NEEDS.get(needed, needed) in RIGHTS[role]


def personal_keys() -> frozenset[str]:
    """The names of the columns that hold personal data: the schema's tagged ones (pseudonyms)
    and the person ids."""
    from mercator.govern._subject import PERSON_COLUMNS
    from mercator.schema import TABLES

    tagged = {c.name for spec in TABLES.values() for c in spec.columns if c.pii}
    return frozenset(tagged | {c for cols in PERSON_COLUMNS.values() for c in cols})


MASK = "***"


def mask_personal(doc, keys: frozenset[str] | None = None):
    """``doc`` (a result's JSON document) with every value under a personal-data key masked, at
    any depth (a table's cells, a parameter), and those values masked wherever else they appear
    in text outside the tables (a finding that names the customer; a table cell is masked by its
    column alone, which keeps a large document cheap)."""
    keys = personal_keys() if keys is None else keys
    seen: set[str] = set()

    def values(node) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k in keys and isinstance(v, str | int) and not isinstance(v, bool) and len(str(v)) >= 3:
                    seen.add(str(v))
                else:
                    values(v)
        elif isinstance(node, list):
            for v in node:
                values(v)

    values(doc)
    pattern = re.compile("|".join(re.escape(v) for v in sorted(seen, key=len, reverse=True))) if seen else None

    def mask(node, text: bool):
        if isinstance(node, dict):
            return {k: (MASK if k in keys and v is not None and not isinstance(v, dict | list) else
                        mask(v, text and k != "tables")) for k, v in node.items()}
        if isinstance(node, list):
            return [mask(v, text) for v in node]
        if text and pattern is not None and isinstance(node, str):
            return pattern.sub(MASK, node)
        return node

    return mask(doc, True)


def mask_result(result, keys: frozenset[str] | None = None):
    """``result`` with its personal-data columns masked, and their values masked in its findings,
    recommendations and parameters: what a page everyone may see shows (the dashboard)."""
    import dataclasses

    keys = personal_keys() if keys is None else keys
    seen: set[str] = set()
    tables = {}
    for name, df in result.tables.items():
        cols = [c for c in df.columns if c in keys]
        for c in cols:
            seen |= {v for v in df[c].dropna().astype(str).unique() if len(v) >= 3}
        tables[name] = df.assign(**{c: df[c].astype(object).where(df[c].isna(), MASK) for c in cols}) if cols else df
    if not seen and not any(k in keys for k in result.params):
        return result
    pattern = re.compile("|".join(re.escape(v) for v in sorted(seen, key=len, reverse=True))) if seen else None

    def text(value: str) -> str:
        return pattern.sub(MASK, value) if pattern is not None and isinstance(value, str) else value

    return dataclasses.replace(
        result, tables=tables, findings=tuple(dataclasses.replace(f, text=text(f.text)) for f in result.findings),
        recommendations=tuple(dataclasses.replace(r, action=text(r.action), evidence=text(r.evidence))
                              for r in result.recommendations),
        params=mask_personal(result.params, keys))
