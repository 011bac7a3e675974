"""Sentiment: a model trained on the user's labels (the default), or the VADER lexicon where
there are none; evaluated on a held-out stratified split; scored on every text; followed
over time, where a lasting change of the negative share is found by explore's level-shift
test, and per group (airline, product, channel) with intervals.

The default model is scikit-learn's TF-IDF and logistic regression, with four choices that
lift it above the plain recipe on real data (docs/text.md, measured on airline tweets, where
the plain recipe reads 0.799 accuracy / 0.719 macro-F1 and this one 0.833 / 0.782;
benchmarks/text.py): word
1-3-grams with negation marked ("not good" is not "good"), character n-grams within words
(misspellings, hashtags, elongations: "soooo"), VADER's four scores as features (general
English sentiment the labels rarely show), and class weights halfway to balanced (the
minority classes' recall without giving up accuracy).
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
from mercator.text import _lexicon
from mercator.text._data import texts as read_texts

METHODS = ("auto", "tfidf", "vader")
MIN_LABELLED = 30  # per class, at the least, to train and hold some out
NEGATIVE = "negative"

_URL = re.compile(r"https?://\S+|www\.\S+")
_HANDLE = re.compile(r"@\w+")
_NEGATION = re.compile(r"\b(?:not|no|never|cannot|nothing|nobody|none|nor|n't|\w+n't)\b")
_CLAUSE_END = re.compile(r"[.,;:!?]")


def normalize(text: str) -> str:
    """Lower case, addresses and handles as placeholders, and negation marked: each word after
    a negation up to the end of the clause carries ``_neg`` (Das and Chen 2001; Pang et al. 2002)."""
    text = _HANDLE.sub(" @user ", _URL.sub(" http ", text.lower())).replace("’", "'")
    out, negated = [], False
    for token in re.findall(r"[\w']+|[^\w\s]", text):
        if _CLAUSE_END.fullmatch(token):
            negated = False
            out.append(token)
        elif negated:
            out.append(token + "_neg")
        else:
            out.append(token)
            negated = bool(_NEGATION.fullmatch(token))
    return " ".join(out)


def lexicon_features(texts) -> object:
    """VADER's compound, positive, negative and neutral scores of each text, as four sparse
    columns beside the n-grams: what general English says about words the labels rarely show."""
    import scipy.sparse as sp

    return sp.csr_matrix(_lexicon.scores(list(texts)))


def normalize_all(texts) -> list[str]:
    return [normalize(t) for t in texts]


def default_model(seed: int = 0):
    """The default pipeline: word and character TF-IDF of the normalized text (normalized once
    for both) and the lexicon's scores of the raw text (VADER reads capitals and "!!!"), then
    logistic regression (C = 2; on airline tweets C 1.5 and 3 gave accuracy and macro-F1 within 0.002 of it)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union
    from sklearn.preprocessing import FunctionTransformer

    words = TfidfVectorizer(lowercase=False, token_pattern=r"[^\s]+", ngram_range=(1, 3), min_df=2,
                            sublinear_tf=True)
    chars = TfidfVectorizer(lowercase=False, analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True,
                            max_features=200_000)
    ngrams = make_pipeline(FunctionTransformer(normalize_all), make_union(words, chars))
    lexicon = FunctionTransformer(lexicon_features, accept_sparse=True)
    return make_pipeline(make_union(ngrams, lexicon), LogisticRegression(C=2.0, max_iter=3000, random_state=seed))


def half_balanced(y: np.ndarray) -> dict[str, float]:
    """Class weights halfway (geometrically) between none and balanced."""
    classes, counts = np.unique(y, return_counts=True)
    balanced = len(y) / (len(classes) * counts)
    return {c: float(np.sqrt(w)) for c, w in zip(classes, balanced, strict=True)}


