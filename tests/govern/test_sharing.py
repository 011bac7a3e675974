"""The sharing gate (issue 23, item 7): k-anonymity and l-diversity on declared
quasi-identifiers, counted in the engine. The truth is by hand: a table built so that every
group has exactly the size it was given; the Twitter airline tweets (../shared/data), whose
location, time zone and time of posting single out almost every author (k = 1), are refused
with suggestions that would pass."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mercator.govern import sharing_gate
from mercator.interfaces.cli import app
from tests.conftest import shared


def _groups(sizes: list[int], *, diverse: bool = True) -> pd.DataFrame:
    rows = []
    for g, n in enumerate(sizes):
        for i in range(n):
            rows.append({"region": f"r{g}", "age": 20 + g, "sentiment": ["pos", "neg"][i % 2] if diverse else "neg"})
    return pd.DataFrame(rows)


def test_k_and_l_counted_by_hand(tmp_path):
    ok = sharing_gate(_groups([5, 6, 9]), quasi=["region", "age"], sensitive="sentiment", k=5, l=2,
                      output=tmp_path / "out.csv")
    assert ok.params["passes"] and ok.params["k"] == 5 and ok.params["l"] == 2
    assert len(pd.read_csv(tmp_path / "out.csv")) == 20
    small = sharing_gate(_groups([5, 4, 9]), quasi=["region", "age"], sensitive="sentiment", k=5, l=2,
                         output=tmp_path / "no.csv")
    s = small.to_frame("summary").iloc[0]
    assert not small.params["passes"] and s.k == 4 and s.rows_below_k == 4 and not (tmp_path / "no.csv").exists()
    same = sharing_gate(_groups([6, 6], diverse=False), quasi=["region"], sensitive="sentiment", k=5, l=2)
    assert not same.params["passes"] and same.params["l"] == 1  # big enough, but everyone in it is negative


def test_suggestions_pass_when_applied():
    """40 people, each alone (k = 1): the suggested path ends with no row standing out, and each
    step keeps fewer distinct values than it found."""
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"age": np.arange(20, 60), "zip": [f"1{z:04d}" for z in rng.permutation(40)],
                       "sentiment": ["pos", "neg"] * 20})
    res = sharing_gate(df, quasi=["age", "zip"], sensitive="sentiment", k=5, l=2)
    steps = res.to_frame("suggestions")
    assert not res.params["passes"] and res.params["k"] == 1
    assert steps.rows_below_k.iloc[-1] == 0 and steps.k.iloc[-1] >= 5
    real = steps[steps.column != "(rows)"]
    assert (real.distinct_after < real.distinct_before).all()


def test_the_airline_tweets_are_refused():
    tweets = shared("twitter_airline_sentiment", "Tweets.csv")
    res = sharing_gate(str(tweets), quasi=["tweet_location", "user_timezone", "tweet_created"],
                       sensitive="airline_sentiment", k=5, l=2)
    assert not res.params["passes"] and res.params["k"] == 1
    s = res.to_frame("suggestions")
    assert len(s) and s.rows_below_k.iloc[-1] == 0
    assert "may NOT be shared" in res.findings[0].text


def test_cli_refuses_with_exit_1_and_writes_nothing(tmp_path):
    src = tmp_path / "people.csv"
    _groups([5, 2]).to_csv(src, index=False)
    out = tmp_path / "partner.csv"
    res = CliRunner().invoke(app, ["govern", "export", str(src), "--for-partner", "--quasi", "region,age",
                                   "--sensitive", "sentiment", "--output", str(out), "--json"])
    assert res.exit_code == 1 and not out.exists()
    assert json.loads(res.stdout)["params"]["passes"] is False
    with pytest.raises(AssertionError):
        assert CliRunner().invoke(app, ["govern", "export", str(src), "--quasi", "region"]).exit_code == 0
