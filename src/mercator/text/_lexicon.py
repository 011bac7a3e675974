"""The lexicon fallback: VADER (Hutto and Gilbert 2014), for texts without labels to learn from.

Weak on purpose-built data (airline tweets, 3 classes: accuracy 0.50 where a model trained on
the user's labels reaches 0.83; docs/text.md), and said so wherever it is used: it knows
general English sentiment words, not a brand's complaints ("delayed", "on hold").
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from mercator.errors import MercatorError

#: VADER's own thresholds on the compound score (its README): >= 0.05 positive, <= -0.05 negative.
THRESHOLD = 0.05
CLASSES = ("negative", "neutral", "positive")


@functools.cache
def _analyzer():
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    except ImportError as exc:
        raise MercatorError("the lexicon fallback needs vaderSentiment: pip install 'mercator[text]'") from exc
    return SentimentIntensityAnalyzer()


def compound(texts: Sequence[str]) -> np.ndarray:
    """VADER's compound score of each text, in [-1, 1]."""
    analyzer = _analyzer()
    return np.fromiter((analyzer.polarity_scores(t)["compound"] for t in texts), float, count=len(texts))


def scores(texts: Sequence[str]) -> np.ndarray:
    """(len(texts), 4): compound, positive, negative and neutral, as VADER scores them."""
    analyzer = _analyzer()
    out = np.empty((len(texts), 4))
    for i, t in enumerate(texts):
        s = analyzer.polarity_scores(t)
        out[i] = (s["compound"], s["pos"], s["neg"], s["neu"])
    return out


def classify(scores: np.ndarray) -> np.ndarray:
    """negative / neutral / positive by VADER's thresholds."""
    return np.where(scores >= THRESHOLD, "positive", np.where(scores <= -THRESHOLD, "negative", "neutral"))
