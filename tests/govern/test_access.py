"""Access roles: tokens from the settings file or the environment, roles in order, open access
when none is configured (issue 22, item 7); the auditor role, the role by route matrix generated
from the OpenAPI document, and personal data masked for roles without the right (issue 23, item 5)."""

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
    assert ROLES == ("viewer", "analyst", "admin", "auditor")
    assert allows("admin", "viewer") and allows("analyst", "analyst") and not allows("viewer", "analyst")
    assert not allows(None, "viewer")
    assert allows("auditor", "viewer") and allows("auditor", "auditor") and not allows("auditor", "analyst")
    assert allows("admin", "auditor") and not allows("analyst", "auditor")
    assert allows("analyst", "personal_data") and not allows("viewer", "personal_data") \
        and not allows("auditor", "personal_data")


#: The documented policy (docs/governance.md, "Access"): every GET is a read, except the audit
#: trail; every other method acts; these few configure.
ADMIN_ONLY = {("POST", "/v1/objectives"), ("POST", "/v1/objectives/{objective_id}/signoff"),
              ("POST", "/v1/alert-rules"), ("POST", "/v1/changes/{change_id}/approve")}
AUDIT = {("GET", "/v1/audit")}
TOKENS = {role: f"{role}-token-0123456789" for role in ROLES}


def _expected(method: str, path: str) -> set[str]:
    if (method, path) in AUDIT:
        return {"admin", "auditor"}
    if (method, path) in ADMIN_ONLY:
        return {"admin"}
    if method in ("GET", "HEAD"):
        return {"viewer", "analyst", "admin", "auditor"}
    return {"analyst", "admin"}


@pytest.fixture
def api(tmp_path, monkeypatch):
    from mercator.interfaces.api import create_app

    monkeypatch.setenv("MERCATOR_ACCESS_TOKENS", ",".join(f"{r}:{t}" for r, t in TOKENS.items()))
    return create_app(str(tmp_path / "ws.duckdb"), monitor_interval=0)


def test_role_by_route_matrix_from_the_openapi_document(api):
    """Every operation of the OpenAPI document, for every role: its access dependencies (the
    router's floor and the route's own) let exactly the documented roles through, 401 without a
    token. Only the dependencies run: no route does its work."""
    import inspect

    from fastapi import HTTPException
    from fastapi.routing import APIRoute
    from starlette.requests import Request

    def own(route: APIRoute) -> list:
        return [d.call for d in route.dependant.dependencies if list(inspect.signature(d.call).parameters) == ["request"]]

    checks_of: dict[tuple[str, str], list] = {}
    for r in api.api.routes:
        if isinstance(r, APIRoute):
            checks_of.update({(m, r.path): own(r) for m in r.methods})
        elif hasattr(r, "include_context"):  # FastAPI >= 0.165 keeps an included router whole, its
            floor = [d.dependency for d in r.include_context.dependencies]  # dependencies beside it
            for sub in r.original_router.routes:
                checks_of.update({(m, r.include_context.prefix + sub.path): floor + own(sub) for m in sub.methods})
    checked = 0
    for path, ops in api.openapi()["paths"].items():
        for method in ops:
            checks = checks_of[(method.upper(), path)]
            assert checks or path == "/healthz", f"{method} {path} checks no role"
            for role in (None, *ROLES):
                headers = [(b"authorization", f"Bearer {TOKENS[role]}".encode())] if role else []
                request = Request({"type": "http", "method": method.upper(), "path": path, "headers": headers,
                                   "app": api.api, "query_string": b""})
                try:
                    for check in checks:
                        check(request)
                    status = 200
                except HTTPException as exc:
                    status = exc.status_code
                if path == "/healthz":
                    continue
                if role is None:
                    assert status == 401, (method, path)
                else:
                    assert (status == 200) == (role in _expected(method.upper(), path)), (method, path, role, status)
            checked += 1
    assert checked > 40


