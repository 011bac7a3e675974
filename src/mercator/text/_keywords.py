"""Keywords: what a group of texts (an ad group's landing pages, a product's reviews) is about,
as phrases to bid on or to watch.

Two methods, both deterministic:

- ``mmr`` (the default, KeyBERT's method; Grootendorst 2020): candidate phrases (1-3 words,
  no stop word at either end) ranked by how close their sentence embedding lies to the
  group's, then picked by maximal marginal relevance (Carbonell and Goldstein 1998) so the
  list is not ten spellings of one idea. The candidates are the group's top phrases by
  class-based TF-IDF (what sets the group apart from the others), and the group's embedding
  is the mean of 32 of its texts, evenly spaced: a group of 1,000 texts costs the embedding
  of a few hundred short phrases and 32 texts, not of 1,000 texts.
- ``yake`` (Campos et al. 2020): statistical features of each text, no model; the light
  option, and the fallback where the embedding model is not installed.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from mercator.errors import BadParameter
from mercator.results import Finding, Result
from mercator.text import _embed
from mercator.text._data import texts as read_texts

METHODS = ("auto", "mmr", "yake")
CANDIDATES = 200  # per group, by class-based TF-IDF, before the embedding ranks them
DOC_SAMPLE = 32  # texts of a group (evenly spaced) whose mean embedding is the group's
YAKE_SAMPLE = 400  # texts of a group (evenly spaced) that YAKE reads: 1.75 s for 1,000 tweets, 0.7 s for 400


@dataclass(frozen=True)
class KeywordResult(Result):
    kind = "text_keywords"
    title = "Keywords"
    headline = ("keywords",)
    display: ClassVar[dict[str, tuple[str, ...]]] = {"keywords": ("group", "rank", "keyword", "score", "texts")}


_FRAGMENT = re.compile(r"[.,;:!?()\[\]\"|/\n]+")
_WORD = re.compile(r"(?u)\b[a-zA-Z][\w'-]+\b")


def phrases(text: str, ngram: int = 3) -> list[str]:
    """The 1- to ``ngram``-word phrases of ``text`` that neither start nor end with a stop word
    and do not cross punctuation (a phrase is never half of one clause and half of the next)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS as STOP

    out = []
    for fragment in _FRAGMENT.split(text.lower()):
        words = _WORD.findall(fragment)
        for n in range(1, ngram + 1):
            for i in range(len(words) - n + 1):
                if words[i] not in STOP and words[i + n - 1] not in STOP:
                    out.append(" ".join(words[i:i + n]))
    return out


def candidates(docs: pd.Series, groups: pd.Series, top: int = CANDIDATES):
    """Per group, its ``top`` phrases by class-based TF-IDF (c-TF-IDF, Grootendorst 2022: the
    texts of a group as one document against the other groups) with the texts holding each."""
    from sklearn.feature_extraction.text import CountVectorizer

    vec = CountVectorizer(analyzer=phrases, min_df=2)
    try:
        x = vec.fit_transform(docs.to_numpy())
    except ValueError:  # every word a stop word, or too few texts
        vec.set_params(min_df=1)
        x = vec.fit_transform(docs.to_numpy())
    terms = vec.get_feature_names_out()
    names = pd.unique(groups)
    present = (x > 0).astype(np.float32)
    per_group = np.vstack([np.asarray(present[(groups == g).to_numpy()].sum(axis=0)).ravel() for g in names])
    tf = per_group / np.maximum(per_group.sum(axis=1, keepdims=True), 1)
    avg = per_group.sum() / len(names)
    idf = np.log1p(avg / np.maximum(per_group.sum(axis=0), 1))
    weight = tf * idf
    out = {}
    for i, g in enumerate(names):
        order = np.argsort(-weight[i], kind="stable")
        order = order[per_group[i, order] > 0][:top]
        out[g] = (terms[order], weight[i, order], per_group[i, order])
    return out


