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


#: Files that take minutes, queued first: ``make test`` runs files on two workers in collection
#: order (``--no-loadscope-reorder``: xdist's default order, by number of tests, ignores how long
#: they take), and one of these queued last leaves the other worker idle for minutes (a run
#: measured 42.5 min of CPU in 29.5 min of wall time).
SLOW_FIRST = ("mmm/test_mmm.py", "forecast/test_forecast.py", "interfaces/test_api.py", "real/test_recommend_real.py",
              "real/test_mmm_real.py", "ingest/test_accounting.py", "contracts/test_results.py",
              "experiment/test_impact.py", "interfaces/test_dashboard.py", "docs/test_readme_tour.py",
              "explore/test_scan.py", "real/test_forecast_real.py", "forecast/test_drivers.py", "explore/test_explore.py",
              "decide/test_budget.py", "experiment/test_stats.py", "govern/test_consent_paths.py",
              "monitor/test_alerts.py", "decide/test_ope.py", "recommend/test_demo_recommend.py",
              "real/test_text_real.py", "text/test_keywords_topics.py")


def _is_spark(nodeid: str) -> bool:
    """A Spark test by its id: ``[spark]`` and ``[spark-...]`` variants, and Spark in the file or test name."""
    return "spark" in nodeid


def pytest_collection_modifyitems(config, items):
    """The Spark tests first, then the slow files (a stable sort: each file keeps its order)."""
    def rank(item) -> int:
        if _is_spark(item.nodeid):
            return -1
        path = item.nodeid.split("::")[0].removeprefix("tests/")
        return SLOW_FIRST.index(path) if path in SLOW_FIRST else len(SLOW_FIRST)

    items.sort(key=rank)


def pytest_xdist_make_scheduler(config, log):
    """xdist's file-by-file scheduling, except that every Spark test is one unit, run by one
    worker: one JVM warms up once, instead of two JVMs of two threads each competing for two
    cores. (xdist's own ``--dist loadgroup`` does not group under pytest 9: it renames node ids
    through an attribute pytest no longer reads.)"""
    from xdist.scheduler import LoadScopeScheduling

    class SparkTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return "spark" if _is_spark(nodeid) else nodeid.split("::", 1)[0]

    return SparkTogether(config, log)


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


@pytest.fixture(scope="session")
def small_demo_template(tmp_path_factory) -> Path:
    """The small demo company, built once per test worker and never opened again: tests take a
    copy of their own (``small_demo``), which is a file copy instead of a build."""
    from mercator.demo import build_demo_workspace

    path = tmp_path_factory.mktemp("small-demo-template") / "demo.duckdb"
    build_demo_workspace(path, size="small")[0].close()
    return path.parent


def small_demo(template: Path, folder: Path) -> Path:
    """A copy of the small demo company (the workspace, its settings and generated files) in
    ``folder``; returns the workspace's path."""
    shutil.copytree(template, folder, dirs_exist_ok=True)
    return folder / "demo.duckdb"


@pytest.fixture
def duckdb_ws(tmp_path):
    from mercator import Workspace

    ws = Workspace(str(tmp_path / "ws.duckdb"))
    yield ws
    ws.close()


ENGINES = ["duckdb", pytest.param("spark", marks=pytest.mark.spark)]


def _workspace(request, folder: Path):
    from mercator import Workspace

    if request.param == "duckdb":
        return Workspace(str(folder / "ws.duckdb"))
    session = request.getfixturevalue("spark_session")
    return Workspace(spark=session, database=f"t_{uuid.uuid4().hex[:8]}", config_path=folder / "ws.toml")


@pytest.fixture(params=ENGINES)
def ws(request, tmp_path):
    """A fresh workspace on each engine: one test body, run on DuckDB and on local Spark."""
    w = _workspace(request, tmp_path)
    yield w
    w.close()


@pytest.fixture(scope="module", params=ENGINES)
def module_ws(request, tmp_path_factory):
    """One workspace per engine for a module's tests, for a fixture that loads rows its tests
    then only read (on Spark each workspace and each load costs seconds of planning: a module of
    three tests on one load instead of three)."""
    w = _workspace(request, tmp_path_factory.mktemp("module-ws"))
    yield w
    w.close()