def fit_model(x: pd.Series, y: np.ndarray, seed: int = 0):
    """The default model fitted, each text weighted by its class's half-balanced weight (as
    sample weights: scikit-learn matches ``class_weight`` keys against encoded labels for some
    label types)."""
    weights = half_balanced(y)
    model = default_model(seed)
    return model.fit(x.to_numpy(), y, logisticregression__sample_weight=np.array([weights[v] for v in y]))


@dataclass(frozen=True)
class SentimentResult(Result):
    """Sentiment of every text; the model's held-out quality; the negative share over time and
    by group."""

    kind = "text_sentiment"
    title = "What customers say: sentiment"
    headline = ("quality", "classes", "over_time", "by_group")
    display: ClassVar[dict[str, tuple[str, ...]]] = {
        "quality": ("method", "accuracy", "macro_f1", "test_texts", "ece"),
        "classes": ("class", "precision", "recall", "f1", "support"),
        "by_group": ("group", "texts", "negative_share", "negative_low", "negative_high"),
        "over_time": ("date", "texts", "negative_share"),
    }

    def figures(self) -> list:
        import plotly.graph_objects as go

        figs = []
        daily = self.tables.get("over_time")
        if daily is not None and len(daily):
            fig = go.Figure(go.Scatter(x=daily["date"], y=daily["negative_share"], mode="lines+markers",
                                       name="negative share"))
            for s in self.tables.get("shifts", pd.DataFrame()).itertuples():
                fig.add_vline(x=pd.Timestamp(s.date).timestamp() * 1000, line_dash="dash", line_color="red")
            fig.update_layout(title="Share of negative texts per day", yaxis_tickformat=".0%", height=360)
            figs.append(fig)
        conf = self.tables.get("confusion")
        if conf is not None and len(conf):
            grid = conf.pivot(index="actual", columns="predicted", values="texts").fillna(0)
            figs.append(go.Figure(go.Heatmap(z=grid.to_numpy(), x=list(grid.columns), y=list(grid.index),
                                             colorscale="Blues", text=grid.to_numpy().astype(int),
                                             texttemplate="%{text}"))
                        .update_layout(title="Held-out texts: actual (rows) against predicted", height=360))
        return figs


