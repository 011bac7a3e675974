"""Texts with planted truth: reviews written from templates per topic and sentiment, with one
topic turning negative from a known day (a product problem), for sentiment, topics and
keywords to find."""

from __future__ import annotations

import numpy as np
import pandas as pd

TOPICS = {
    "battery": ["the battery {adj} after a full day", "battery life is {adj}", "charging the battery is {adj}"],
    "delivery": ["the delivery was {adj} and the courier polite", "shipping took {adj} time",
                 "my parcel arrived {adj}"],
    "screen": ["the screen is {adj} in sunlight", "display colours look {adj}", "the touch screen feels {adj}"],
}
WORDS = {"positive": ["great", "excellent", "fantastic", "superb"], "negative": ["terrible", "awful", "dreadful",
                                                                                  "useless"]}
START = pd.Timestamp("2024-01-01")
DAYS = 90
PROBLEM = {"topic": "battery", "day": pd.Timestamp("2024-02-15")}


def reviews(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    """``n`` reviews over 90 days: a quarter negative, except battery reviews from the problem
    day on, of which 85% are negative."""
    rng = np.random.default_rng(seed)
    topic = rng.choice(list(TOPICS), n)
    ts = START + pd.to_timedelta(rng.integers(0, DAYS * 86400, n), unit="s")
    p_neg = np.where((topic == PROBLEM["topic"]) & (ts >= PROBLEM["day"]), 0.85, 0.25)
    label = np.where(rng.random(n) < p_neg, "negative", "positive")
    text = [rng.choice(TOPICS[t]).format(adj=rng.choice(WORDS[lab])) for t, lab in zip(topic, label, strict=True)]
    return pd.DataFrame({"doc_id": [f"d{i}" for i in range(n)], "ts": ts, "topic": topic, "text": text,
                         "label": label}).sort_values("ts", ignore_index=True)
