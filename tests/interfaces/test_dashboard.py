"""The dashboard (issue 22, item 7) on the small demo company: a role by page matrix (each role
sees and may do exactly what it should, in the pages and in the API behind their buttons), pages
computed ahead and read from the workspace, and a browser test with Playwright driving Debian's
chromium: every page renders without console errors, screenshots written under
test-output/dashboard/."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from mercator.interfaces.api import create_app
from mercator.interfaces.dashboard import PAGES, Refresher, refresh_dashboard
from tests.conftest import ingest_text, small_demo

TOKENS = {"viewer": "viewer-token-0123456789", "analyst": "analyst-token-0123456789",
          "admin": "admin-token-0123456789"}
ROLE_RANK = {"viewer": 0, "analyst": 1, "admin": 2}
SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "dashboard"


@pytest.fixture(scope="module")
def demo(tmp_path_factory, small_demo_template):
    from mercator import Workspace
    from mercator.monitor import save_rules, set_objective, sign_objective

    path = small_demo(small_demo_template, tmp_path_factory.mktemp("dash"))
    ws = Workspace(str(path))
    last = ws.table("ad_performance").date.max().execute()
    # something to watch: a locked objective, one awaiting sign-off, a rule that fires
    set_objective(ws, "q_cpa", kpi_name="cpa", target=20, start=last.replace(day=1), end=last, roles=["finance"])
    sign_objective(ws, "q_cpa", "finance", person="fiona")  # locked and live: its status shows on the CPA tile
    set_objective(ws, "q_roas", kpi_name="roas", target=3, start=last.replace(day=1), end=last,
                  roles=["marketing", "finance"])
    save_rules(ws, {"contacts": {"log": {"type": "log"}},
                    "rules": [{"name": "any_spend", "kind": "threshold", "metric": "cost", "above": 1, "window": "7d",
                               "every": "1d", "notify": ["log"]}]})
    refresh_dashboard(ws)  # the analysis pages computed ahead, as `mercator serve` keeps them
    ws.close()
    return str(path), (last + dt.timedelta(days=1)).isoformat()


@pytest.fixture(scope="module")
def client(demo):
    import os

    path, _ = demo
    os.environ["MERCATOR_ACCESS_TOKENS"] = ",".join(f"{r}:{t}" for r, t in TOKENS.items())
    try:
        with TestClient(create_app(path, sync_interval=3600, monitor_interval=0)) as c:
            yield c
    finally:
        del os.environ["MERCATOR_ACCESS_TOKENS"]


def _as(role: str) -> dict:
    return {"Authorization": f"Bearer {TOKENS[role]}"}


CHEAP = ("overview", "trends", "funnel", "cohorts", "budget", "experiments", "decisions", "objectives", "alerts",
         "health", "rules", "settings")


@pytest.mark.parametrize("role", list(TOKENS))
def test_each_role_sees_exactly_its_pages_and_buttons(client, role):
    for page in (p for p in PAGES if p.id in CHEAP):
        r = client.get(f"/dashboard/{page.id}", headers=_as(role))
        allowed = ROLE_RANK[role] >= ROLE_RANK[page.role]
        assert r.status_code == (200 if allowed else 403), (role, page.id, r.status_code)
        if allowed:
            html = r.text
            assert f'id="role">{role}<' in html
            assert ("Alert rules</a>" in html) == (role == "admin")  # the nav shows only what the role may open
            if page.id == "alerts":
                assert ('id="run-rules"' in html) == (role != "viewer")
            if page.id == "objectives":
                assert ("Sign as marketing" in html) == (role == "admin")


def test_the_api_behind_the_buttons_enforces_the_same_roles(client, demo):
    _, after_data = demo
    assert client.get("/v1/alerts").status_code == 401  # no token
    assert client.get("/v1/alerts", headers={"Authorization": "Bearer nope-nope-nope-nope"}).status_code == 401
    assert client.get("/v1/alerts", headers=_as("viewer")).status_code == 200
    assert client.post("/v1/monitor/run", json={}, headers=_as("viewer")).status_code == 403
    run = client.post("/v1/monitor/run", json={"now": after_data}, headers=_as("analyst"))
    assert run.status_code == 200
    firing = client.get("/v1/alerts", params={"state": "firing"}, headers=_as("viewer")).json()["tables"]["alerts"]
    assert firing, "the threshold rule fires on the demo's spend"
    alert = firing[0]["alert_id"]
    assert client.post(f"/v1/alerts/{alert}/ack", json={"by": "v"}, headers=_as("viewer")).status_code == 403
    assert client.post(f"/v1/alerts/{alert}/ack", json={"by": "a"}, headers=_as("analyst")).status_code == 200
    sign = {"role": "marketing", "person": "m"}
    assert client.post("/v1/objectives/q_roas/signoff", json=sign, headers=_as("analyst")).status_code == 403
    assert client.post("/v1/objectives/q_roas/signoff", json=sign, headers=_as("admin")).status_code == 200
    assert client.post("/v1/alert-rules", json={"rules": []}, headers=_as("analyst")).status_code == 403
    problem = client.post("/v1/alert-rules", json={"rules": []}, headers=_as("analyst")).json()
    assert problem["status"] == 403 and "admin role" in problem["detail"]
    assert client.get("/healthz").status_code == 200  # probes need no token


def test_sign_in_sets_a_same_site_cookie_and_unknown_tokens_go_back(client):
    client.cookies.clear()
    assert client.get("/dashboard", follow_redirects=False).headers["location"] == "/dashboard/login"
    bad = client.post("/dashboard/login", data={"token": "wrong-wrong-wrong-wrong"}, follow_redirects=False)
    assert bad.status_code == 303 and "error" in bad.headers["location"]
    ok = client.post("/dashboard/login", data={"token": TOKENS["viewer"]}, follow_redirects=False)
    assert ok.status_code == 303 and "samesite=strict" in ok.headers["set-cookie"].lower()
    assert "httponly" in ok.headers["set-cookie"].lower()
    assert client.get("/dashboard/alerts").status_code == 200
    assert client.get("/dashboard/nowhere").status_code == 404
    assert client.get("/dashboard/static/plotly.min.js").text.startswith("/**")
    client.cookies.clear()


def test_analysis_pages_are_read_from_the_workspace_and_say_when_they_were_computed(client):
    stored = [p.id for p in PAGES if p.stored]
    assert set(stored) >= {"overview", "trends", "forecast", "funnel", "budget"}
    for page_id in ("trends", "funnel"):
        html = client.get(f"/dashboard/{page_id}", headers=_as("viewer")).text
        assert "computed now" not in html and 'id="as-of">computed 20' in html
    html = client.get("/dashboard/alerts", headers=_as("viewer")).text
    assert "computed now" in html  # the monitor's own tables: computed when viewed, buttons show at once
    # the overview's KPI tiles: each total, and on the CPA tile the locked objective's status
    html = client.get("/dashboard/overview", headers=_as("viewer")).text
    tiles = {t.split('"', 1)[0]: t.split('class="tile')[0].split("<section")[0]
             for t in html.split('data-kpi="')[1:]}
    assert {"cost", "conversions", "ctr", "cpa", "roas"} <= set(tiles) and 'id="kpi-tiles"' in html
    cpa = tiles["cpa"]
    assert "q_cpa: <strong>" in cpa and "against 20.00" in cpa and "q_cpa" not in tiles["roas"]


def test_refresh_recomputes_only_what_a_change_made_stale_and_serve_keeps_pages_current(tmp_path, monkeypatch):
    from mercator import Workspace
    from mercator.interfaces.cli import app

    monkeypatch.delenv("MERCATOR_ACCESS_TOKENS", raising=False)  # open access: this workspace sets no tokens

    ads = "date,platform,channel,campaign,impressions,clicks,cost,conversions\n" + "".join(
        f"2024-01-{d:02d},google_ads,search,Brand,1000,{20 + d},{10 + d},{d % 4}\n" for d in range(1, 29))
    path = str(tmp_path / "ws.duckdb")
    ws = ingest_text(Workspace(path), tmp_path, ads, "ad_performance")
    first = refresh_dashboard(ws, ["trends", "funnel"]).to_frame("pages").set_index("page_id")
    assert set(first.status) == {"computed"} and (first.seconds >= 0).all()
    again = refresh_dashboard(ws, ["trends", "funnel"]).to_frame("pages")
    assert set(again.status) == {"current"}  # nothing changed: nothing recomputed
    ingest_text(ws, tmp_path, ads.replace("2024-01", "2024-02"), "ad_performance")  # a load: the pages are stale
    ws.close()
    with TestClient(create_app(path, sync_interval=3600, monitor_interval=0)) as c:
        assert "the data has changed since" in c.get("/dashboard/trends").text
    refresher = Refresher(lambda: Workspace(path, read_only=True), lambda: Workspace(path), tick=0)
    done = refresher.run_once().to_frame("pages").set_index("page_id")
    assert set(done.index) == {p.id for p in PAGES if p.stored} and set(done.status) == {"computed"}
    assert refresher.run_once() is None  # every page current
    with TestClient(create_app(path, sync_interval=3600, monitor_interval=0)) as c:
        html = c.get("/dashboard/trends").text
        assert "the data has changed since" not in html and "computed now" not in html and "2024-02" in html
    out = CliRunner().invoke(app, ["dashboard", "refresh", "--pages", "trends,nowhere", "-w", path, "--json"])
    assert out.exit_code == 2 and "no dashboard page nowhere" in out.output
    out = CliRunner().invoke(app, ["dashboard", "refresh", "--pages", "trends", "--force", "-w", path, "--json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert doc["kind"] == "dashboard_refresh" and doc["tables"]["pages"][0]["status"] == "computed"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_every_page_renders_in_chromium_without_console_errors(demo, monkeypatch):
    import httpx

    path, after_data = demo
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (make test installs it: apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="make test installs playwright")
    import uvicorn

    monkeypatch.setenv("MERCATOR_ACCESS_TOKENS", ",".join(f"{r}:{t}" for r, t in TOKENS.items()))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(path, sync_interval=3600, monitor_interval=0),
                                          host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=[
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"])
            page = browser.new_page(viewport={"width": 1300, "height": 900})
            errors: list[str] = []
            page.on("console", lambda m: errors.append(f"{m.type}: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
            page.goto(f"http://127.0.0.1:{port}/dashboard")  # signed out: the sign-in page
            page.fill("#token", TOKENS["admin"])
            page.click("button[type=submit]")
            page.wait_for_url(f"http://127.0.0.1:{port}/dashboard")
            for p_ in PAGES:
                page.goto(f"http://127.0.0.1:{port}/dashboard/{p_.id}", timeout=180_000)
                assert page.locator("h1").first.inner_text().endswith(p_.title)
                page.screenshot(path=str(SHOTS / f"{p_.id}.png"), full_page=True)
            # the buttons act: evaluate the rules (as of the day after the data, so the rule fires), then
            # acknowledge the alert from the page
            page.goto(f"http://127.0.0.1:{port}/dashboard/alerts")
            with page.expect_navigation():  # the page reloads after the API answered 2xx, and only then
                page.click("#run-rules")
            httpx.post(f"http://127.0.0.1:{port}/v1/monitor/run", json={"now": after_data}, timeout=60,
                       headers={"Authorization": f"Bearer {TOKENS['analyst']}"})
            page.goto(f"http://127.0.0.1:{port}/dashboard/alerts")
            page.click("[data-ack]")
            page.wait_for_function("document.getElementById('status').textContent === 'Acknowledged.'")
            browser.close()
    finally:
        server.should_exit = True
        thread.join(10)
    assert not errors, errors