def sentiment(ws=None, source="content", *, text: str = "text", label: str | None = "label",
              time_column: str | None = None, group: str | None = None, method: str = "auto",
              test_size: float = 0.2, seed: int = 0, keep_documents: bool = False) -> SentimentResult:
    """Sentiment of every text in ``source`` (the ``content`` table, a file or a DataFrame).
    ``label``: the column of known labels (``label``, the default, is used where the source
    has it).

    ``method``: ``tfidf`` trains on the labelled texts (the label column's values are the
    classes); ``vader`` scores with the lexicon (weak: said in the result); ``auto`` trains
    where at least two classes have ``MIN_LABELLED`` labelled texts each, else VADER.
    """
    if method not in METHODS:
        raise BadParameter(f"unknown sentiment method {method!r}; use one of {', '.join(METHODS)}")
    if not 0.05 <= test_size <= 0.5:
        raise BadParameter(f"--test-size {test_size}: hold out between 0.05 and 0.5 of the labelled texts")
    frame = read_texts(ws, source, text=text, label=label, time=time_column, group=group,
                       optional=("label",) if label == "label" else ())
    labelled = frame[frame["label"].notna()] if "label" in frame else frame.iloc[:0].assign(label=None)
    counts = labelled["label"].value_counts()
    trainable = int((counts >= MIN_LABELLED).sum()) >= 2
    if method == "auto":
        method = "tfidf" if trainable else "vader"
    if method == "tfidf" and not trainable:
        raise BadParameter(f"training needs at least {MIN_LABELLED} labelled texts in each of two classes or more; "
                           f"the labels have {', '.join(f'{k}: {v}' for k, v in counts.items()) or 'none'}. "
                           "Without labels, use --method vader (a general lexicon; weak on a brand's own words)")
    started = time.perf_counter()
    findings: list[Finding] = []
    tables: dict[str, pd.DataFrame] = {}
    params: dict = {"method": method, "texts": len(frame), "labelled": len(labelled), "seed": seed}
    if method == "tfidf":
        labelled = labelled[labelled["label"].isin(counts.index[counts >= MIN_LABELLED])]
        model, quality, classes, confusion = _train_and_evaluate(labelled, test_size, seed)
        proba = model.predict_proba(frame["text"].to_numpy())
        names = [str(c) for c in model.classes_]
        predicted = np.asarray(names)[proba.argmax(axis=1)]
        tables.update(quality=quality, classes=classes, confusion=confusion)
        q = quality.iloc[0]
        findings.append(Finding(
            f"The model trained on {len(labelled) - int(q.test_texts):,} labelled texts reads {q.accuracy:.1%} of "
            f"{int(q.test_texts):,} held-out texts right (macro-F1 {q.macro_f1:.3f}); weakest class: "
            f"{classes.sort_values('f1').iloc[0]['class']} (F1 {classes.f1.min():.2f}).", metric="accuracy",
            value=float(q.accuracy), impact=0.5))
        params["classes"] = names
    else:
        compound = _lexicon.compound(frame["text"].tolist())
        predicted = _lexicon.classify(compound)
        names = list(_lexicon.CLASSES)
        proba = None
        findings.append(Finding(
            "Scored with the VADER lexicon, because there are no labels to learn from: a general English word list "
            "that misses a brand's own complaints (on airline tweets it reads half the texts right, where a model "
            "trained on 10,000 labels reads 83%). Label a few hundred texts and train (--method tfidf).",
            metric="method", impact=0.9))
        if len(labelled) and set(labelled["label"].unique()) <= set(names):
            quality, classes, confusion = _scores(labelled["label"].to_numpy(), predicted[labelled.index], names)
            tables.update(quality=quality.assign(method="vader"), classes=classes, confusion=confusion)
    params["seconds"] = round(time.perf_counter() - started, 3)
    negative = predicted == NEGATIVE
    docs = frame.assign(sentiment=predicted, negative=negative)
    if proba is not None:
        for i, c in enumerate(names):
            docs[f"p_{c}"] = proba[:, i]
    share = float(negative.mean())
    findings.append(Finding(f"{share:.1%} of {len(frame):,} texts read as negative.", metric="negative_share",
                            value=share, impact=0.4))
    if "group" in docs:
        tables["by_group"] = _by_group(docs)
        worst = tables["by_group"].iloc[0]
        findings.append(Finding(
            f"Most negative {group}: {worst.group} ({worst.negative_share:.0%} of {int(worst.texts):,} texts, "
            f"{worst.negative_low:.0%}-{worst.negative_high:.0%}).", metric="negative_share", segment=str(worst.group),
            value=float(worst.negative_share), interval=(float(worst.negative_low), float(worst.negative_high)),
            impact=0.6))
    if "ts" in docs:
        daily, shifts = _over_time(docs)
        tables["over_time"], tables["shifts"] = daily, shifts
        for s in shifts.itertuples():
            verb = "rose" if s.after > s.before else "fell"
            until = f" until {s.end:%Y-%m-%d}" if pd.notna(s.end) else ""
            findings.append(Finding(
                f"The negative share {verb} from {s.before:.0%} to {s.after:.0%} on {s.date:%Y-%m-%d}{until} "
                f"(expected {s.expected_low:.0%}-{s.expected_high:.0%} had nothing changed).",
                metric="negative_share", value=float(s.after), interval=(float(s.expected_low),
                                                                         float(s.expected_high)), impact=0.8))
    if keep_documents:  # first: what --output FILE.csv writes
        tables = {"documents": docs.drop(columns=["negative"]), **tables}
    return SentimentResult(tables=tables, findings=tuple(findings), params=params)


