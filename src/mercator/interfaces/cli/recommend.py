"""Recommend: recommend fit, evaluate, for, batch, bundles, offers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mercator.interfaces._params import csv_list
from mercator.interfaces.cli._common import (
    JsonOpt,
    WorkspaceOpt,
    _analysis,
    _progress_bars,
    app,
    models_location,
    write_export,
)

recommend_app = typer.Typer(help="The next best product: repeat and cross-sell lists, bundles.", no_args_is_help=True)
app.add_typer(recommend_app, name="recommend")

ProductsOpt = Annotated[str | None, typer.Option(help="Regular expression product ids must match to count (e.g. "
                                                      "'^\\d' for Online Retail's products).")]
ProtocolOpt = Annotated[str, typer.Option(help="repeat (anything) or cross-sell (only items not bought yet).")]
KOpt = Annotated[int, typer.Option(help="List length.", min=1)]
PerCategoryOpt = Annotated[int | None, typer.Option(help="At most this many items per category.", min=1)]
ModelOpt = Annotated[str | None, typer.Option("--model", help="A model file or id saved by `mercator recommend fit` "
                                                              "(default: the newest of the workspace).")]


@recommend_app.command("fit")
def recommend_fit(products: ProductsOpt = None,
                  horizon: Annotated[int, typer.Option(help="Days of purchases the ranker learns to predict.")] = 30,
                  cuts: Annotated[int, typer.Option(help="History cuts the ranker trains on.", min=1)] = 2,
                  protocols: Annotated[str, typer.Option(help="Protocols to fit.")] = "repeat,cross-sell",
                  segment_set: Annotated[str | None, typer.Option(help="Saved segment set for cold customers' "
                                                                       "fallback.")] = None,
                  seed: int = 0, workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Fit the candidate generators and the LambdaRank rankers; the model is saved beside the workspace."""
    from mercator.recommend import fit_recommender

    def run(ws):
        with _progress_bars(as_json) as progress:
            return fit_recommender(ws, products=products, horizon_days=horizon, cuts=cuts,
                                   protocols=csv_list(protocols), segment_set=segment_set, seed=seed, save=True,
                                   progress=progress)

    _analysis(workspace, run, as_json)


