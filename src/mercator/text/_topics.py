"""Topics: what the texts are about, as clusters of meaning, each named by its most telling
phrases; and which topics carry the negative sentiment (the aspects to fix).

Texts are embedded with the sentence model and clustered with k-means (BERTopic's recipe,
Grootendorst 2022, with k-means in place of HDBSCAN so that every text has a topic and a run
is deterministic); a topic is named by its top phrases by class-based TF-IDF. Without the
embedding model, non-negative matrix factorization of TF-IDF (scikit-learn's NMF) stands in.
The number of topics, unless given, is the one of 4 to 12 with the best silhouette on a
sample.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from mercator.errors import BadParameter, MercatorError
from mercator.results import Finding, Result
from mercator.text import _embed
from mercator.text._data import texts as read_texts
from mercator.text._keywords import candidates
from mercator.text._sentiment import NEGATIVE, share_interval

METHODS = ("auto", "embedding", "nmf")


@dataclass(frozen=True)
class TopicResult(Result):
    kind = "text_topics"
    title = "What customers talk about"
    headline = ("topics", "negative_since")
    display: ClassVar[dict[str, tuple[str, ...]]] = {
        "topics": ("topic", "name", "texts", "share", "negative_share", "negative_low", "negative_high"),
        "examples": ("topic", "text"),
    }

    def figures(self) -> list:
        import plotly.graph_objects as go

        t = self.tables["topics"]
        figs = []
        if "negative_share" in t:
            figs.append(go.Figure(go.Bar(x=t["negative_share"], y=t["name"], orientation="h",
                                         error_x={"type": "data", "symmetric": False,
                                                  "array": t["negative_high"] - t["negative_share"],
                                                  "arrayminus": t["negative_share"] - t["negative_low"]}))
                        .update_layout(title="Negative share by topic (95% interval)", xaxis_tickformat=".0%",
                                       height=120 + 28 * len(t), yaxis={"autorange": "reversed"}))
        return figs


def _cluster(vectors: np.ndarray, k: int | None, seed: int) -> tuple[np.ndarray, int]:
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    if k is not None:
        return KMeans(k, n_init=4, random_state=seed).fit_predict(vectors), k
    rng = np.random.default_rng(seed)
    sample = rng.choice(len(vectors), min(len(vectors), 3000), replace=False)
    best = None
    for kk in range(4, min(12, len(vectors) - 1) + 1):
        labels = KMeans(kk, n_init=2, random_state=seed).fit_predict(vectors[sample])
        score = silhouette_score(vectors[sample], labels, random_state=seed)
        if best is None or score > best[0] + 1e-9:
            best = (score, kk)
    k = best[1] if best else 4
    return KMeans(k, n_init=4, random_state=seed).fit_predict(vectors), k


def topics(ws=None, source="content", *, text: str = "text", label: str | None = "label",
           time_column: str | None = None, k: int | None = None, method: str = "auto", seed: int = 0,
           examples: int = 3) -> TopicResult:
    """Topics of the texts; with ``label`` (a sentiment label: ``negative`` is counted; the
    column ``label`` is used where the source has it), each topic's negative share with its interval; with a time column, the day each topic's
    negative share changed lastingly, if it did."""
    if method not in METHODS:
        raise BadParameter(f"unknown topic method {method!r}; use one of {', '.join(METHODS)}")
    if k is not None and not 2 <= k <= 50:
        raise BadParameter(f"--k {k}: between 2 and 50 topics")
    frame = read_texts(ws, source, text=text, label=label, time=time_column,
                       optional=("label",) if label == "label" else ())
    if len(frame) < 20:
        raise MercatorError(f"{len(frame)} texts: topics need at least 20")
    if method == "auto":
        method = "embedding" if _embed.available() else "nmf"
    started = time.perf_counter()
    if method == "embedding":
        vectors = _embed.embed(frame["text"].tolist())
        assigned, k = _cluster(vectors, k, seed)
    else:
        from sklearn.decomposition import NMF
        from sklearn.feature_extraction.text import TfidfVectorizer

        x = TfidfVectorizer(stop_words="english", min_df=2, sublinear_tf=True).fit_transform(frame["text"])
        k = k or 8
        assigned = NMF(k, init="nndsvda", random_state=seed, max_iter=400).fit_transform(x).argmax(axis=1)
    groups = pd.Series(assigned, index=frame.index)
    names = candidates(frame["text"], groups, top=4)
    rows = []
    for t in sorted(groups.unique()):
        members = groups == t
        terms = names.get(t, ([], [], []))[0]
        row = {"topic": int(t), "name": ", ".join(terms[:4]) if len(terms) else f"topic {t}",
               "texts": int(members.sum()), "share": float(members.mean())}
        if "label" in frame:
            neg = (frame["label"][members] == NEGATIVE)
            known = frame["label"][members].notna()
            row["negative_share"] = float(neg.sum() / max(known.sum(), 1))
            lo, hi = share_interval(np.array([float(neg.sum())]), np.array([float(max(known.sum(), 1))]))
            row["negative_low"], row["negative_high"] = float(lo[0]), float(hi[0])
        rows.append(row)
    table = pd.DataFrame(rows)
    if "negative_share" in table:
        table = table.sort_values("negative_share", ascending=False, ignore_index=True)
    else:
        table = table.sort_values("texts", ascending=False, ignore_index=True)
    sample = pd.concat([frame.assign(topic=groups)[groups == t].head(examples)[["topic", "text"]]
                        for t in table["topic"]], ignore_index=True)
    tables = {"topics": table, "examples": sample}
    findings = [Finding(f"{k} topics in {len(frame):,} texts; the largest: {table.sort_values('texts').iloc[-1]['name']}"
                        f" ({table.share.max():.0%}).", impact=0.3)]
    if "negative_share" in table:
        worst = table.iloc[0]
        overall = float((frame["label"] == NEGATIVE).sum() / max(frame["label"].notna().sum(), 1))
        findings.append(Finding(
            f"The most negative topic: {worst['name']} ({worst.negative_share:.0%} negative, "
            f"{worst.negative_low:.0%}-{worst.negative_high:.0%}, against {overall:.0%} overall).",
            metric="negative_share", segment=str(worst["name"]), value=float(worst.negative_share),
            interval=(float(worst.negative_low), float(worst.negative_high)), impact=0.7))
        if "ts" in frame:
            tables["negative_since"] = _topic_shifts(frame.assign(topic=groups), table)
            for s in tables["negative_since"].itertuples():
                findings.append(Finding(
                    f"Topic '{s.name}' turned {'more' if s.after > s.before else 'less'} negative on {s.date:%Y-%m-%d}: "
                    f"{s.before:.0%} to {s.after:.0%} of its texts.", metric="negative_share", segment=s.name,
                    value=float(s.after), impact=0.9))
    return TopicResult(tables=tables, findings=tuple(findings),
                       params={"method": method, "k": int(k), "texts": len(frame), "seed": seed,
                               "seconds": round(time.perf_counter() - started, 3)})


def _topic_shifts(frame: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """Per topic, a lasting change of its negative share (explore's level-shift test), per day,
    or per week where a topic has fewer than three labelled texts a day."""
    from mercator.explore._anomaly import level_shift

    rows = []
    for r in table.itertuples():
        part = frame[(frame.topic == r.topic) & frame["label"].notna()]
        if part.empty:
            continue
        days = max((part.ts.max() - part.ts.min()).days, 1)
        grain = "D" if len(part) / days >= 3 else "W-MON"
        period = part.ts.dt.to_period(grain).dt.start_time
        counts = part.assign(period=period, neg=part["label"] == NEGATIVE).groupby("period").neg.agg(["sum", "size"])
        counts = counts.asfreq("D" if grain == "D" else "7D")
        share = (counts["sum"] / counts["size"]).dropna()
        if len(share) < 28:
            continue
        sh = level_shift(share, events_per_day=max(float(counts["size"].median()), 1.0))
        if sh is not None:  # the shares themselves before and after (weighted by texts), not the test's levels
            before, after = counts[counts.index < sh.date], counts[counts.index >= sh.date]
            rows.append({"topic": r.topic, "name": r.name, "date": sh.date, "grain": "day" if grain == "D" else "week",
                         "before": before["sum"].sum() / max(before["size"].sum(), 1),
                         "after": after["sum"].sum() / max(after["size"].sum(), 1), "p": sh.p})
    return pd.DataFrame(rows, columns=["topic", "name", "date", "grain", "before", "after", "p"])