def mmr(phrase_vecs: np.ndarray, target: np.ndarray, k: int, diversity: float) -> list[int]:
    """Indices of ``k`` phrases by maximal marginal relevance: relevance to ``target`` minus
    ``diversity`` times the similarity to the closest phrase already picked."""
    relevance = phrase_vecs @ target
    chosen = [int(np.argmax(relevance))]
    sim = phrase_vecs @ phrase_vecs.T
    while len(chosen) < min(k, len(phrase_vecs)):
        rest = np.setdiff1d(np.arange(len(phrase_vecs)), chosen)
        score = (1 - diversity) * relevance[rest] - diversity * sim[np.ix_(rest, chosen)].max(axis=1)
        chosen.append(int(rest[np.argmax(score)]))
    return chosen


def _yake(docs: list[str], k: int, ngram: int = 3) -> list[tuple[str, float]]:
    import yake

    extractor = yake.KeywordExtractor(lan="en", n=ngram, top=k, dedupLim=0.7)
    # YAKE reads one document: the group's texts joined as sentences. Lower is better in YAKE.
    found = extractor.extract_keywords(". ".join(d.strip().rstrip(".") for d in docs))
    return [(kw, float(score)) for kw, score in found]


def keywords(ws=None, source="content", *, text: str = "text", group: str | None = None, top: int = 10,
             method: str = "auto", diversity: float = 0.5) -> KeywordResult:
    """The ``top`` keywords of each group of texts (one group when ``group`` is None)."""
    if method not in METHODS:
        raise BadParameter(f"unknown keyword method {method!r}; use one of {', '.join(METHODS)}")
    if not 0 <= diversity <= 1:
        raise BadParameter(f"--diversity {diversity}: between 0 (relevance only) and 1")
    if method == "auto":
        method = "mmr" if _embed.available() else "yake"
    frame = read_texts(ws, source, text=text, group=group)
    groups = frame["group"].astype("string").fillna("(none)") if "group" in frame else \
        pd.Series("all", index=frame.index)
    started = time.perf_counter()
    rows = []
    if method == "mmr":
        cands = candidates(frame["text"], groups)
        for g, (terms, weights, held) in cands.items():
            if not len(terms):
                continue
            vecs = _embed.embed(list(terms))
            members = frame["text"][groups == g]
            sample = members.iloc[np.linspace(0, len(members) - 1, min(len(members), DOC_SAMPLE)).astype(int)]
            target = _embed.embed(sample.tolist()).mean(axis=0)
            target /= np.linalg.norm(target) or 1.0
            for rank, i in enumerate(mmr(vecs, target, top, diversity), start=1):
                rows.append({"group": g, "rank": rank, "keyword": terms[i], "score": float(vecs[i] @ target),
                             "texts": int(held[i])})
    else:
        for g in pd.unique(groups):
            members = frame["text"][groups == g]
            # YAKE reads the group as one document, in time linear in its length: 400 texts, evenly spaced
            docs = members.iloc[np.linspace(0, len(members) - 1, min(len(members), YAKE_SAMPLE)).astype(int)].tolist()
            lowered = [d.lower() for d in members]
            for rank, (kw, score) in enumerate(_yake(docs, top), start=1):
                rows.append({"group": g, "rank": rank, "keyword": kw, "score": score,
                             "texts": sum(kw.lower() in d for d in lowered)})
    seconds = time.perf_counter() - started
    table = pd.DataFrame(rows, columns=["group", "rank", "keyword", "score", "texts"])
    n_groups = int(groups.nunique())
    lead = ", ".join(table[table["rank"] <= 5].groupby("group").keyword.agg(", ".join).head(3)) \
        if len(table) else "none"
    findings = (Finding(f"Keywords of {n_groups:,} group(s) of {len(frame):,} texts by {method.upper()}; first: {lead}.",
                        impact=0.3),)
    return KeywordResult(tables={"keywords": table}, findings=findings,
                         params={"method": method, "groups": n_groups, "texts": len(frame), "top": top,
                                 "diversity": diversity if method == "mmr" else None,
                                 "seconds": round(seconds, 3), "seconds_per_group": round(seconds / max(n_groups, 1), 3)})
