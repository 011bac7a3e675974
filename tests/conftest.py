"""Shared fixtures: one local Spark session per test run, workspaces on both engines."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest

os.environ.setdefault("OMP_WAIT_POLICY", "passive")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# Models are signed with this installation's key; tests use their own, not the user's ~/.config one.
os.environ.setdefault("MERCATOR_MODEL_KEY", "mercator-tests-model-signing-key-0123456789")

SHARED_DATA = Path(os.environ.get("MERCATOR_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


#: Files that take minutes, queued first: ``make test`` runs files on two workers (xdist
#: ``--dist loadfile``) in collection order, and one of these queued last leaves the other worker
#: idle for minutes (a run measured 42.5 min of CPU in 29.5 min of wall time).
SLOW_FIRST = ("mmm/test_mmm.py", "real/test_mmm_real.py", "contracts/test_results.py", "interfaces/test_api.py",
              "real/test_recommend_real.py", "docs/test_readme_tour.py", "test_spark_workspace.py",
              "forecast/test_forecast.py", "ingest/test_accounting.py", "decide/test_demo_decide.py",
              "interfaces/test_dashboard.py", "monitor/test_warnings.py", "monitor/test_alerts.py")


def pytest_collection_modifyitems(config, items):
    """The slow files first (a stable sort: the order within each file is kept)."""
    def rank(item) -> int:
        path = item.nodeid.split("::")[0].removeprefix("tests/")
        return SLOW_FIRST.index(path) if path in SLOW_FIRST else len(SLOW_FIRST)

    items.sort(key=rank)


def shared(*parts: str) -> Path:
    """A path under ../shared/data; skips the test with the reason if the folder is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real dataset {path} is not present (tests read ../shared/data beside the repository)")
    return path


def ingest_text(ws, tmp_path: Path, text: str, table: str):
    """Write ``text`` (a small CSV written in the test) to a file and ingest it into ``table``."""
    from mercator.ingest import ingest

    p = tmp_path / f"{table}.csv"
    p.write_text(text)
    ingest(ws, p, table=table)
    return ws


@pytest.fixture(scope="session")
def spark_session():
    if shutil.which("java") is None:
        pytest.skip("Spark tests need Java 17 on PATH (make test installs it with apt-get)")
    pyspark = pytest.importorskip("pyspark", reason="Spark tests need pyspark (pip install 'mercator[spark]')")
    from pyspark.sql import SparkSession

    warehouse = tempfile.mkdtemp(prefix="mercator-spark-")
    session = (
        SparkSession.builder.master("local[2]").appName("mercator-tests")
        .config("spark.ui.enabled", "false").config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1").config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.warehouse.dir", warehouse).config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.memory", "2g")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    assert pyspark.__version__
    yield session
    session.stop()
    shutil.rmtree(warehouse, ignore_errors=True)


@pytest.fixture(scope="session")
def demo_company(tmp_path_factory):
    """The default demo company on DuckDB, built once per test run (tests only read it, or save
    segment sets of their own): ``(workspace, truth, folder of the generated files)``."""
    import json

    from mercator.demo import build_demo_workspace

    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    ws, _ = build_demo_workspace(path, size="default")
    folder = path.parent / "demo-data"
    yield ws, json.loads((folder / "truth.json").read_text()), folder
    ws.close()


@pytest.fixture
def duckdb_ws(tmp_path):
    from mercator import Workspace

    ws = Workspace(str(tmp_path / "ws.duckdb"))
    yield ws
    ws.close()


@pytest.fixture(params=["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
def ws(request, tmp_path):
    """A fresh workspace on each engine: one test body, run on DuckDB and on local Spark."""
    from mercator import Workspace

    if request.param == "duckdb":
        w = Workspace(str(tmp_path / "ws.duckdb"))
    else:
        session = request.getfixturevalue("spark_session")
        w = Workspace(spark=session, database=f"t_{uuid.uuid4().hex[:8]}", config_path=tmp_path / "ws.toml")
    yield w
    w.close()
