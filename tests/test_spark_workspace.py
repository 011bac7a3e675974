"""A Spark workspace keeps its tables between commands (issue 17, item 9): two separate
processes, as a user runs two commands, on `spark:local[1]` with its catalog in
$MERCATOR_SPARK_HOME."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.spark, pytest.mark.slow]


def _mercator(*args: str, cwd, env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mercator.interfaces.cli", *args], check=False, cwd=cwd, env=env,
                          capture_output=True,
                          text=True, timeout=600)


def test_tables_survive_the_process_that_loaded_them(tmp_path):
    if shutil.which("java") is None:
        pytest.skip("Spark tests need Java 17 on PATH (make test installs it with apt-get)")
    pytest.importorskip("pyspark", reason="Spark tests need pyspark (pip install 'mercator[spark]')")
    p = tmp_path / "ads.csv"
    p.write_text("date,platform,channel,campaign,impressions,clicks,cost\n"
                 + "".join(f"2024-01-{d:02d},google_ads,search,{c},1000,{10 + d},{5 + c}\n"
                           for d in range(1, 29) for c in range(3)))
    # the JIT's quick tier only: two short commands spend more CPU optimizing code than running it
    # (a `tables` took 53 s with the default tiers, 38 s with this)
    env = {**os.environ, "MERCATOR_SPARK_HOME": str(tmp_path / "spark-ws"),
           "JAVA_TOOL_OPTIONS": "-XX:TieredStopAtLevel=1"}
    first = _mercator("ingest", str(p), "--table", "ad_performance", "-w", "spark:local[1]", "--json",
                      cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr[-2000:]
    assert json.loads(first.stdout)["tables"]["loads"][0]["rows_inserted"] == 84
    second = _mercator("tables", "-w", "spark:local[1]", "--json", cwd=tmp_path, env=env)
    assert second.returncode == 0, second.stderr[-2000:]
    rows = {r["table"]: r["rows"] for r in json.loads(second.stdout)["tables"]["tables"]}
    assert rows["ad_performance"] == 84 and rows["loads"] == 1
    assert (tmp_path / "spark-ws" / "metastore_db").is_dir() and (tmp_path / "spark-ws" / "settings.toml").exists()
