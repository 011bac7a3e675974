"""Text benchmark (issue 24): sentiment quality on airline tweets and Alexa reviews, inference
throughput beside VADER, plain TF-IDF + LR and the raw embedding model, and keyword time per
group of 1,000 texts (MMR over sentence embeddings and YAKE).

Run: .venv/bin/python benchmarks/text.py [--repeat N]. Reads ../shared/data. Prints one JSON
document; exits non-zero when a target is missed.

Targets (issue 24): airline default >= 0.83 accuracy / 0.78 macro-F1 (stratified 80/20, seed
0); Alexa macro-F1 >= 0.80 (deduplicated, repeated 5-fold x 3); default inference >= 2,000
texts/s; keywords <= 1 s per group of 1,000 texts, the same on every run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "passive")
DATA = Path(os.environ.get("MERCATOR_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def _airline():
    import pandas as pd

    return pd.read_csv(DATA / "twitter_airline_sentiment" / "Tweets.csv")


def quality_airline() -> dict:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline

    from mercator.text import sentiment
    from mercator.text._lexicon import classify, compound

    tweets = _airline()
    t0 = time.perf_counter()
    ours = sentiment(None, tweets, label="airline_sentiment", seed=0).to_frame("quality").iloc[0]
    seconds = time.perf_counter() - t0
    train, test = train_test_split(tweets, test_size=0.2, stratify=tweets.airline_sentiment, random_state=0)
    plain = make_pipeline(TfidfVectorizer(), LogisticRegression(max_iter=2000)).fit(train.text, train.airline_sentiment)
    p = plain.predict(test.text)
    v = classify(compound(test.text.tolist()))
    return {"ours": {"accuracy": round(float(ours.accuracy), 4), "macro_f1": round(float(ours.macro_f1), 4),
                     "ece": round(float(ours.ece), 4), "train_and_score_s": round(seconds, 1)},
            "tfidf_lr_plain": {"accuracy": round(accuracy_score(test.airline_sentiment, p), 4),
                               "macro_f1": round(f1_score(test.airline_sentiment, p, average="macro"), 4)},
            "vader": {"accuracy": round(accuracy_score(test.airline_sentiment, v), 4),
                      "macro_f1": round(f1_score(test.airline_sentiment, v, average="macro"), 4)}}


def quality_alexa() -> dict:
    import numpy as np
    import pandas as pd
    from sklearn.metrics import f1_score
    from sklearn.model_selection import RepeatedStratifiedKFold

    from mercator.text._sentiment import fit_model

    r = pd.read_csv(DATA / "amazon_alexa_reviews" / "amazon_alexa.tsv", sep="\t", encoding="utf-8-sig")
    r = r[r.verified_reviews.fillna("").str.strip() != ""].drop_duplicates("verified_reviews")
    x, y = r.verified_reviews.reset_index(drop=True), r.feedback.astype(str).to_numpy()
    scores = [f1_score(y[te], fit_model(x.iloc[tr], y[tr]).predict(x.iloc[te].to_numpy()), average="macro")
              for tr, te in RepeatedStratifiedKFold(n_splits=5, n_repeats=3, random_state=0).split(x, y)]
    return {"reviews": len(r), "macro_f1_mean": round(float(np.mean(scores)), 4),
            "macro_f1_sd": round(float(np.std(scores)), 4)}


def throughput(repeat: int) -> dict:
    """Texts per second of scoring 10,000 tweets (the models already fitted or loaded)."""
    from sklearn.model_selection import train_test_split

    from mercator.text import _embed
    from mercator.text._lexicon import compound
    from mercator.text._sentiment import fit_model

    tweets = _airline()
    train, _ = train_test_split(tweets, test_size=0.2, stratify=tweets.airline_sentiment, random_state=0)
    model = fit_model(train.text, train.airline_sentiment.to_numpy())
    texts = tweets.text.tolist()[:10_000]

    def rate(fn, items) -> float:
        best = float("inf")
        for _ in range(repeat):
            t0 = time.perf_counter()
            fn(items)
            best = min(best, time.perf_counter() - t0)
        return round(len(items) / best, 1)

    out = {"default_tfidf_lr": rate(lambda t: model.predict_proba(t), texts),
           "vader": rate(compound, texts)}
    if _embed.available():
        _embed.embed(texts[:64])  # load
        out["embedding_model_batch_64"] = rate(_embed.embed, texts[:1000])
    return out


def keyword_time(repeat: int) -> dict:
    import pandas as pd

    from mercator.text import keywords

    tweets = _airline()
    groups = [g.head(1000) for _, g in tweets.groupby("airline") if len(g) >= 1000]
    frame = pd.concat(groups, ignore_index=True)
    out = {"groups": len(groups), "texts_per_group": 1000}
    for method in ("mmr", "yake"):
        runs, tables = [], []
        for _ in range(repeat):
            res = keywords(None, frame, group="airline", method=method)
            runs.append(res.params["seconds_per_group"])
            tables.append(res.to_frame("keywords"))
        out[method] = {"seconds_per_group": min(runs), "same_every_run": all(t.equals(tables[0]) for t in tables),
                       "example": tables[0][tables[0]["rank"] <= 5].groupby("group").keyword.agg(", ".join).to_dict()}
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    doc = {"airline": quality_airline(), "alexa": quality_alexa(), "texts_per_second": throughput(args.repeat),
           "keywords": keyword_time(args.repeat)}
    a, x, r, k = doc["airline"]["ours"], doc["alexa"], doc["texts_per_second"], doc["keywords"]
    doc["targets_met"] = {"airline": a["accuracy"] >= 0.83 and a["macro_f1"] >= 0.78,
                          "alexa": x["macro_f1_mean"] >= 0.80, "throughput": r["default_tfidf_lr"] >= 2000,
                          "keywords": all(k[m]["seconds_per_group"] <= 1 and k[m]["same_every_run"]
                                          for m in ("mmr", "yake") if m in k)}
    print(json.dumps(doc, indent=1))
    return 0 if all(doc["targets_met"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
