"""Sentiment on real data (issue 24): Twitter US Airline Sentiment (14,640 tweets, 3 classes)
and Amazon Alexa reviews (3,150, binary, 92% positive), in ../shared/data.

Anchors measured on this machine kind (issue 24): airline, stratified 80/20 with seed 0 -
VADER accuracy 0.50, TF-IDF + logistic regression 0.82 accuracy / 0.76 macro-F1; Alexa,
deduplicated, repeated 5-fold x 3 - balanced TF-IDF + LR macro-F1 0.776. Targets: the
default >= 0.83 / 0.78 on airline (met) and >= 0.80 on Alexa (not yet: 0.774).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.conftest import shared

pytestmark = [pytest.mark.real, pytest.mark.slow]


def test_airline_default_meets_the_targets_and_vader_is_the_weak_anchor():
    from mercator.text import sentiment

    tweets = pd.read_csv(shared("twitter_airline_sentiment", "Tweets.csv"))
    res = sentiment(None, tweets, label="airline_sentiment", group="airline", time_column="tweet_created",
                    test_size=0.2, seed=0)
    q = res.to_frame("quality").iloc[0]
    assert q.accuracy >= 0.83 and q.macro_f1 >= 0.78, q.to_dict()
    assert int(q.test_texts) == 2928  # 20% of 14,640, stratified
    assert q.ece < 0.05  # probabilities close to how often they are right
    by = res.to_frame("by_group").set_index("group")
    assert by.index[0] == "US Airways"  # the most complained-about airline in this file (77.7% of its labels)
    vader = sentiment(None, tweets.rename(columns={"airline_sentiment": "label"}), method="vader")
    assert 0.45 <= vader.to_frame("quality").iloc[0].accuracy <= 0.55


def test_alexa_repeated_cross_validation_macro_f1():
    """Deduplicated on the text (the file repeats reviews across product variants), then
    stratified 5-fold cross-validation repeated 3 times (seeds 0-2), as the anchor was measured."""
    from sklearn.metrics import f1_score
    from sklearn.model_selection import RepeatedStratifiedKFold

    from mercator.text._sentiment import fit_model

    reviews = pd.read_csv(shared("amazon_alexa_reviews", "amazon_alexa.tsv"), sep="\t", encoding="utf-8-sig")
    reviews = reviews[reviews.verified_reviews.fillna("").str.strip() != ""].drop_duplicates("verified_reviews")
    x, y = reviews.verified_reviews.reset_index(drop=True), reviews.feedback.astype(str).to_numpy()
    scores = []
    for train, test in RepeatedStratifiedKFold(n_splits=5, n_repeats=3, random_state=0).split(x, y):
        model = fit_model(x.iloc[train], y[train])
        scores.append(f1_score(y[test], model.predict(x.iloc[test].to_numpy()), average="macro"))
    # 0.774 measured; the target (0.80) is not met yet (docs/text.md): this guards the figure
    assert np.mean(scores) >= 0.765, np.round(scores, 3)