def test_personal_data_is_masked_for_roles_without_the_right(api):
    """A viewer and an auditor get every personal-data column masked, at any depth; an analyst
    and an admin see it. Checked through a route added here that returns such a document."""
    from fastapi.testclient import TestClient

    doc = {"kind": "t", "tables": {"people": [{"customer_id": "cust-7", "email": "ab12", "score": 0.5}]},
           "params": {"customer_id": "cust-7", "k": 3}, "findings": [{"text": "Top offer for cust-7: p1."}]}
    api.api.add_api_route("/v1/test-people", lambda: doc, methods=["GET"])
    with TestClient(api) as client:
        for role in ROLES:
            got = client.get("/v1/test-people", headers={"Authorization": f"Bearer {TOKENS[role]}"}).json()
            row = got["tables"]["people"][0]
            if role in ("analyst", "admin"):
                assert got == doc
            else:
                assert row == {"customer_id": "***", "email": "***", "score": 0.5}
                assert got["params"] == {"customer_id": "***", "k": 3}
                assert got["findings"][0]["text"] == "Top offer for ***: p1."  # named in a finding: masked too


def test_dashboard_pages_never_show_personal_data():
    """A page is stored once for every role that may read it: its results are masked before they
    are rendered (tables by column, findings and parameters by the values found there)."""
    import pandas as pd

    from mercator.govern import mask_result
    from mercator.results import Finding, Result

    res = Result(tables={"t": pd.DataFrame({"customer_id": ["cust-7", None], "n": [1, 2]})},
                 findings=(Finding("cust-7 bought twice"),), params={"person_id": "cust-7", "k": 1})
    got = mask_result(res)
    assert got.tables["t"].customer_id.tolist() == ["***", None] and got.tables["t"].n.tolist() == [1, 2]
    assert got.findings[0].text == "*** bought twice" and got.params == {"person_id": "***", "k": 1}
    plain = Result(tables={"t": pd.DataFrame({"n": [1]})}, findings=(Finding("fine"),))
    assert mask_result(plain) is plain


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


def test_the_hot_decision_routes_check_the_role_and_the_rate(tmp_path, monkeypatch):
    """POST /v1/decide and /v1/feedback are answered ahead of FastAPI (not in the OpenAPI
    document): they too need a token that may act (401 without, 403 for a viewer or an auditor),
    and a caller beyond the rate limit gets 429 with Retry-After (OWASP API4)."""
    from fastapi.testclient import TestClient

    from mercator.interfaces.api import create_app

    monkeypatch.setenv("MERCATOR_ACCESS_TOKENS", ",".join(f"{r}:{t}" for r, t in TOKENS.items()))
    app = create_app(str(tmp_path / "ws.duckdb"), monitor_interval=0, rate_limit=5)
    body = {"policy": "none", "person_id": "p1", "context": {}}
    with TestClient(app) as client:
        for path in ("/v1/decide", "/v1/feedback"):
            assert client.post(path, json=body).status_code == 401
            for role in ("viewer", "auditor"):
                assert client.post(path, json=body, headers={"Authorization": f"Bearer {TOKENS[role]}"}).status_code == 403
        analyst = {"Authorization": f"Bearer {TOKENS['analyst']}"}
        codes = [client.post("/v1/decide", json=body, headers=analyst).status_code for _ in range(14)]
        assert codes[0] not in (401, 403, 429) and 429 in codes  # a burst of 10 passes, then the bucket is empty
        limited = client.post("/v1/decide", json=body, headers=analyst)
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        assert limited.headers["content-type"].startswith("application/problem+json")


def test_the_command_line_sends_its_token_to_a_server_that_asks(monkeypatch):
    """`mercator ingest` loads through a running server; with access control on, it sends
    MERCATOR_TOKEN, and a refusal names what to do."""
    import http.server
    import threading

    from mercator.errors import BadParameter
    from mercator.interfaces._served import _call

    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(self.headers.get("Authorization"))
            ok = self.headers.get("Authorization") == f"Bearer {TOKENS['analyst']}"
            self.send_response(200 if ok else 401)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"status": "done"}' if ok else b'{"detail": "a token is needed"}')

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/v1/jobs/x"
    try:
        monkeypatch.delenv("MERCATOR_TOKEN", raising=False)
        with pytest.raises(BadParameter, match="set MERCATOR_TOKEN to an analyst's"):
            _call(url)
        monkeypatch.setenv("MERCATOR_TOKEN", TOKENS["analyst"])
        assert _call(url) == {"status": "done"}
        assert seen == [None, f"Bearer {TOKENS['analyst']}"]
    finally:
        server.shutdown()