def _train_and_evaluate(labelled: pd.DataFrame, test_size: float, seed: int):
    """The model trained on a stratified split of the labelled texts, and its quality on the
    texts held out. The model that scores is the one evaluated (not refitted on every label),
    so the quality reported is the quality of the scores."""
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(labelled, test_size=test_size, stratify=labelled["label"], random_state=seed)
    model = fit_model(train["text"], train["label"].to_numpy(), seed)
    proba = model.predict_proba(test["text"].to_numpy())
    names = [str(c) for c in model.classes_]
    predicted = np.asarray(names)[proba.argmax(axis=1)]
    quality, classes, confusion = _scores(test["label"].to_numpy(), predicted, names)
    truth = (test["label"].to_numpy()[:, None] == np.asarray(names)[None, :]).astype(float)
    quality["ece"] = expected_calibration_error(proba.max(axis=1), predicted == test["label"].to_numpy())
    quality["brier"] = float(((proba - truth) ** 2).sum(axis=1).mean())
    quality["method"] = "tfidf"
    return model, quality, classes, confusion


def _scores(actual: np.ndarray, predicted: np.ndarray, names: list[str]):
    from sklearn.metrics import (
        accuracy_score,
        confusion_matrix,
        f1_score,
        precision_recall_fscore_support,
    )

    p, r, f, s = precision_recall_fscore_support(actual, predicted, labels=names, zero_division=0)
    classes = pd.DataFrame({"class": names, "precision": p, "recall": r, "f1": f, "support": s})
    m = confusion_matrix(actual, predicted, labels=names)
    confusion = pd.DataFrame([{"actual": a, "predicted": b, "texts": int(m[i, j])} for i, a in enumerate(names)
                              for j, b in enumerate(names)])
    quality = pd.DataFrame([{"accuracy": float(accuracy_score(actual, predicted)),
                             "macro_f1": float(f1_score(actual, predicted, labels=names, average="macro",
                                                        zero_division=0)),
                             "test_texts": len(actual)}])
    return quality, classes, confusion


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    """ECE (Guo et al. 2017): the gap between confidence and accuracy, averaged over equal-width bins."""
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.mean() * abs(confidence[mask].mean() - correct[mask].mean())
    return float(total)


def share_interval(k: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The Wilson 95% interval of the share k / n (statsmodels' ``proportion_confint``)."""
    from statsmodels.stats.proportion import proportion_confint

    low, high = proportion_confint(k, n, alpha=0.05, method="wilson")
    return np.asarray(low, float), np.asarray(high, float)


def _by_group(docs: pd.DataFrame) -> pd.DataFrame:
    g = docs.groupby("group", dropna=False).negative.agg(texts="size", negatives="sum").reset_index()
    g["negative_share"] = g.negatives / g.texts
    g["negative_low"], g["negative_high"] = share_interval(g.negatives.to_numpy(float), g.texts.to_numpy(float))
    return g.sort_values(["negative_share", "texts"], ascending=[False, False], ignore_index=True)


def _over_time(docs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The negative share per day, and its lasting change, if any (explore's level-shift test,
    with the noise of a share of that many texts a day)."""
    from mercator.explore._anomaly import level_shift

    day = docs["ts"].dt.floor("D")
    daily = docs.assign(date=day).groupby("date").negative.agg(texts="size", negatives="sum")
    daily = daily.asfreq("D", fill_value=0)
    daily["negative_share"] = np.where(daily.texts > 0, daily.negatives / daily.texts.clip(lower=1), np.nan)
    shifts = []
    series = daily["negative_share"].dropna()
    if len(series) >= 28:
        # a share of n texts a day has a relative noise of at least 1 / sqrt(n) (binomial, share <= 1/2)
        sh = level_shift(series, events_per_day=max(float(daily.texts.median()), 1.0))
        if sh is not None:
            shifts.append({"date": sh.date, "end": sh.end, "before": sh.before, "after": sh.after,
                           "expected_low": sh.expected_low, "expected_high": sh.expected_high, "t": sh.t, "p": sh.p})
    return daily.reset_index(), pd.DataFrame(shifts, columns=["date", "end", "before", "after", "expected_low",
                                                              "expected_high", "t", "p"])
