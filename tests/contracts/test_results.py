"""The result contract (issue 19, item 4), checked on every public Result subclass the way
scikit-learn's ``check_estimator`` checks estimators.

Instances come from one pipeline run on a small demo workspace (every analysis its data
supports) plus the results of the commands outside the pipeline; each one must:
``to_dict()`` is JSON and round-trips; findings carry text and, where they have them, a metric,
a finite value and an ordered interval; ``figures()`` are Plotly figures; the columns a class
declares for display and its headline tables exist; recommendations carry an action, an
expected impact inside its interval, and evidence. Statically: every public analysis returns
a public Result subclass (never the bare base or a private class), and no interface merges or
mutates results.
"""

from __future__ import annotations

import ast
import dataclasses
import datetime as dt
import importlib
import inspect
import json
import math
import pkgutil
import re
import typing
from pathlib import Path

import plotly.graph_objects as go
import pytest

import mercator
from mercator.results import Result

SRC = Path(mercator.__file__).parent
CAPABILITIES = ("attribution", "clv", "demo", "diagnose", "experiment", "explore", "forecast", "govern", "ingest",
                "metrics", "mmm", "monitor", "pipeline", "quality", "recommend", "schema", "segment", "target",
                "text")


def _all_result_classes() -> set[type]:
    for info in pkgutil.walk_packages([str(SRC)], "mercator."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)
    seen, todo = set(), [Result]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in seen:
                seen.add(sub)
                todo.append(sub)
    return {c for c in seen if c.__module__.startswith("mercator.")}


def test_every_result_class_is_public_and_exported():
    for cls in _all_result_classes():
        assert not cls.__name__.startswith("_"), f"{cls.__module__}.{cls.__name__} is private"
        package = cls.__module__.rsplit(".", 1)[0] if cls.__module__.split(".")[-1].startswith("_") \
            else cls.__module__
        exported = getattr(importlib.import_module(package), "__all__", dir(importlib.import_module(package)))
        assert cls.__name__ in exported, f"{cls.__name__} is not exported by {package}"
        assert cls.kind != Result.kind, f"{cls.__name__} keeps the base kind"


def _public_analyses():
    for pkg in CAPABILITIES:
        mod = importlib.import_module(f"mercator.{pkg}")
        for name in getattr(mod, "__all__", ()):
            obj = getattr(mod, name)
            if inspect.isfunction(obj):
                yield f"mercator.{pkg}.{name}", obj


def test_every_public_analysis_returns_a_public_result_subclass():
    """Any public function annotated to return a Result returns a named subclass of it."""
    checked = 0
    for name, fn in _public_analyses():
        try:
            hint = typing.get_type_hints(fn).get("return")
        except NameError:  # annotations naming TYPE_CHECKING-only types: read the text instead
            hint = fn.__annotations__.get("return")
        text = hint if isinstance(hint, str) else getattr(hint, "__name__", str(hint))
        if inspect.isclass(hint) and issubclass(hint, Result) or text in ("Result", "_Result"):
            assert hint is not Result and text != "Result", f"{name} returns the bare Result"
            assert not text.startswith("_"), f"{name} returns a private class {text}"
            checked += 1
    assert checked >= 25, f"only {checked} analyses found: the discovery is broken"


def test_interfaces_do_not_merge_or_mutate_results():
    for path in (SRC / "interfaces").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr == "replace" and \
                    getattr(node.value, "id", "") == "dataclasses":
                pytest.fail(f"{path.relative_to(SRC)}:{node.lineno} rebuilds a result with dataclasses.replace")
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Result":
                pytest.fail(f"{path.relative_to(SRC)}:{node.lineno} builds a bare Result")
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "__setattr__":
                pytest.fail(f"{path.relative_to(SRC)}:{node.lineno} mutates a frozen result")


