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


def context_hash(context: dict) -> str:
    """A short, stable digest of a context (what the decision log keeps instead of the context)."""
    return hashlib.sha256(json.dumps(context, sort_keys=True, default=str).encode()).hexdigest()[:16]
