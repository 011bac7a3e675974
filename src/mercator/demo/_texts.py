"""The demo company's texts (issue 24): reviews, social posts and support chats about five
topics, each with a planted sentiment, and a product problem that turns one topic negative
from a known day. Drawn from their own random stream, so every other table stays as it was.

Truth (``truth["content"]``): the topics, each one's negative share before and after the
problem day, the problem's topic and day, and which texts carry labels (60%; the rest are
for a model to score).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa

#: Per topic: phrases that name it, and the words a positive or a negative text uses.
TOPICS = {
    "battery": ("the battery", "battery life", "charging", "the charger"),
    "delivery": ("delivery", "the courier", "shipping", "my parcel"),
    "app": ("the app", "the mobile app", "app updates", "logging in to the app"),
    "price": ("the price", "value for money", "the discount", "the subscription fee"),
    "support": ("customer support", "the help desk", "the support team", "the live chat"),
}
POSITIVE = ("is great", "works perfectly", "is excellent", "exceeded my expectations", "is fast and reliable",
            "made me happy")
NEGATIVE = ("is terrible", "keeps failing", "is a disaster", "let me down", "is slow and unreliable",
            "made me angry")
OPENERS = ("Honestly,", "Update:", "So far", "After two weeks,", "", "", "")
CLOSERS = ("", "", "Would recommend.", "Not buying again.", "Thanks.", "Fix this please.")
CHANNELS = ("review", "social", "support")
BASE_NEGATIVE = 0.25
PROBLEM_TOPIC, PROBLEM_NEGATIVE, PROBLEM_AT = "battery", 0.80, 0.55  # from 55% of the period on
LABELLED = 0.6


def content(rng: np.random.Generator, customer_ids: np.ndarray, start: dt.date, days: int) -> tuple[pa.Table, dict]:
    """Texts about the topics: a quarter negative, except the problem topic from its day on."""
    m = max(200, len(customer_ids) // 10)
    topics = np.array(list(TOPICS))
    topic = rng.integers(0, len(topics), m)
    seconds = np.sort(rng.uniform(0, days * 86400, m))
    problem_day = start + dt.timedelta(days=int(days * PROBLEM_AT))
    after = seconds >= (problem_day - start).days * 86400
    p_negative = np.where((topics[topic] == PROBLEM_TOPIC) & after, PROBLEM_NEGATIVE, BASE_NEGATIVE)
    negative = rng.random(m) < p_negative
    # a neutral sentence on no topic now and then: the label says neutral
    neutral = rng.random(m) < 0.1
    phrase = np.array([rng.choice(TOPICS[t]) for t in topics[topic]])
    verdict = np.where(negative, np.array(NEGATIVE)[rng.integers(0, len(NEGATIVE), m)],
                       np.array(POSITIVE)[rng.integers(0, len(POSITIVE), m)])
    opener = np.array(OPENERS)[rng.integers(0, len(OPENERS), m)]
    closer = np.where(negative, np.array(CLOSERS[3:])[rng.integers(0, 3, m)], np.array(CLOSERS[:3])[
        rng.integers(0, 3, m)])
    text = [" ".join(x for x in (o, f"{p} {v}.", c) if x).strip() for o, p, v, c in
            zip(opener, phrase, verdict, closer, strict=True)]
    text = np.where(neutral, np.char.add(np.char.add("Ordered on a ", np.array(["Monday", "Tuesday", "Friday"])[
        rng.integers(0, 3, m)]), ", delivered as described."), np.array(text))
    label = np.where(neutral, "neutral", np.where(negative, "negative", "positive"))
    labelled = rng.random(m) < LABELLED
    ts = np.datetime64(start.isoformat(), "s") + seconds.astype("timedelta64[s]")
    table = pa.table({"doc_id": np.char.add("d", np.arange(m).astype(str)),
                      "customer_id": customer_ids[rng.integers(0, len(customer_ids), m)],
                      "channel": np.array(CHANNELS)[rng.integers(0, len(CHANNELS), m)],
                      "ts": pa.array(ts.astype("datetime64[us]")), "text": text,
                      "label": pa.array(np.where(labelled, label, None), pa.string())})
    truth = {"labels": ["positive", "negative", "neutral"], "topics": list(TOPICS),
             "negative_share": BASE_NEGATIVE, "neutral_share": 0.1, "labelled_share": LABELLED,
             "problem": {"topic": PROBLEM_TOPIC, "from": problem_day.isoformat(), "negative_share": PROBLEM_NEGATIVE},
             "texts": m, "labelled": int(labelled.sum())}
    return table, truth
