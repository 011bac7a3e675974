"""Sentiment on planted texts: the negative share's lasting change found on the day a topic
turned negative, group shares within their intervals; the VADER fallback equal to its
published scores and said to be weak; clear errors on bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mercator.errors import MercatorError
from mercator.text import sentiment
from mercator.text._sentiment import expected_calibration_error, normalize
from tests.text._planted import PROBLEM, reviews


def test_negation_is_marked_to_the_end_of_the_clause():
    assert normalize("Not good, but the crew was great!") == "not good_neg , but the crew was great !"
    assert normalize("I don't like it. @united http://t.co/x") == "i don't like_neg it_neg . @ user http"


def test_the_planted_problem_is_found_on_its_day_and_groups_hold_their_truth():
    """Planted: a quarter of the reviews negative, battery reviews 85% from 2024-02-15. The
    trained model reads them; the daily negative share's level shift is dated within two days
    of the problem; each topic's negative-share interval covers its planted share."""
    frame = reviews()
    res = sentiment(None, frame, time_column="ts", group="topic", label="label")
    q = res.to_frame("quality").iloc[0]
    assert q.accuracy > 0.95 and q.method == "tfidf"
    shift = res.to_frame("shifts").iloc[0]
    assert abs((shift.date - PROBLEM["day"]).days) <= 2 and shift.after > shift.before
    groups = res.to_frame("by_group").set_index("group")
    late = frame[(frame.topic == "battery")]
    truth_battery = np.mean(np.where(late.ts >= PROBLEM["day"], 0.85, 0.25))
    for topic, truth in (("battery", truth_battery), ("delivery", 0.25), ("screen", 0.25)):
        assert groups.negative_low[topic] <= truth <= groups.negative_high[topic], topic
    assert groups.index[0] == "battery"
    assert any("rose" in f.text for f in res.findings)


def test_vader_fallback_scores_as_published_and_says_it_is_weak():
    """Without labels: VADER, whose README gives 'VADER is smart, handsome, and funny.' a
    compound of 0.8316 and 'The book was kind of good.' 0.3832."""
    frame = pd.DataFrame({"text": ["VADER is smart, handsome, and funny.", "The book was kind of good.",
                                   "Today SUX!"]})
    from mercator.text._lexicon import compound

    np.testing.assert_allclose(compound(frame.text.tolist())[:2], [0.8316, 0.3832], atol=1e-4)
    res = sentiment(None, frame)
    assert res.params["method"] == "vader"
    assert any(f.text.startswith("Scored with the VADER lexicon") and "misses a brand's own complaints" in f.text
               for f in res.findings)
    assert res.params["texts"] == 3


def test_calibration_error_by_hand():
    # two bins: (0.9, 0.9, right, wrong) -> |0.9 - 0.5| x 0.5; (0.6 right, 0.6 right) -> |0.6 - 1| x 0.5
    assert expected_calibration_error(np.array([0.9, 0.9, 0.6, 0.6]), np.array([1, 0, 1, 1])) == pytest.approx(0.4)


def test_bad_input_names_the_file_and_column(tmp_path):
    p = tmp_path / "posts.csv"
    p.write_text("body,when\nhello,2024-01-01\nbye,yesterday\n")
    with pytest.raises(MercatorError, match=r"posts.csv has no column 'text'"):
        sentiment(None, str(p))
    with pytest.raises(MercatorError, match=r"posts.csv, row 3, column when: 'yesterday' is not a date"):
        sentiment(None, str(p), text="body", time_column="when")
    with pytest.raises(MercatorError, match="at least 30 labelled texts"):
        sentiment(None, pd.DataFrame({"text": ["a b", "c d"], "label": ["x", "y"]}), method="tfidf")
