"""The whole analysis cycle on one workspace: every analysis its data supports, in the order
of the questions (what happened, why, who, what could happen, did it work, what to do), each
with the parameters the report uses. A step the data cannot support returns an
:class:`~mercator.results.Unavailable` result saying why; a step whose analysis refuses the
data (a :class:`~mercator.errors.MercatorError`) does too, and the run goes on.

The report (``mercator run``) renders the :class:`Pipeline` result; it computes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from mercator.errors import MercatorError
from mercator.results import Result, Unavailable
from mercator.workspace import Workspace

#: The funnel the pipeline reads when the events have at least two of its steps.
FUNNEL_STEPS = ("page_view", "add_to_cart", "begin_checkout", "purchase")


@dataclass(frozen=True)
class Step:
    """One question: ``run(ws, done)`` answers it with one or more results (``done``: the
    results of the steps before, by id)."""

    id: str
    title: str
    run: Callable[[Workspace, dict[str, tuple[Result, ...]]], Result | tuple[Result, ...]]


def _quality(ws, _done):
    from mercator.quality import data_quality

    return data_quality(ws)


def _kpis(ws, _done):
    from mercator.explore import kpi_overview

    return kpi_overview(ws)


def _what_happened(ws, _done):
    from mercator.explore import explore

    return explore(ws)


def _why(ws, done):
    """The leading shift of "What happened" explained: its KPI, 4 weeks from the shift against the 4 weeks before."""
    from mercator.diagnose import diagnose
    from mercator.metrics import Period

    found = done["what-happened"][0].tables.get("anomalies") if "what-happened" in done else None
    shifts = found[found["type"] == "shift"] if found is not None and len(found) else None
    if shifts is None or not len(shifts):
        return Unavailable.because('"What happened" found no shift to explain')
    top = shifts.iloc[0]
    start = top.date.date()
    return diagnose(ws, top.kpi, Period(start, start + dt.timedelta(days=27)))


def _funnel(ws, _done):
    from mercator.diagnose import funnel

    names = set(ws.table("events").event_name.value_counts().to_pandas()["event_name"])
    steps = [s for s in FUNNEL_STEPS if s in names]
    if len(steps) < 2:
        return Unavailable.because(f"fewer than two of the funnel steps {', '.join(FUNNEL_STEPS)} are in events")
    return funnel(ws, steps, by="device")


def _cohorts(ws, _done):
    from mercator.diagnose import cohorts

    return cohorts(ws, table="orders", grain="month")


def _correlations(ws, _done):
    from mercator.diagnose import correlations

    return correlations(ws)


def _needs(ws, table: str, why: str):
    return None if ws.count(table) else Unavailable.because(why)


def _rfm(ws, _done):
    from mercator.segment import rfm

    return _needs(ws, "orders", "the workspace has no orders") or rfm(ws, save=False)


def _clusters(ws, _done):
    from mercator.segment import cluster

    return _needs(ws, "orders", "the workspace has no orders") or cluster(ws, save=False, rounds=10)


def _clv(ws, _done):
    from mercator.clv import fit_clv

    return _needs(ws, "orders", "the workspace has no orders") or fit_clv(ws, keep_customers=False)


def _first_experiment(ws) -> str | None:
    if not ws.count("experiments") or not ws.count("assignments"):
        return None
    return ws.table("experiments").experiment_id.to_pyarrow().to_pylist()[0]


def _propensity(ws, _done):
    """Who buys in the first experiment's window: a propensity model (gains, calibration, SHAP),
    evaluated but not saved: the report explains, it does not deploy."""
    from mercator.target import experiment_rows, train_model

    first = _first_experiment(ws)
    if first is None:
        return Unavailable.because("the workspace has no experiments with assignments")
    frame, not_features = experiment_rows(ws, first)
    return train_model(ws, frame, "converted", exclude=list(not_features), save=False)


def _uplift(ws, _done):
    """The first experiment in the workspace: whom did the treatment change?"""
    from mercator.target import uplift

    first = _first_experiment(ws)
    if first is None:
        return Unavailable.because("the workspace has no experiments with assignments")
    return uplift(ws, first, treatment_col="variant", treated="treatment", control="control", outcome="converted",
                  bootstrap=50)


def _forecast(ws, _done):
    """Conversions for the next 28 days per channel, each series by the model its backtest chose."""
    from mercator.forecast import forecast

    return _needs(ws, "ad_performance", "the workspace has no ad performance rows") or \
        forecast(ws, "conversions", by="channel", horizon=28)


def _drivers(ws, _done):
    """What moves CPC per channel and device: boosting against ridge, partial dependence."""
    from mercator.forecast import drivers

    return _needs(ws, "ad_performance", "the workspace has no ad performance rows") or \
        drivers(ws, "cpc", by=("channel", "device"))


def _experiments(ws, _done):
    from mercator.experiment import review

    if _first_experiment(ws) is None:
        return Unavailable.because("the workspace has no experiments with assignments")
    return review(ws)


def _attribution(ws, _done):
    from mercator.attribution import attribution

    return _needs(ws, "events", "the workspace has no events (journeys need them)") or attribution(ws)


def _budget(ws, _done):
    """The media-mix model (4 chains x 500 draws keep the run quick; `mercator mmm fit` uses
    1000) and the best split of the current budget by it."""
    from mercator.mmm import fit_mmm, optimize_budget

    if not (ws.count("media_spend") or ws.count("ad_performance")):
        return Unavailable.because("the workspace has no media spend or ad performance rows")
    fit = fit_mmm(ws=ws, warmup=500, samples=500, save=False)
    return optimize_budget(fit.model), fit


def _offer(ws, _done):
    """What to offer: the recommender measured on the last 60 days (a fifth of the history if
    that is shorter: the ranker trains on the window before it), each single generator
    beside it, the strongest bundles, and the next best offer where the workspace has offers."""
    import datetime as dt

    from mercator.recommend import bundles, evaluate_recommenders, next_best_offers

    missing = _needs(ws, "order_items", "the workspace has no order items (what was in each order)")
    if missing:
        return missing
    o = ws.table("orders")
    first, last = (o.ts.min().to_pyarrow().as_py(), o.ts.max().to_pyarrow().as_py())
    split = (last - min(dt.timedelta(days=60), (last - first) / 5)).date()
    # one history cut keeps the report quick (on Online Retail the default three add 0.005
    # repeat and 0.008 cross-sell NDCG@10: `mercator recommend evaluate --cuts 1`)
    found = (evaluate_recommenders(ws, split=split, cuts=1, resamples=200), bundles(ws, top=10))
    if ws.count("offers"):  # the offers an experiment or a model tested (the others need `recommend fit`)
        found += (next_best_offers(ws),)
    return found


def _decided(ws, _done):
    """What we decided and what it earned: the policy with the most logged decisions, by arm and
    by day, and the same policy seeing its whole context (LinUCB) judged on its log."""
    import yaml

    from mercator.decide import evaluate_policy, load_policy, summarize_decisions

    missing = _needs(ws, "decisions", "no decisions are logged (serve a policy: POST /v1/decide)")
    if missing:
        return missing
    summary = summarize_decisions(ws)
    policy, _status = load_policy(ws, summary.params["policy"])
    if policy.bandit in ("linucb", "lin_thompson") or not policy.context:
        return summary
    # LinUCB's width scaled to rewards of a few percent (alpha 1 suits rates near one half)
    candidate = yaml.safe_load(yaml.safe_dump(policy.to_dict())) | {"bandit": "linucb", "alpha": 0.1}
    return summary, evaluate_policy(ws, candidate, resamples=300)


def _pacing(ws, done):
    """Budgets and bids that learn: 90 simulated days on the budget step's media-mix curves."""
    from mercator.decide import simulate_budget

    fit = next((r for r in done.get("budget", ()) if r.kind == "mmm"), None)
    if fit is None:
        return Unavailable.because("no media-mix model was fitted (the budget step needs media spend)")
    return simulate_budget(fit.model, ws=ws, days=90)


