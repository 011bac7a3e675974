"""RFM against hand-computed scores on both engines, and the audit trail it saves."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from mercator.segment import rfm
from tests.conftest import ingest_text

# Five customers with distinct recency, frequency and monetary value. As of 2024-04-01:
#   c1: last 03-31 (1 day),  4 purchase days, 400 -> R 5 F 5 M 5 champions
#   c2: last 03-25 (7),      3 days,          300 -> R 4 F 4 M 4 champions
#   c3: last 03-01 (31),     2 days,          200 -> R 3 F 3 M 3 need_attention
#   c4: last 02-01 (60),     1 day,           100 -> R 2 F 1 M 2 hibernating (lowest F is shared by c4, c5)
#   c5: last 01-02 (90),     1 day,            50 -> R 1 F 1 M 1 lost
# (with 5 customers and 5 quantiles each score is one customer; c4 and c5 tie on F at rank 0)
ORDERS = """order_id,customer_id,ts,revenue
a1,c1,2024-03-01 10:00:00,100
a2,c1,2024-03-10 10:00:00,100
a3,c1,2024-03-20 10:00:00,100
a4,c1,2024-03-31 10:00:00,60
a5,c1,2024-03-31 12:00:00,40
b1,c2,2024-03-01 10:00:00,100
b2,c2,2024-03-15 10:00:00,100
b3,c2,2024-03-25 10:00:00,100
d1,c3,2024-02-01 10:00:00,100
d2,c3,2024-03-01 10:00:00,100
e1,c4,2024-02-01 10:00:00,100
f1,c5,2024-01-02 10:00:00,50
"""


@pytest.fixture()
def orders_ws(ws, tmp_path):
    return ingest_text(ws, tmp_path, ORDERS, "orders")


def test_rfm_scores_and_segments_equal_hand_count(orders_ws):
    res = rfm(orders_ws, as_of=dt.date(2024, 4, 1), min_size=2, save=True)
    members = orders_ws.table("segment_members").to_pandas().set_index("customer_id")["segment"]
    assert members.to_dict() == {"c1": "champions", "c2": "champions", "c3": "need_attention",
                                 "c4": "hibernating", "c5": "lost"}
    seg = res.to_frame("segments").set_index("segment")
    assert seg.loc["champions", "customers"] == 2 and seg.loc["champions", "share_of_revenue"] == pytest.approx(
        700 / 1050)
    assert bool(seg.loc["lost", "too_small"]) and not bool(seg.loc["champions", "too_small"])
    grid = res.to_frame("grid")
    assert grid.loc[5, 5] == 1 and grid.loc[2, 1] == 1 and grid.loc[1, 1] == 1


def test_rfm_saves_its_logic_and_a_rerun_replaces_it(duckdb_ws, tmp_path):
    """The run is saved with its definition and parameters; running it again does not duplicate
    (the save is the workspace's replace, tested on Spark elsewhere: DuckDB only)."""
    orders_ws = ingest_text(duckdb_ws, tmp_path, ORDERS, "orders")
    rfm(orders_ws, as_of=dt.date(2024, 4, 1), save=True)
    first = orders_ws.table("segments").to_pandas()
    rfm(orders_ws, as_of=dt.date(2024, 4, 1), save=True)
    again = orders_ws.table("segments").to_pandas()
    assert len(first) == len(again) == 4 and orders_ws.count("segment_members") == 5
    champions = again.set_index("segment").loc["champions"]
    assert json.loads(champions.definition)["scores_5_level"] == {"r": [4, 5], "f": [4, 5]}
    assert json.loads(champions.params)["as_of"] == "2024-04-01"
    rfm(orders_ws, as_of=dt.date(2024, 3, 26), save=True)  # another reference date is another run, kept beside
    assert orders_ws.table("segments").segment_set.nunique().to_pyarrow().as_py() == 2


def test_custom_cut_points(orders_ws):
    """Cut points 0.5 and 0.8: shares below of 0, 0.2, 0.4 -> 1; 0.6 -> 2; 0.8 -> 3."""
    res = rfm(orders_ws, quantiles=[0.5, 0.8], as_of=dt.date(2024, 4, 1), save=False)
    assert res.params["cut_points"] == [0.5, 0.8]
    grid = res.to_frame("grid")
    assert int(grid.to_numpy().sum()) == 5 and set(grid.index) == {1, 2, 3}
