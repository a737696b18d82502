"""Static word vectors: WordLlama's 256-d token embeddings (``wordllama`` on PyPI, weights inside
the package, loaded with downloads disabled; ~9,000 words/s here).

Used where two texts should match word by word even when they use different words for one
thing ("automaker" and "carmaker"): the retrieval ranker's soft word match and the claim
checker's alignment.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

DIMENSIONS = 256


@lru_cache(maxsize=1)
def _model() -> Any:
    import wordllama  # ~0.3 s to import and load: only where a search or an index build needs it

    return wordllama.WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)


def word_vectors(words: list[str]) -> np.ndarray:
    """(len(words), 256) unit-length float32 vectors."""
    if not words:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)
    return np.asarray(_model().embed(words, norm=True), dtype=np.float32)
