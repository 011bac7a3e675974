"""The impact assessment's draft (issue 23, item 8): generated from the schema's tags, the
consent, the retention policies and the flows; the counts are those of a hand-built workspace,
and the risks that apply follow from its data (two countries: cross-border flows apply)."""

from __future__ import annotations

import json

import pandas as pd
from typer.testing import CliRunner

from mercator.govern import dpia, dpia_markdown
from mercator.interfaces.cli import app
from tests.conftest import ingest_text


def test_the_draft_follows_the_workspace(duckdb_ws, tmp_path):
    ws = duckdb_ws
    ingest_text(ws, tmp_path, "customer_id,email,country,consent_personalization\n"
                "c1,a@x.com,GB,true\nc2,b@x.com,DE,false\nc3,c@x.com,GB,true\n", "customers")
    ws.replace("content", pd.DataFrame({"doc_id": ["d1"], "customer_id": ["c1"], "text": ["fine"]}), on=["doc_id"])
    res = dpia(ws)
    m = res.to_frame("data_map").set_index("table")
    assert "email (email, pseudonymized)" in m.loc["customers", "personal_data"] and m.loc["customers", "rows"] == 3
    assert m.loc["content", "rows"] == 1 and "text (free text)" in m.loc["content", "personal_data"]
    p = res.to_frame("purposes").set_index("purpose")
    assert p.loc["personalization", "consented"] == 2 and p.loc["profiling", "consented"] == 0
    r = res.to_frame("risks").set_index("risk")
    assert r.loc["cross-border flows", "applies"] and "DE, GB" in r.loc["cross-border flows", "why"]
    assert r.loc["sensitive inferences", "applies"] and not r.loc["profiling", "applies"]
    doc = dpia_markdown(res)
    assert doc.count("**TO COMPLETE**") >= 7 and "## 5. Flows" in doc and "sale_sharing" in doc


def test_cli_writes_the_document(duckdb_ws, tmp_path):
    path = duckdb_ws.location.removeprefix("duckdb://")
    duckdb_ws.close()
    out = tmp_path / "dpia.md"
    res = CliRunner().invoke(app, ["govern", "dpia", "--output", str(out), "--json", "--workspace", path])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["kind"] == "dpia" and out.read_text().startswith("# Data protection impact")
