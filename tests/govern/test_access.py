"""Access roles: tokens from the settings file or the environment, roles in order, open access
when none is configured (issue 22, item 7)."""

from __future__ import annotations

import pytest

from mercator.errors import ConfigError
from mercator.govern import ROLES, access_tokens, allows, role_of


def test_tokens_from_settings_and_the_environment_wins(tmp_path, monkeypatch):
    monkeypatch.delenv("MERCATOR_ACCESS_TOKENS", raising=False)
    settings = tmp_path / "ws.duckdb.toml"
    settings.write_text('[pseudonymization]\nkey = "k"\n[access]\nviewer = ["view-token-0123456789"]\n'
                        'admin = "admin-token-0123456789"\n')
    tokens = access_tokens(settings)
    assert tokens == {"view-token-0123456789": "viewer", "admin-token-0123456789": "admin"}
    assert role_of("view-token-0123456789", tokens) == "viewer" and role_of("nope", tokens) is None
    assert role_of(None, tokens) is None
    monkeypatch.setenv("MERCATOR_ACCESS_TOKENS", "analyst:env-token-0123456789")
    assert access_tokens(settings) == {"env-token-0123456789": "analyst"}


def test_open_access_without_tokens_and_the_order_of_roles(tmp_path, monkeypatch):
    monkeypatch.delenv("MERCATOR_ACCESS_TOKENS", raising=False)
    assert access_tokens(tmp_path / "missing.toml") == {} and role_of(None, {}) == "admin"
    assert ROLES == ("viewer", "analyst", "admin")
    assert allows("admin", "viewer") and allows("analyst", "analyst") and not allows("viewer", "analyst")
    assert not allows(None, "viewer")


@pytest.mark.parametrize(("text", "message"), [
    ('[access]\nowner = ["x-token-0123456789"]\n', "unknown role 'owner'"),
    ('[access]\nadmin = ["short"]\n', "shorter than 16 characters"),
])
def test_bad_access_settings_are_named(tmp_path, monkeypatch, text, message):
    monkeypatch.delenv("MERCATOR_ACCESS_TOKENS", raising=False)
    settings = tmp_path / "s.toml"
    settings.write_text(text)
    with pytest.raises(ConfigError, match=message):
        access_tokens(settings)
    monkeypatch.setenv("MERCATOR_ACCESS_TOKENS", "boss:whatever-0123456789")
    with pytest.raises(ConfigError, match="role:token"):
        access_tokens(settings)
