"""The REST API renders the same results as the command line (issue 19).

Contract: for every analysis route, the document the API returns equals the one the CLI's
``--json`` prints for the same parameters, on one small demo workspace; bad requests get
the right status and an RFC 9457 problem document, never a 500 or a trace; long work runs as
background jobs that can be listed, read and cancelled; ``mercator serve`` answers over HTTP.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import socket
import subprocess
import sys
import time

import httpx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from mercator.interfaces.api import create_app
from mercator.interfaces.cli import app as cli
from tests.conftest import small_demo

runner = CliRunner()
EXPERIMENT = "exp_email_subject"


@pytest.fixture(scope="module")
def demo(tmp_path_factory, small_demo_template) -> str:
    """A small demo workspace, closed, so that the CLI and the API each open it as they would."""
    return str(small_demo(small_demo_template, tmp_path_factory.mktemp("api")))


@pytest.fixture(scope="module")
def client(demo):
    # the access log is chained when the app stops, not every minute: a write in the middle would
    # hold the file while a test reads it in this process
    with TestClient(create_app(demo, max_jobs=2, audit_interval=0), raise_server_exceptions=False) as c:
        yield c


#: How long a fit took differs between any two runs; nothing else may.
TIMINGS = {"fit_seconds", "seconds", "seconds_per_group"}


def same(a, b, path: str = "") -> None:
    """Equal documents; floats to 1e-9 relative, since the engine's parallel sums may differ in
    their last bits between two runs of the same query; timings are not compared."""
    if isinstance(a, float) or isinstance(b, float):
        assert isinstance(a, int | float) and isinstance(b, int | float), f"{path}: {a!r} != {b!r}"
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12), f"{path}: {a!r} != {b!r}"
    elif isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), f"{path}: keys {sorted(a)} != {sorted(b)}"
        if a.get("metric") in TIMINGS:  # a row of a fit table that is a timing
            return
        for k in a.keys() - TIMINGS:
            same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), f"{path}: {len(a)} items != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, f"{path}[{i}]")
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


def _cli(demo: str, *args: str) -> dict:
    res = runner.invoke(cli, [*args, "--json"], env={"MERCATOR_WORKSPACE": demo})
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def _cli_error(demo: str, *args: str) -> str:
    res = runner.invoke(cli, [*args, "--json"], env={"MERCATOR_WORKSPACE": demo})
    assert res.exit_code == 2, res.output
    return " ".join(res.stderr.removeprefix("error: ").split())


def _job(client: TestClient, path: str, body: dict, timeout: float = 600) -> dict:
    r = client.post(path, json=body)
    assert r.status_code == 202, r.text
    assert r.headers["location"] == f"/v1/jobs/{r.json()['id']}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(r.headers["location"]).json()
        if job["status"] in ("done", "failed", "cancelled"):
            assert job["status"] == "done", job.get("problem")
            return job["result"]
        time.sleep(0.5)
    raise AssertionError(f"job {path} did not finish in {timeout} s")


# -- the contract: route == CLI --json ---------------------------------------------------------

READS = [
    ("/v1/tables", ["tables"]),
    ("/v1/quarantine?limit=50", ["quarantine", "--limit", "50"]),
    ("/v1/mappers", ["mappers"]),
    ("/v1/schema/orders", ["schema", "show", "orders"]),
    ("/v1/explore?since=2024-04-01&by=channel,device%2Bcountry", ["explore", "--since", "2024-04-01",
                                                                   "--by", "channel,device+country"]),
    ("/v1/trend?metric=cpa&grain=week", ["trend", "--metric", "cpa", "--grain", "week"]),
    ("/v1/diagnose?metric=cvr&current=2024-04-01:2024-04-28",
     ["diagnose", "--metric", "cvr", "--current", "2024-04-01:2024-04-28"]),
    ("/v1/funnel?steps=page_view,add_to_cart,purchase&by=device",
     ["funnel", "--steps", "page_view,add_to_cart,purchase", "--by", "device"]),
    ("/v1/cohorts?grain=month&table=orders", ["cohorts", "--grain", "month", "--table", "orders"]),
    ("/v1/attribution?model=last_touch,linear,markov_1&lookback=14d",
     ["attribution", "--model", "last_touch,linear,markov_1", "--lookback", "14d"]),
    ("/v1/experiments/design?baseline=0.05&mde=0.1&units_per_day=500",
     ["experiment", "design", "--baseline", "0.05", "--mde", "0.1", "--units-per-day", "500"]),
    ("/v1/experiments/review?metrics=converted", ["experiment", "review", "--metrics", "converted"]),
    (f"/v1/experiments/{EXPERIMENT}/analysis?metrics=converted,revenue",
     ["experiment", "analyze", "--experiment", EXPERIMENT, "--metrics", "converted,revenue"]),
]


@pytest.mark.parametrize(("route", "args"), READS, ids=[r.split("?")[0] for r, _ in READS])
def test_read_route_equals_cli_json(client, demo, route, args):
    r = client.get(route)
    assert r.status_code == 200, r.text
    same(r.json(), _cli(demo, *args))


POSTS = [
    ("/v1/query", {"sql": "SELECT channel, count(*) AS n FROM orders GROUP BY channel ORDER BY channel"},
     ["query", "SELECT channel, count(*) AS n FROM orders GROUP BY channel ORDER BY channel"]),
    ("/v1/segments/rfm", {"save": False, "quantiles": "4"}, ["segment", "rfm", "--no-save", "--quantiles", "4"]),
    ("/v1/segments/cluster", {"save": False, "rounds": 3, "k": 3},
     ["segment", "cluster", "--no-save", "--rounds", "3", "--k", "3"]),
    ("/v1/uplift", {"experiment": EXPERIMENT, "bootstrap": 20}, ["uplift", "--experiment", EXPERIMENT,
                                                                 "--bootstrap", "20"]),
]


@pytest.mark.parametrize(("route", "body", "args"), POSTS, ids=[r for r, _, _ in POSTS])
def test_post_route_equals_cli_json(client, demo, route, body, args):
    r = client.post(route, json=body)
    assert r.status_code == 200, r.text
    same(r.json(), _cli(demo, *args))


JOBS = [
    ("/v1/forecast", {"metric": "conversions", "horizon": 14, "models": "fast", "windows": 2},
     ["forecast", "--metric", "conversions", "--horizon", "14", "--models", "fast", "--windows", "2"]),
    ("/v1/forecast/backtest", {"metric": "clicks", "by": "device", "horizon": 7, "models": "fast", "windows": 2},
     ["forecast", "backtest", "--metric", "clicks", "--by", "device", "--horizon", "7", "--models", "fast",
      "--windows", "2"]),
    ("/v1/forecast/pace", {"metric": "conversions", "target": 900, "end": "2024-05-31", "models": "fast"},
     ["forecast", "pace", "--metric", "conversions", "--target", "900", "--end", "2024-05-31", "--models",
      "fast"]),
    ("/v1/forecast/drivers", {"target": "cpc", "splits": 3}, ["forecast", "drivers", "--target", "cpc",
                                                               "--splits", "3"]),
    ("/v1/clv/fit", {"horizon": 6}, ["clv", "fit", "--horizon", "6"]),
    ("/v1/target/train", {"table": "orders", "label": "is_return", "exclude": "order_id,customer_id,_load_id",
                          "time_col": "ts"},
     ["target", "train", "--table", "orders", "--label", "is_return", "--exclude", "order_id,customer_id,_load_id",
      "--time-col", "ts"]),
    ("/v1/text/sentiment", {"group": "channel"}, ["text", "sentiment", "--group", "channel", "--time", "ts"]),
    ("/v1/text/keywords", {"group": "channel", "method": "yake"},
     ["text", "keywords", "--group", "channel", "--method", "yake"]),
]


@pytest.mark.parametrize(("route", "body", "args"), JOBS, ids=[r for r, _, _ in JOBS])
def test_job_result_equals_cli_json(client, demo, route, body, args):
    same(_job(client, route, body), _cli(demo, *args))


def test_mmm_routes_equal_cli_json(client, demo):
    """Fit (a job), then optimize, scenario and plan on the model by its id, as the CLI does by file."""
    fit = {"adstock": "geometric", "saturation": "logistic", "chains": 1, "warmup": 100, "samples": 100,
           "holdout": 0.0}
    api = _job(client, "/v1/mmm/fit", fit)
    args = ["mmm", "fit", "--adstock", "geometric", "--saturation", "logistic", "--chains", "1", "--warmup", "100",
            "--samples", "100", "--holdout", "0"]
    same(api, _cli(demo, *args))
    path = api["params"]["model_path"]
    model_id = path.rsplit("/", 1)[-1].removesuffix(".mercator-mmm")
    channels = api["params"]["channels"]
    shift = f"{channels[0]}:-10%,{channels[1]}:+10%"
    for route, body, cmd in (
            ("/v1/mmm/optimize", {"model": model_id}, ["mmm", "optimize", "--model", path]),
            ("/v1/mmm/scenario", {"model": model_id, "shift": shift}, ["mmm", "scenario", "--model", path,
                                                                       "--shift", shift]),
            ("/v1/mmm/plan", {"spend": f"{channels[0]}:1000", "horizon": 4},
             ["mmm", "plan", "--spend", f"{channels[0]}:1000", "--horizon", "4"])):
        r = client.post(route, json=body)
        assert r.status_code == 200, r.text
        same(r.json(), _cli(demo, *cmd), route)


def test_recommend_routes_equal_cli_json(client, demo):
    """The fit is a job (its model saved beside the workspace); one customer's list is served
    from the fitted model and equals `recommend for --json`, consented or not; bundles and the
    next best offers too."""
    fit = _job(client, "/v1/recommend/fit", {"horizon": 30, "cuts": 1})
    assert fit["kind"] == "recommender" and fit["params"]["model"]
    cli_fit = _cli(demo, "recommend", "fit", "--horizon", "30", "--cuts", "1")
    same(fit, cli_fit, "fit")
    import duckdb

    with duckdb.connect(demo, read_only=True) as con:
        yes, no = (con.sql(f"SELECT customer_id FROM customers WHERE consent_personalization = {v} "
                           "AND customer_id IN (SELECT customer_id FROM orders) ORDER BY 1 LIMIT 1").fetchone()[0]
                   for v in ("true", "false"))
    for who in (yes, no, "nobody"):
        api = client.get(f"/v1/recommendations/{who}?k=5&protocol=cross-sell")
        assert api.status_code == 200, api.text
        same(api.json(), _cli(demo, "recommend", "for", who, "--k", "5", "--protocol", "cross-sell"), who)
    assert client.get(f"/v1/recommendations/{yes}").json()["params"]["reason"].startswith("personalized")
    assert client.get(f"/v1/recommendations/{no}").json()["params"]["reason"].startswith("not personalized")
    bundles = client.get("/v1/recommend/bundles?min_orders=5&top=10")
    same(bundles.json(), _cli(demo, "recommend", "bundles", "--min-orders", "5", "--top", "10"), "bundles")
    bad = client.get(f"/v1/recommendations/{yes}?protocol=upsell")
    assert bad.status_code == 400 and "unknown protocol" in bad.json()["detail"]
    for args in ((), ("--customer", yes)):  # the next best offer, valued with the model just fitted
        query = f"?customer_id={yes}" if args else ""
        offers = client.get(f"/v1/recommend/offers{query}")
        assert offers.status_code == 200, offers.text
        same(offers.json(), _cli(demo, "recommend", "offers", *args), f"offers {args}")
    assert client.get("/v1/recommend/offers?as_of=soon").status_code == 400


def test_register_is_a_write_and_a_changed_plan_conflicts(client, demo):
    body = {"hypothesis": "A shorter subject line lifts opens.", "metric": "converted", "min_lift": 0.02}
    first = client.put("/v1/experiments/exp_api_test", json=body)
    assert first.status_code == 200, first.text
    assert first.json()["kind"] == "experiment_registration"
    again = client.put("/v1/experiments/exp_api_test", json=body)  # same criteria: idempotent
    assert again.json()["params"]["criteria_hash"] == first.json()["params"]["criteria_hash"]
    changed = client.put("/v1/experiments/exp_api_test", json={**body, "min_lift": 0.05})
    assert changed.status_code == 409
    assert changed.headers["content-type"] == "application/problem+json"
    assert "cannot change after locking" in changed.json()["detail"]


# -- bad requests: a problem document with the right status, never a 500 ---------------------

BAD = [
    ("get", "/v1/schema/not_a_table", None, 404, "not a canonical table"),
    ("get", "/v1/trend?metric=not_a_kpi", None, 400, "unknown KPI"),
    ("get", "/v1/diagnose?metric=cvr&current=2024-04-01:2024-02-01", None, 400, None),
    ("get", "/v1/explore?since=yesterday", None, 400, "not an ISO date"),
    ("get", "/v1/quarantine?limit=many", None, 422, "query.limit"),
    ("get", "/v1/experiments/design?baseline=-1", None, 422, "query.baseline"),
    ("get", "/v1/experiments/no_such_experiment/analysis", None, 404, "no_such_experiment"),
    ("post", "/v1/mmm/optimize", {"model": "no-such-model"}, 404, "no media-mix model"),
    ("post", "/v1/query", {"sql": "DELETE FROM orders"}, 400, "not a SELECT"),
    ("post", "/v1/query", {"sql": "SELECT 1", "unexpected": True}, 422, "body.unexpected"),
    ("post", "/v1/segments/rfm", {"quantiles": "many"}, 400, "neither a number"),
    ("post", "/v1/clv/fit", {"calibration_end": "soon"}, 400, "not an ISO date"),  # refused before any job starts
    ("get", "/v1/jobs/0123456789abcdef", None, 404, "no job"),
    ("post", "/v1/ingest", {"paths": ["/etc/hostname"]}, 400, "outside the server's ingest folder"),
    ("post", "/v1/ingest", {"paths": ["no-such-file.csv"]}, 400, "no such file"),
    ("post", "/v1/ingest", {"paths": []}, 422, "body.paths"),
    ("get", "/v1/no/such/route", None, 404, None),
    ("delete", "/v1/tables", None, 405, None),
    # found by Schemathesis (tests/interfaces/test_schemathesis.py), each once a 500
    ("get", "/v1/explore?by=%C3%B7", None, 400, "no dimension"),
    ("get", "/v1/alerts?state=%00x", None, 400, "NUL character"),
    ("get", "/v1/quarantine?limit=737897938159838691328", None, 400, "out of range"),
    ("get", "/v1/experiments/design?baseline=0.1&n_control=1", None, 400, "at least 2 units"),
    ("post", "/v1/query", {"sql": "SELECT '\u0000'"}, 400, "NUL character"),
    ("post", "/v1/segments/rfm", {"save": 0}, 422, "body.save"),  # 0 is not false
    ("get", "/v1/recommend/bundles?products=%03%29x", None, 400, "not a regular expression"),
    ("get", "/v1/experiments/design?baseline=0.1&mde=0.2&units_per_day=5e-324&share=5e-324", None, 400,
     "no finite plan"),
]


@pytest.mark.parametrize(("method", "route", "body", "status", "says"), BAD,
                         ids=[f"{m} {r}" for m, r, *_ in BAD])
def test_bad_request_gets_problem_document(client, method, route, body, status, says):
    r = client.request(method, route, json=body)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    doc = r.json()
    assert doc["status"] == status and doc["title"] and doc["detail"]
    assert "Traceback" not in r.text and 'File "' not in r.text
    if says:
        assert says in doc["detail"]


def test_a_request_cannot_name_a_file_on_the_server(client, tmp_path):
    """Every request names workspace tables: an analysis that would read a file the request
    names refuses it (files reach a served workspace through a load, inside its ingest folder)."""
    secret = tmp_path / "secret.csv"
    secret.write_text("customer_id,variant,converted\nc1,treatment,1\n")
    for route, body in (("/v1/uplift", {"experiment": str(secret)}),
                        ("/v1/experiments/impact", {"data": str(secret), "kpi": "converted", "post_start": "2024-01-01"})):
        r = client.post(route, json=body)
        assert r.status_code == 400, (route, r.text)
        assert "names a workspace table, not a file" in r.json()["detail"]


def test_a_405_names_every_method_of_the_path(client):
    r = client.delete("/v1/alert-rules")
    assert r.status_code == 405
    assert set(r.headers["allow"].split(", ")) >= {"GET", "POST"}


def test_oversized_body_is_refused(client):
    r = client.post("/v1/query", content=b"x" * 1_100_000, headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert r.json()["status"] == 413


def test_problem_detail_is_the_cli_message(client, demo):
    api = client.get("/v1/trend?metric=not_a_kpi").json()["detail"]
    assert api == _cli_error(demo, "trend", "--metric", "not_a_kpi")


def test_a_locked_workspace_answers_503_and_cached_reads_stay_available(demo, tmp_path):
    """A load holds the file: a cached read is served (marked stale), an uncached one is a 503."""
    import shutil

    path = str(tmp_path / "copy.duckdb")
    shutil.copy(demo, path)
    with TestClient(create_app(path, wait=0.5)) as c:
        assert c.get("/v1/tables").status_code == 200
        hold = ("import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); c.execute('CREATE TABLE t_load AS SELECT 1'); "
                "c.execute('CHECKPOINT'); print('held', flush=True); time.sleep(60)")  # a load: it writes and holds
        holder = subprocess.Popen([sys.executable, "-c", hold, path], stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout.readline().strip() == "held"
            stale = c.get("/v1/tables")
            assert stale.status_code == 200 and stale.headers.get("x-mercator-stale") == "1"
            assert c.get("/v1/mappers").status_code == 200  # needs no workspace
            busy = c.get("/v1/quarantine")
            assert busy.status_code == 503 and busy.headers["retry-after"]
            assert "in use by" in busy.json()["detail"]
        finally:
            holder.kill()
            holder.wait()
        health = c.get("/healthz").json()
        assert health["workspace_reachable"] and health["engine"] == "duckdb"


# -- loads through the server --------------------------------------------------------------------

def _kpi_csv(folder, n: int = 30) -> str:
    """A KPI series the demo workspace does not hold yet (n weekly rows)."""
    path = folder / "kpi.csv"
    rows = [f"{(dt.date(2024, 1, 1) + dt.timedelta(weeks=i)).isoformat()},week,api_test,{i * 1.5}" for i in range(n)]
    path.write_text("period,granularity,kpi,value\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return str(path)


def _rows(client: TestClient, table: str) -> int:
    r = client.get("/v1/tables")
    assert r.status_code == 200 and "x-mercator-stale" not in r.headers, r.text
    return {t["table"]: t["rows"] for t in r.json()["tables"]["tables"]}[table]


@pytest.fixture
def held_load(monkeypatch):
    """Loads pause inside their transaction, just before the commit, until the test lets go."""
    import threading

    from mercator.ingest import _load

    reached, release = threading.Event(), threading.Event()

    def hold(step: str) -> None:
        if step == "commit":
            reached.set()
            assert release.wait(60), "the test never released the load"

    monkeypatch.setattr(_load, "_hold", hold)
    yield reached, release
    release.set()


def test_reads_stay_available_while_the_server_loads(demo, tmp_path, held_load):
    """Issue 19 item 3: a load through the server (POST /v1/ingest) holds the writing connection;
    reads, cached or not, are answered meanwhile from what is committed (DuckDB MVCC), and see
    the new rows once the load commits."""
    import shutil

    reached, release = held_load
    path = str(tmp_path / "load.duckdb")
    shutil.copy(demo, path)
    with TestClient(create_app(path, ingest_root=tmp_path)) as c:
        before = _rows(c, "kpi_series")
        job = c.post("/v1/ingest", json={"paths": [_kpi_csv(tmp_path)],
                                         "table": "kpi_series"})
        assert job.status_code == 202, job.text
        assert reached.wait(60), "the load did not reach its commit"
        assert _rows(c, "kpi_series") == before  # not committed yet: the reads see the table as it was
        assert c.get("/v1/quarantine?limit=5").status_code == 200  # uncached, answered during the load
        assert c.get("/v1/trend?metric=cpa&grain=week").status_code == 200
        query = c.post("/v1/query", json={"sql": "SELECT 1"})
        assert query.status_code == 503 and "writing" in query.json()["detail"]  # documented exception
        assert c.get(f"/v1/jobs/{job.json()['id']}").json()["status"] == "running"
        release.set()
        result = _job_result(c, job.json()["id"])
        assert result["kind"] == "ingest"
        assert _rows(c, "kpi_series") == before + 30
    health = TestClient(create_app(path))  # the server closed its writing connection: the file is free
    with health as h:
        assert h.get("/healthz").json()["workspace_reachable"]


def test_a_cancelled_load_leaves_the_workspace_as_it_was(demo, tmp_path, held_load):
    import shutil

    reached, release = held_load
    path = str(tmp_path / "cancel.duckdb")
    shutil.copy(demo, path)
    with TestClient(create_app(path, ingest_root=tmp_path)) as c:
        before = _rows(c, "kpi_series")
        job = c.post("/v1/ingest", json={"paths": [_kpi_csv(tmp_path)], "table": "kpi_series"}).json()
        assert reached.wait(60)
        assert c.delete(f"/v1/jobs/{job['id']}").json()["status"] == "cancelled"
        release.set()  # the load goes on to its commit, finds itself cancelled and rolls back
    # the server stopped (its jobs ended); the load's record stays cancelled
    with TestClient(create_app(path)) as again:
        assert _rows(again, "kpi_series") == before
        assert again.get(f"/v1/jobs/{job['id']}").json()["status"] == "cancelled"


def _job_result(client: TestClient, job_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] not in ("queued", "running"):
            assert job["status"] == "done", job.get("problem")
            return job["result"]
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s")


# -- jobs ---------------------------------------------------------------------------------------

def test_jobs_are_listed_cancelled_and_survive_a_new_server(demo, tmp_path):
    import shutil

    path = str(tmp_path / "jobs.duckdb")
    shutil.copy(demo, path)
    with TestClient(create_app(path, max_jobs=1)) as c:
        running = c.post("/v1/report").json()  # long: the whole pipeline
        queued = c.post("/v1/forecast", json={"metric": "conversions", "models": "fast"}).json()
        assert queued["status"] == "queued"  # at most one at once
        assert c.delete(f"/v1/jobs/{running['id']}").json()["status"] == "cancelled"
        assert c.delete(f"/v1/jobs/{queued['id']}").json()["status"] in ("cancelled", "done")
        listed = {j["id"]: j["status"] for j in c.get("/v1/jobs").json()}
        assert listed[running["id"]] == "cancelled"
    with TestClient(create_app(path)) as again:  # a new server reads the records
        assert again.get(f"/v1/jobs/{running['id']}").json()["status"] == "cancelled"


# -- over HTTP ---------------------------------------------------------------------------------

def test_mercator_serve_answers_over_http_and_takes_the_command_lines_loads(demo, tmp_path):
    """``mercator serve`` over HTTP; while it runs, ``mercator ingest`` on the same workspace loads
    through it (docs/api.md, the workspace rule) and prints the same document; the server's
    announcement goes when it stops."""
    import shutil

    path = str(tmp_path / "served.duckdb")
    shutil.copy(demo, path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # no dashboard refresh: the test compares two reads of the workspace, which a refresh in between would change
    proc = subprocess.Popen([sys.executable, "-m", "mercator.interfaces.cli", "serve", "--port", str(port),
                             "--workspace", path, "--ingest-root", str(tmp_path), "--refresh-interval", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    announcement = tmp_path / "served.duckdb.serve.json"
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"{base}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read()
                assert time.monotonic() < deadline, "the server did not start in 60 s"
                time.sleep(0.3)
        assert health.json()["workspace_reachable"] is True
        assert httpx.get(f"{base}/openapi.json").json()["info"]["title"] == "Mercator"
        assert httpx.get(f"{base}/docs").status_code == 200
        tables = httpx.get(f"{base}/v1/tables").json()
        same(tables, _cli(path, "tables"))
        assert json.loads(announcement.read_text())["url"] == base

        load = subprocess.run([sys.executable, "-m", "mercator.interfaces.cli", "ingest", _kpi_csv(tmp_path),
                               "--table", "kpi_series", "--json"], check=False, capture_output=True, text=True, timeout=120,
                              env={**os.environ, "MERCATOR_WORKSPACE": path})
        assert load.returncode == 0, load.stderr
        assert "loading through mercator serve" in load.stderr
        doc = json.loads(load.stdout)
        assert doc["kind"] == "ingest" and doc["tables"]["loads"][0]["rows_inserted"] == 30
        assert [j["kind"] for j in httpx.get(f"{base}/v1/jobs").json()] == ["ingest"]
        rows = {t["table"]: t["rows"] for t in httpx.get(f"{base}/v1/tables").json()["tables"]["tables"]}
        assert rows["kpi_series"] == {t["table"]: t["rows"] for t in tables["tables"]["tables"]}["kpi_series"] + 30
    finally:
        proc.terminate()
        proc.wait(10)
    assert not announcement.exists()
