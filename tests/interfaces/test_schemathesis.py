"""Schemathesis against the API's OpenAPI document (issue 23, item 9): every operation, all of
Schemathesis's checks, a fixed seed and 100 generated examples per operation, over HTTP on a
small demo workspace. Zero server errors and no response that breaks the document.

Two settings say what the API is, not what the test tolerates:

- a request that fits the document but that no analysis can take (an unknown KPI, a date that is
  not one, an experiment that does not exist) is answered 400 or 404 with the reason; the
  document declares those answers, so ``positive_data_acceptance`` counts them as answers;
- background jobs are accepted (202) but none starts (``max_jobs=0``): what a job computes is
  tested with each capability, and a hundred media-mix fits would be the whole test run.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="the API contract test needs schemathesis (the test extra)")

from hypothesis import HealthCheck, settings

#: Statuses a schema-valid request may get: success, and the documented refusals with a reason.
ACCEPTED = ["2xx", "400", "401", "403", "404", "409", "429", "503"]


def _document() -> dict:
    """The OpenAPI document, from an app that is never served (it opens no workspace)."""
    import tempfile

    from mercator.interfaces.api import create_app

    with tempfile.TemporaryDirectory() as folder:
        return create_app(f"{folder}/none.duckdb").openapi()


@pytest.fixture(scope="module")
def base_url(tmp_path_factory):
    """``mercator serve``'s app over the tiny demo workspace, on a free port, in this process."""
    import uvicorn

    from mercator.demo import build_demo_workspace
    from mercator.interfaces.api import create_app

    folder = tmp_path_factory.mktemp("schemathesis")
    ws, _ = build_demo_workspace(folder / "demo.duckdb", size="tiny")
    ws.close()
    app = create_app(str(folder / "demo.duckdb"), max_jobs=0, monitor_interval=0, refresh_interval=0,
                     ingest_root=folder)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(30)
    shutil.rmtree(folder, ignore_errors=True)


def _config():
    from schemathesis.config import SchemathesisConfig

    # the coverage phase (every boundary case the document defines, on top of the 100 examples) is
    # left out: it adds half as many requests again, and the run is already the test suite's longest
    return SchemathesisConfig.from_dict({"seed": 23, "phases": {"coverage": {"enabled": False}},
                                         "checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED}}})


SCHEMA = schemathesis.openapi.from_dict(_document(), config=_config())
#: One test per operation, each with its own id: Schemathesis's own ``parametrize`` gives every
#: operation the same node id, and pytest-xdist then runs only one of them.
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]


@pytest.mark.parametrize("operation", OPERATIONS, ids=[op.label for op in OPERATIONS])
def test_every_operation_against_the_openapi_document(operation, base_url):
    """Requests that fit the document and requests that break it, 100 in all."""
    from hypothesis import given
    from hypothesis import strategies as st

    cases = st.one_of(operation.as_strategy(schemathesis.GenerationMode.POSITIVE),
                      operation.as_strategy(schemathesis.GenerationMode.NEGATIVE))

    @settings(max_examples=100, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=cases)
    def check(case):
        case.call_and_validate(base_url=base_url)

    check()
