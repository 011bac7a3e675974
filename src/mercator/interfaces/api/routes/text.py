"""What customers say: sentiment, keywords and topics of the content table (background jobs:
training a model or embedding thousands of texts takes seconds to minutes)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import Field

from mercator.interfaces.api.routes._common import Body, submit

router = APIRouter(prefix="/v1/text", tags=["text"])


class Sentiment(Body):
    method: str = Field("auto", description="auto, tfidf (train on the labels) or vader (a lexicon; weak).")
    group: str | None = Field(None, description="A column of the content table to compare (channel).")
    test_size: float = Field(0.2, ge=0.05, le=0.5)
    seed: int = Field(0, ge=0, le=2**31 - 1)


def sentiment_job(ws, p: dict, progress):
    from mercator.text import sentiment

    progress("training and scoring")
    return sentiment(ws, "content", time_column="ts", group=p["group"], method=p["method"],
                     test_size=p["test_size"], seed=p["seed"])


@router.post("/sentiment", status_code=202)
def sentiment(request: Request, body: Sentiment) -> Response:
    """Sentiment of the content table's texts, the model's held-out quality, the negative share
    over time and by group (`mercator text sentiment`); a job."""
    return submit(request, "text-sentiment", sentiment_job, body)


class Keywords(Body):
    group: str | None = Field(None, description="A column of the content table whose values are the groups.")
    top: int = Field(10, ge=1, le=100)
    method: str = Field("auto", description="auto, mmr (sentence embeddings) or yake.")
    diversity: float = Field(0.5, ge=0, le=1)


def keywords_job(ws, p: dict, progress):
    from mercator.text import keywords

    progress("ranking phrases")
    return keywords(ws, "content", group=p["group"], top=p["top"], method=p["method"], diversity=p["diversity"])


@router.post("/keywords", status_code=202)
def keywords(request: Request, body: Keywords) -> Response:
    """The keywords of each group of texts (`mercator text keywords`); a job."""
    return submit(request, "text-keywords", keywords_job, body)


class Topics(Body):
    k: int | None = Field(None, ge=2, le=50)
    method: str = Field("auto", description="auto, embedding or nmf.")
    seed: int = Field(0, ge=0, le=2**31 - 1)


def topics_job(ws, p: dict, progress):
    from mercator.text import topics

    progress("embedding and clustering")
    return topics(ws, "content", label="label", time_column="ts", k=p["k"], method=p["method"], seed=p["seed"])


@router.post("/topics", status_code=202)
def topics(request: Request, body: Topics) -> Response:
    """Topics of the texts with each one's negative share and the day it changed
    (`mercator text topics`); a job."""
    return submit(request, "text-topics", topics_job, body)