@recommend_app.command("evaluate")
def recommend_evaluate(split: Annotated[str, typer.Option(help="Train before this date, test from it (YYYY-MM-DD).")],
                       until: Annotated[str | None, typer.Option(help="End of the test window (default: the last "
                                                                      "purchase).")] = None,
                       k: KOpt = 10,
                       products: ProductsOpt = None,
                       protocols: Annotated[str, typer.Option(help="Protocols to evaluate.")] = "repeat,cross-sell",
                       cuts: Annotated[int, typer.Option(help="History cuts the ranker trains on.", min=1)] = 2,
                       resamples: Annotated[int, typer.Option(help="Bootstrap resamples.", min=100)] = 1000,
                       seed: int = 0, workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """NDCG, precision, recall, MAP, hit rate, coverage and novelty at k of the ranker and of every
    single generator on a time split, with paired bootstrap intervals."""
    from mercator.recommend import evaluate_recommenders

    def run(ws):
        with _progress_bars(as_json) as progress:
            return evaluate_recommenders(ws, split=split, until=until, k=k, products=products,
                                         protocols=csv_list(protocols), cuts=cuts, resamples=resamples, seed=seed,
                                         progress=progress)

    _analysis(workspace, run, as_json)


@recommend_app.command("for")
def recommend_for_customer(customer_id: Annotated[str, typer.Argument(help="The customer's id.")],
                           protocol: ProtocolOpt = "repeat",
                           k: KOpt = 10, per_category: PerCategoryOpt = None,
                           margin_aware: Annotated[bool, typer.Option(help="Order by expected margin (probability "
                                                                           "x margin).")] = False,
                           model: ModelOpt = None, workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """One customer's next best items, each with its probability and reason (consent checked)."""
    from mercator.recommend import find_recommender, recommend_for

    def run(ws):
        fitted = find_recommender(models_location(workspace), model)
        return recommend_for(fitted, customer_id, protocol=protocol, k=k, per_category=per_category,
                             margin_aware=margin_aware, ws=ws)

    _analysis(workspace, run, as_json)


@recommend_app.command("batch")
def recommend_batch_command(output: Annotated[Path, typer.Option(help="Write every customer's list to this CSV.")],
                            protocol: ProtocolOpt = "repeat",
                            k: KOpt = 10, per_category: PerCategoryOpt = None,
                            suppress: Annotated[str | None, typer.Option(help="Saved segments to leave out.")] = None,
                            model: ModelOpt = None, workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Top-k lists for every customer who consented to personalization, written to --output."""
    from mercator.recommend import find_recommender, recommend_batch

    def run(ws):
        res = recommend_batch(ws, find_recommender(models_location(workspace), model), protocol=protocol, k=k,
                              per_category=per_category, suppress_segments=tuple(csv_list(suppress)))
        write_export(res.lists, output, "recommendations")
        return res

    _analysis(workspace, run, as_json)


@recommend_app.command("bundles")
def recommend_bundles(products: ProductsOpt = None,
                      min_orders: Annotated[int, typer.Option(help="Pairs bought together in at least this many "
                                                                   "orders.", min=1)] = 20,
                      min_confidence: Annotated[float, typer.Option(help="Smallest confidence of a rule.")] = 0.1,
                      top: Annotated[int, typer.Option(help="Rules shown, by lift.", min=1)] = 50,
                      basket: Annotated[str | None, typer.Option(help="Product ids in a basket: what to add.")] = None,
                      workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Items bought together: support, confidence and lift, and suggestions for a basket."""
    from mercator.recommend import bundles

    _analysis(workspace, lambda ws: bundles(ws, products=products, min_orders=min_orders,
                                            min_confidence=min_confidence, top=top, basket=csv_list(basket)), as_json)



@recommend_app.command("offers")
def recommend_offers(customer: Annotated[str | None, typer.Option(help="One customer's offer (default: every "
                                                                      "customer the model knows).")] = None,
                     offers: Annotated[str | None, typer.Option(help="A CSV or Parquet file of offers (default: the "
                                                                    "workspace's offers table).")] = None,
                     as_of: Annotated[str | None, typer.Option(help="The day offers must be valid on (default: the "
                                                                    "model's date).")] = None,
                     output: Annotated[Path | None, typer.Option(help="Write every customer's choice to this "
                                                                     "CSV.")] = None,
                     suppress: Annotated[str | None, typer.Option(help="Saved segments to leave out.")] = None,
                     learner: Annotated[str, typer.Option(help="Uplift learner for offers with an experiment: "
                                                              "x_learner or t_learner.")] = "x_learner",
                     incrementality: Annotated[float, typer.Option(
                         help="Share of an untested offer's purchases (propensity or recommender) taken as caused "
                              "by it: 1 counts them all (an upper bound).", min=0, max=1)] = 1.0,
                     seed: int = 0, model: ModelOpt = None, workspace: WorkspaceOpt = None,
                     as_json: JsonOpt = False) -> None:
    """The next best offer per customer: the eligible offer with the highest expected incremental
    value (from its experiment's uplift, a propensity model, or the recommender), with the reasons.
    Offers no experiment or model tested are valued by the fitted recommender (`recommend fit`)."""
    from mercator.recommend import find_recommender, next_best_offers

    def run(ws):
        fitted = find_recommender(models_location(workspace), model, required=False)
        res = next_best_offers(ws, fitted, offers=offers,
                               customer_id=customer, as_of=as_of, suppress_segments=tuple(csv_list(suppress)),
                               incrementality=incrementality, learner=learner, seed=seed)
        if output is not None:
            write_export(res.all_choices, output, "offers")
        return res

    _analysis(workspace, run, as_json)