def _short_budget(ws, _done):
    """The pipeline's budget step with the demo's planted curve named and a short run (2 chains
    x 150 draws, the holdout check kept): the same kinds of result as `make demo`'s step, whose
    73 s go to choosing the curve among four and to 4 x 500 draws (both tested in tests/mmm)."""
    from mercator.mmm import fit_mmm, optimize_budget

    fit = fit_mmm(ws=ws, adstock="geometric", saturation="hill", chains=2, warmup=150, samples=150, save=False)
    return optimize_budget(fit.model), fit


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """The small demo company, built and run through the whole pipeline once for this module
    (the budget step shortened: :func:`_short_budget`): the results every contract is checked
    on, and the report (`make demo`'s path) rendered from the same run. ``(workspace path, load
    result, pipeline result, truth)``; the workspace is closed."""
    from mercator.demo import build_demo_workspace
    from mercator.pipeline import STEPS, run_pipeline

    path = tmp_path_factory.mktemp("contract") / "demo.duckdb"
    ws, loaded = build_demo_workspace(path, size="small")
    try:
        run = run_pipeline(ws, [dataclasses.replace(s, run=_short_budget) if s.id == "budget" else s for s in STEPS])
    finally:
        ws.close()
    return path, loaded, run, json.loads((path.parent / "demo-data" / "truth.json").read_text())


@pytest.fixture(scope="module")
def results(demo_run) -> list[Result]:
    """One of every kind the demo supports: the pipeline's results and the other commands'."""
    from mercator import Workspace
    from mercator.decide import list_creatives, run_triggers
    from mercator.experiment import design
    from mercator.govern import audit_trail
    from mercator.ingest import list_mappers
    from mercator.metrics import date_range
    from mercator.mmm import plan, scenario
    from mercator.monitor import (
        early_warnings,
        list_alerts,
        list_changes,
        list_objectives,
        list_rules,
        parse_rules,
        run_monitor,
        search_playbook,
        system_health,
    )
    from mercator.quality import quarantine_report
    from mercator.schema import describe_table
    from mercator.text import keywords, sentiment, topics
    from mercator.workspace import doctor

    path, loaded, run, _truth = demo_run
    with Workspace(str(path), read_only=True) as ws:
        found = [loaded, run, ws.inventory(), ws.query("SELECT 1 AS one"), quarantine_report(ws), list_mappers(),
                 describe_table("orders"), design(baseline=0.05, mde_relative=0.1), list_creatives(ws),
                 run_triggers(ws, {"triggers": [{"name": "welcome", "when": {"first_purchase": "30d"},
                                                 "purpose": "marketing_email", "action": {"audience": "x.csv"}}]},
                              dry_run=True),
                 list_objectives(ws), list_rules(ws), list_alerts(ws), audit_trail(ws), list_changes(ws),
                 early_warnings(ws), search_playbook(ws), system_health(ws, jobs=[]),
                 run_monitor(ws, parse_rules({"rules": [{"name": "cost_up", "kind": "change", "metric": "cost",
                                                         "by": ["channel"], "window": "7d", "above": 0.2}]}),
                             now=dt.datetime.combine(date_range(ws)[1], dt.time()), save=False, notify=False)]
        found += [sentiment(ws, time_column="ts", group="channel"), keywords(ws, group="channel", method="yake"),
                  topics(ws, time_column="ts", method="nmf", k=4)]
    found += [r for s in run.sections for r in s.results]
    budget = next(s for s in run.sections if s.id == "budget").results
    fit = next(r for r in budget if r.kind == "mmm")
    channel = fit.params["channels"][0]
    found += [scenario(fit.model, {channel: 0.1}), plan(fit.model, {channel: 1000.0}, 4)]
    found.append(doctor(str(path)))
    return found


