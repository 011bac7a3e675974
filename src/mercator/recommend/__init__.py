"""Recommend: the next best product for each customer (repeat and cross-sell), the next best
offer, bundles bought together, with candidates from popularity, repurchase history, item-kNN and matrix
factorization, ranked by LightGBM LambdaRank (docs/recommend.md)."""

from mercator.recommend._analysis import (
    BatchResult,
    Recommendations,
    RecommenderResult,
    RecommendEvaluation,
    evaluate_recommenders,
    find_recommender,
    fit_recommender,
    out_of_stock,
    recommend_batch,
    recommend_for,
    recommender_path,
)
from mercator.recommend._bundles import BundlesResult, bundles
from mercator.recommend._model import Recommender
from mercator.recommend._offers import OfferChoices, next_best_offers, read_offers

__all__ = [
    "BatchResult",
    "BundlesResult",
    "OfferChoices",
    "RecommendEvaluation",
    "Recommendations",
    "Recommender",
    "RecommenderResult",
    "bundles",
    "evaluate_recommenders",
    "find_recommender",
    "fit_recommender",
    "next_best_offers",
    "out_of_stock",
    "read_offers",
    "recommend_batch",
    "recommend_for",
    "recommender_path",
]
