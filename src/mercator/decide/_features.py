"""Contexts as vectors for the linear policies: the hashing trick (as Vowpal Wabbit does).

Each ``key=value`` pair of a context (a string value), or ``key`` scaled by a number, lands in
one of ``dim`` buckets by MurmurHash3 (scikit-learn's, stable across processes and machines),
with a sign from a second hash bit so collisions cancel on average; bucket 0 is a constant
bias. The same context always gives the same vector, and nothing about the keys is stored.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
from sklearn.utils import murmurhash3_32

DIM = 64


def hashed(context: dict, dim: int = DIM) -> np.ndarray:
    """The context's vector (length ``dim``)."""
    x = np.zeros(dim)
    x[0] = 1.0
    for key, value in context.items():
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            token, weight = f"{key}={value}", 1.0
        else:
            token, weight = str(key), float(value)
        h = murmurhash3_32(token, seed=0, positive=True)
        x[1 + h % (dim - 1)] += weight if (h >> 31) & 1 == 0 else -weight
    return x


def json_text(context: dict) -> str:
    """A context as compact JSON with sorted keys (what the decision log keeps)."""
    try:
        import orjson

        return orjson.dumps(context, option=orjson.OPT_SORT_KEYS).decode()
    except ImportError:  # pragma: no cover - orjson comes with mercator
        return json.dumps(context, sort_keys=True, separators=(",", ":"))


def context_hash(context: dict | str) -> str:
    """A short, stable digest of a context (or of its :func:`json_text`)."""
    text = context if isinstance(context, str) else json_text(context)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