def test_demo_workspace_and_report(demo_run):
    """`make demo`'s path on the small company: every generated row loaded, e-mails hashed, and
    the report rendered from the pipeline run: self-contained, decisions first, data quality
    last, every section the demo supports present."""
    from mercator import Workspace
    from mercator.interfaces.report import render_pipeline

    path, loaded, run, truth = demo_run
    assert loaded.to_frame("loads")["rows_quarantined"].sum() == 0
    with Workspace(str(path), read_only=True) as ws:
        for table, n in truth["rows"].items():
            assert ws.count(table) == n, table
        assert "@example.com" not in ws.table("customers").email.to_pandas().str.cat()
    html = render_pipeline(run)
    assert "<script src" not in html and "Plotly.newPlot" in html
    assert "Data quality" in html and "KPI overview" in html
    assert "What should we do: budget" in html and "Reallocate the" in html
    assert "Did it work: experiments" in html and "Verdict for treatment" in html
    assert "What could happen" in html and "What we decided and what it earned" in html
    # issue 18 item 7: decisions first, data quality last
    sections = re.findall(r'<section id="([^"]+)"', html)
    assert sections[0] == "what-to-do-now" and sections[-1] == "data-quality"
    first = html[html.index('id="what-to-do-now"'):html.index('id="kpis"')]
    assert 'href="#budget"' in first and 'href="#experiments"' in first


def test_the_demo_yields_many_kinds(results):
    kinds = {r.kind for r in results}
    assert len(kinds) >= 25, sorted(kinds)


def _finite(x) -> bool:
    return isinstance(x, int | float) and math.isfinite(x)


def test_to_dict_is_json_and_round_trips(results):
    for r in results:
        doc = r.to_dict()
        text = json.dumps(doc, allow_nan=False)  # NaN and inf are not JSON
        assert json.loads(text) == doc, r.kind
        assert doc["kind"] == r.kind and doc["title"] == r.title
        assert set(doc["tables"]) == set(r.tables), r.kind


def test_a_document_becomes_the_result_again(results):
    """``from_dict`` (how the command line shows what a server sent back) rebuilds the same
    document, for every kind whose fields are the base ones."""

    base = {f.name for f in dataclasses.fields(Result)}
    plain = [r for r in results if {f.name for f in dataclasses.fields(r)} == base]
    assert len(plain) >= 10
    for r in plain:
        doc = json.loads(json.dumps(r.to_dict()))
        assert type(r).from_dict(doc).to_dict() == doc, r.kind


def test_findings_carry_text_metric_value_and_interval(results):
    for r in results:
        for f in r.findings:
            assert isinstance(f.text, str) and f.text.strip(), r.kind
            assert f.value is None or _finite(f.value), (r.kind, f.text)
            if f.interval is not None:
                lo, hi = f.interval
                assert _finite(lo) and _finite(hi) and lo <= hi, (r.kind, f.text, f.interval)
            assert f.confidence is None or 0 <= f.confidence <= 1, (r.kind, f.text)


def test_recommendations_carry_action_impact_interval_and_evidence(results):
    recs = [(r.kind, x) for r in results for x in r.recommendations]
    assert recs, "the demo should yield recommendations (budget, experiments)"
    for kind, x in recs:
        assert x.action.strip() and x.evidence.strip(), (kind, x)
        if x.expected_impact is not None and x.interval is not None:
            lo, hi = x.interval
            assert lo <= x.expected_impact <= hi, (kind, x)


def test_figures_are_plotly_figures(results):
    drawn = 0
    for r in results:
        figs = r.figures()
        assert isinstance(figs, list), r.kind
        for f in figs:
            assert isinstance(f, go.Figure), r.kind
            drawn += 1
    assert drawn >= 10


def test_declared_display_columns_and_headline_tables_exist(results):
    for r in results:
        for name, cols in type(r).display.items():
            if name in r.tables:
                have = set(map(str, r.tables[name].columns))
                assert set(cols) <= have, (r.kind, name, sorted(set(cols) - have))
        if type(r).headline is not None and r.kind != "unavailable":
            assert set(type(r).headline) & set(r.tables) or not type(r).headline, (r.kind, type(r).headline)
