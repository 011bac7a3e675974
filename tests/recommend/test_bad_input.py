"""Bad input gets a clear error or a fallback with its reason, never a crash."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from mercator.errors import BadParameter, MercatorError
from mercator.recommend import Recommender, evaluate_recommenders, fit_recommender
from tests.conftest import ingest_text

ORDERS = "order_id,customer_id,ts,revenue,is_return\no1,c1,2024-01-02 10:00:00,10,false\n" \
         "o2,c1,2024-02-02 10:00:00,10,false\no3,c2,2024-02-03 10:00:00,5,true\n"


def test_no_orders_and_orders_without_items_are_clear_errors(duckdb_ws, tmp_path):
    with pytest.raises(MercatorError, match="no orders"):
        fit_recommender(duckdb_ws)
    ingest_text(duckdb_ws, tmp_path, ORDERS, "orders")
    with pytest.raises(MercatorError, match="no order_items"):
        fit_recommender(duckdb_ws)


def test_an_empty_catalogue_and_an_empty_test_window_are_clear_errors(duckdb_ws, tmp_path):
    ingest_text(duckdb_ws, tmp_path, ORDERS, "orders")
    ingest_text(duckdb_ws, tmp_path, "order_id,line,product_id,quantity,unit_price\no1,1,POST,1,2\n"
                "o2,1,p1,1,2\no3,1,p2,-1,2\n", "order_items")
    with pytest.raises(MercatorError, match="no purchase lines"):
        fit_recommender(duckdb_ws, products=r"^\d")  # no product id matches
    with pytest.raises(BadParameter, match="test window is empty"):
        evaluate_recommenders(duckdb_ws, split="2030-01-01", until="2029-01-01")
    with pytest.raises(BadParameter, match="unknown protocol"):
        fit_recommender(duckdb_ws, protocols=["upsell"])


def test_too_little_history_to_learn_from_says_so(duckdb_ws, tmp_path):
    ingest_text(duckdb_ws, tmp_path, ORDERS, "orders")
    ingest_text(duckdb_ws, tmp_path, "order_id,line,product_id,quantity,unit_price\no1,1,p1,1,2\n"
                "o2,1,p1,1,2\no3,1,p2,1,2\n", "order_items")
    with pytest.raises(MercatorError, match="no purchases to learn"):
        fit_recommender(duckdb_ws, horizon_days=7, cuts=1)


def test_a_customer_with_only_returns_gets_the_fallback_and_never_what_they_returned():
    lists = pd.DataFrame({"customer_id": ["c1"], "product_id": ["p1"], "score": [1.0], "p": [0.5],
                          "reason": ["bought before"], "rank": [1]})
    model = Recommender(asof=dt.datetime(2024, 3, 1), config={}, lists={"repeat": lists},
                        popular=pd.DataFrame({"product_id": ["p2", "p3", "p1"], "score": [9, 8, 7]}),
                        products=pd.DataFrame({"product_id": ["p1", "p2", "p3"], "name": ["a", "b", "c"],
                                               "category": [None, None, None], "price": [1.0, 2.0, 3.0],
                                               "margin": [0.1, 0.2, 0.3]}),
                        returned={"r1": {"p2"}})
    items, why = model.recommend("r1", k=2)
    assert why == "no purchases kept (only returns)"
    assert list(items.product_id) == ["p3", "p1"]
    with pytest.raises(BadParameter, match="unknown protocol"):
        model.recommend("c1", protocol="cross-sell")


def test_cuts_before_the_first_purchase_are_skipped_not_a_crash(duckdb_ws, tmp_path):
    """Three 30-day cuts on six weeks of orders: the cuts without history are skipped, and with
    too few buyers left the error says so (never an exception from the libraries)."""
    ingest_text(duckdb_ws, tmp_path, ORDERS, "orders")
    ingest_text(duckdb_ws, tmp_path, "order_id,line,product_id,quantity,unit_price\no1,1,p1,1,2\n"
                "o2,1,p1,1,2\no3,1,p2,1,2\n", "order_items")
    with pytest.raises(MercatorError, match="no purchases to learn"):
        fit_recommender(duckdb_ws, horizon_days=30, cuts=3)
