"""Recommend: fit and evaluate (jobs), one customer's list served from the fitted model, bundles,
next best offers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import Field

from mercator.errors import BadParameter
from mercator.interfaces._params import csv_list
from mercator.interfaces.api.routes._common import Body, answer, consenting, read, server, submit

router = APIRouter(prefix="/v1", tags=["recommend"])


class RecommendFit(Body):
    products: str | None = Field(None, description="Regular expression product ids must match to count.")
    horizon: int = Field(30, ge=1, le=365)
    cuts: int = Field(2, ge=1, le=6)
    protocols: str = "repeat,cross-sell"
    segment_set: str | None = None
    seed: int = 0


def fit_job(ws, p: dict, progress):
    from mercator.recommend import fit_recommender

    return fit_recommender(ws, products=p["products"], horizon_days=p["horizon"], cuts=p["cuts"],
                           protocols=csv_list(p["protocols"]), segment_set=p["segment_set"], seed=p["seed"],
                           save=True, progress=progress)


@router.post("/recommend/fit", status_code=202)
def fit(request: Request, body: RecommendFit) -> Response:
    """Fit the generators and rankers (`mercator recommend fit`); a job. The model is saved beside
    the workspace and serves `GET /v1/recommendations/{customer_id}`."""
    return submit(request, "recommend-fit", fit_job, body)


class RecommendEvaluate(Body):
    split: str = Field(description="Train before this date, test from it (YYYY-MM-DD).")
    until: str | None = None
    k: int = Field(10, ge=1, le=1000)
    products: str | None = None
    protocols: str = "repeat,cross-sell"
    cuts: int = Field(2, ge=1, le=6)
    resamples: int = Field(1000, ge=100, le=100_000)
    seed: int = 0


def evaluate_job(ws, p: dict, progress):
    from mercator.recommend import evaluate_recommenders

    return evaluate_recommenders(ws, split=p["split"], until=p["until"], k=p["k"], products=p["products"],
                                 protocols=csv_list(p["protocols"]), cuts=p["cuts"], resamples=p["resamples"],
                                 seed=p["seed"], progress=progress)


@router.post("/recommend/evaluate", status_code=202)
def evaluate(request: Request, body: RecommendEvaluate) -> Response:
    """The ranker against every single generator on a time split (`mercator recommend evaluate`); a job."""
    from mercator.interfaces._params import iso_date

    for name in ("split", "until"):  # a bad date is a 400 now, not a failed job later
        iso_date(getattr(body, name), name)
    return submit(request, "recommend-evaluate", evaluate_job, body)


def _fitted(request: Request, model: str | None):
    """The fitted recommender, loaded once and kept until its file changes."""
    from mercator.recommend import find_recommender, recommender_path

    srv = server(request)
    location = srv.workspace if srv.is_duckdb else None
    path = recommender_path(location, model)
    return srv.keep(("recommender", str(path)), lambda: find_recommender(location, str(path)),
                    also=(path.stat().st_mtime_ns,))


def _out_of_stock(request: Request) -> frozenset[str]:
    """The products out of stock, kept until the workspace changes."""
    from mercator.recommend import out_of_stock

    srv = server(request)

    def compute() -> frozenset[str]:
        with srv.open() as ws:
            return out_of_stock(ws)

    return srv.keep(("out_of_stock",), compute)


@router.get("/recommendations/{customer_id}")
def for_customer(request: Request, customer_id: str, protocol: str = "repeat",
                 k: Annotated[int, Query(ge=1, le=1000)] = 10,
                 per_category: Annotated[int | None, Query(ge=1)] = None, margin_aware: bool = False,
                 model: str | None = None) -> Response:
    """One customer's next best items from the fitted model (`mercator recommend for`); a customer
    without consent to personalization gets the non-personalized default, with the reason."""
    from mercator.recommend import recommend_for

    fitted = _fitted(request, model)
    personalized = customer_id in consenting(server(request), "personalization")
    return answer(recommend_for(fitted, customer_id, protocol=protocol, k=k, per_category=per_category,
                                margin_aware=margin_aware, consented=personalized,
                                unavailable=_out_of_stock(request)))


@router.get("/recommend/bundles")
async def bundles(request: Request, products: str | None = None, min_orders: Annotated[int, Query(ge=1)] = 20,
                  min_confidence: Annotated[float, Query(ge=0, le=1)] = 0.1, top: Annotated[int, Query(ge=1)] = 50,
                  basket: str | None = None) -> Response:
    """Items bought together, with support, confidence and lift (`mercator recommend bundles`)."""
    from mercator.recommend import bundles as run

    params = {"products": products, "min_orders": min_orders, "min_confidence": min_confidence, "top": top,
              "basket": basket}
    return await read(request, lambda ws: run(ws, products=products, min_orders=min_orders,
                                               min_confidence=min_confidence, top=top, basket=csv_list(basket)),
                      params)



@router.get("/recommend/offers")
async def offers(request: Request, customer_id: str | None = None, as_of: str | None = None,
                 suppress: str | None = None, learner: str = "x_learner", seed: int = 0,
                 incrementality: Annotated[float, Query(ge=0, le=1)] = 1.0, model: str | None = None) -> Response:
    """The next best offer per customer, or for ``customer_id`` with every offer weighed
    (`mercator recommend offers`): from the workspace's offers table, valued by their
    experiments, propensity models or the fitted recommender."""
    from mercator.interfaces._params import iso_date
    from mercator.recommend import find_recommender, next_best_offers, recommender_path

    iso_date(as_of, "as_of")
    if learner not in ("x_learner", "t_learner"):
        raise BadParameter(f"learner must be x_learner or t_learner; got {learner!r}")
    srv = server(request)
    location = srv.workspace if srv.is_duckdb else None
    fitted = find_recommender(location, model, required=False)
    version = recommender_path(location, model).stat().st_mtime_ns if fitted is not None else None
    params = {"customer_id": customer_id, "as_of": as_of, "suppress": suppress, "learner": learner, "seed": seed,
              "incrementality": incrementality, "model": model, "model_version": version}
    return await read(request, lambda ws: next_best_offers(ws, fitted, customer_id=customer_id, as_of=as_of,
                                                           suppress_segments=tuple(csv_list(suppress)),
                                                           incrementality=incrementality, learner=learner,
                                                           seed=seed), params)