#: The steps in order; later capabilities append theirs.
STEPS: list[Step] = [
    Step("kpis", "KPI overview", _kpis),
    Step("what-happened", "What happened", _what_happened),
    Step("why", "Why: the leading change decomposed", _why),
    Step("funnel", "Why: funnel", _funnel),
    Step("cohorts", "Why: cohort retention (orders)", _cohorts),
    Step("correlations", "Why: correlations", _correlations),
    Step("who-segments", "Who: RFM segments", _rfm),
    Step("who-clusters", "Who: behavioural segments", _clusters),
    Step("who-clv", "Who: customer lifetime value", _clv),
    Step("who-propensity", "Who: who buys in the first experiment's window (propensity)", _propensity),
    Step("who-uplift", "Who: whom the experiment's treatment changed (uplift)", _uplift),
    Step("forecast", "What could happen: conversions forecast (next 28 days)", _forecast),
    Step("drivers", "What could happen: what moves CPC (driver regression)", _drivers),
    Step("experiments", "Did it work: experiments (verdicts against the locked criteria)", _experiments),
    Step("offer", "What to offer: next best product, offer and bundles (recommendations)", _offer),
    Step("decided", "What we decided and what it earned (decision policies)", _decided),
    Step("attribution", "Which channels earn the conversions (attribution)", _attribution),
    Step("budget", "What should we do: budget (media-mix model)", _budget),
    Step("pacing", "What we decided and what it earned: budget pacing and bids that learn (simulated)", _pacing),
    Step("data-quality", "Data quality", _quality),
]


@dataclass(frozen=True)
class Section:
    """One step's answer."""

    id: str
    title: str
    results: tuple[Result, ...]


@dataclass(frozen=True)
class Pipeline(Result):
    """Every step's results, in order (``sections``); ``to_dict`` nests each result's document."""

    kind = "pipeline"
    title = "Mercator report"
    sections: tuple[Section, ...] = ()

    def to_dict(self) -> dict:
        return {**super().to_dict(), "sections": [
            {"id": s.id, "title": s.title, "results": [r.to_dict() for r in s.results]} for s in self.sections]}


def run_pipeline(ws: Workspace, steps: list[Step] | None = None, progress=None) -> Pipeline:
    """Run ``steps`` (default :data:`STEPS`) on ``ws``; ``progress(step, done, total)`` after each."""
    steps = STEPS if steps is None else steps
    done: dict[str, tuple[Result, ...]] = {}
    sections = []
    for i, step in enumerate(steps):
        try:
            out = step.run(ws, done)
        except MercatorError as exc:  # data this step cannot use: it says why, the run goes on
            out = Unavailable.because(str(exc).rstrip("."))
        results = out if isinstance(out, tuple) else (out,)
        done[step.id] = results
        sections.append(Section(step.id, step.title, results))
        if progress:
            progress("report", i + 1, len(steps))
    return Pipeline(sections=tuple(sections), params={"workspace": ws.location, "engine": ws.engine.name})
