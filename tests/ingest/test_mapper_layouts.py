"""Bad input never answers with a traceback (issue 17, item 7): every built-in mapper given a
file of the wrong layout fails with a message naming the file and the columns it expected."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from mercator.errors import SourceError
from mercator.ingest import MAPPERS, ingest
from mercator.interfaces.cli import app

runner = CliRunner()


@pytest.mark.parametrize("name", sorted(MAPPERS))
def test_every_mapper_refuses_a_wrong_layout_cleanly(name, duckdb_ws, tmp_path):
    mapper = MAPPERS[name]
    near = sorted(mapper.signature)[1:]  # all but one of its columns: the likeliest mistake
    cases = {"unrelated.csv": "a,b,c\n1,2,3\n",
             "near.csv": ",".join(near) + "\n" + ",".join("1" for _ in near) + "\n"}
    for fname, text in cases.items():
        p = tmp_path / fname
        p.write_text(text)
        with pytest.raises(SourceError) as e:
            ingest(duckdb_ws, p, mapper=name)
        msg = str(e.value)
        assert fname in msg and f"the {name} mapper" in msg and "Expected: columns" in msg
        res = runner.invoke(app, ["ingest", str(p), "--mapper", name, "-w", str(tmp_path / "cli.duckdb")])
        assert res.exit_code == 2 and "Traceback" not in res.output and fname in res.output.replace("\n", "")
    assert duckdb_ws.count("loads") == 0


def test_unexpected_errors_print_no_traceback_unless_verbose(tmp_path, monkeypatch):
    """The last line of defence: an exception nobody anticipated is one line on stderr."""
    import mercator.workspace

    def boom(self):
        raise ZeroDivisionError("something nobody anticipated")

    monkeypatch.setattr(mercator.workspace.Workspace, "inventory", boom)
    runner.invoke(app, ["init", "-w", str(tmp_path / "w.duckdb")])
    res = runner.invoke(app, ["tables", "-w", str(tmp_path / "w.duckdb")])
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert "ZeroDivisionError: something nobody anticipated" in res.output and "--verbose" in res.output
    res = runner.invoke(app, ["--verbose", "tables", "-w", str(tmp_path / "w.duckdb")])
    assert isinstance(res.exception, ZeroDivisionError)


def test_cdnow_reads_the_headerless_master_and_sample_layouts(duckdb_ws, tmp_path):
    master = tmp_path / "master.txt"
    master.write_text(" 00001 19970101  1   11.77\n 00002 19970112  1   12.00\n 00002 19970112  2   77.00\n")
    sample = tmp_path / "sample.txt"
    sample.write_text(" 00004 0001 19970101  2   29.33\n 00004 0001 19970118  2   29.73\n")
    for p, n in ((master, 3), (sample, 2)):
        res = ingest(duckdb_ws, p, mapper="cdnow").to_frame("loads").iloc[0]
        assert (res.rows_read, res.rows_inserted, res.rows_quarantined) == (n, n, 0)
    orders = duckdb_ws.table("orders").order_by("order_id").to_pandas()
    assert orders.order_id.tolist() == ["00001-19970101-1", "00002-19970112-1", "00002-19970112-2",
                                        "00004-19970101-1", "00004-19970118-1"]
    assert orders.customer_id.iloc[-1] == "00004"  # the master id, not the sample's own id
