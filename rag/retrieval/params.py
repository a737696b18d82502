"""Every constant the learned ranker's inputs depend on, in one place.

The ranker (``ranker.json``) was fitted on features computed with these values and with the
index settings below; ``benchmarks/train_ranker.py`` records them in the file, and
``Ranker.load`` refuses a model fitted with other values, naming the one that differs, rather
than silently scoring inputs unlike those it learned from. Why each value was chosen is in
docs/retrieval-log.md.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from rag.config import Settings

RRF_K = 60  # reciprocal-rank fusion constant (Cormack et al., 2009): damps the very top ranks
CANDIDATES = 50  # candidates each keyword list contributes (at least 4 x the passages asked)
CLAUSE_DEPTH = 20  # how deep each clause's own keyword search is read for the ranker
SENTENCE_DEPTH = 20  # each clause's best chunks by their best sentence join the candidates
CLAUSE_TOP = 5  # "ranked in a clause's top CLAUSE_TOP" counts as a feature
CLAUSE_MIN_WORDS = 3  # content words a question part needs to be matched on its own
LEADS = 6  # leading articles whose best candidate shares rare names (rag.retrieval.names)
RARE = 3.0  # idf above which a capitalised word counts as a rare name
LEADERS = 3  # passages per named outlet guaranteed a slot in the results
MAX_PER_ARTICLE = 5  # passages of one article at most
DATE_SLACK = timedelta(days=1)  # a day named in a question may be off by one either way

# name in ranker.json -> (value here, what to change to match: a constant or a setting)
_CONSTANTS = {
    "rrf_k": (RRF_K, "RRF_K"),
    "candidates": (CANDIDATES, "CANDIDATES"),
    "clause_depth": (CLAUSE_DEPTH, "CLAUSE_DEPTH"),
    "sentence_depth": (SENTENCE_DEPTH, "SENTENCE_DEPTH"),
    "clause_top": (CLAUSE_TOP, "CLAUSE_TOP"),
    "clause_min_words": (CLAUSE_MIN_WORDS, "CLAUSE_MIN_WORDS"),
    "leads": (LEADS, "LEADS"),
    "rare": (RARE, "RARE"),
    "leaders": (LEADERS, "LEADERS"),
    "max_per_article": (MAX_PER_ARTICLE, "MAX_PER_ARTICLE"),
    "date_slack_days": (DATE_SLACK.days, "DATE_SLACK"),
}


def current(settings: Settings, embeddings: bool) -> dict[str, Any]:
    """The values a ranker fitted now would record (``embed_model`` only with the embedding
    features: the keywords-only model never reads a vector)."""
    values: dict[str, Any] = {name: value for name, (value, _) in _CONSTANTS.items()}
    values |= {"chunk_size": settings.chunk_size, "chunk_overlap": settings.chunk_overlap}
    if embeddings:
        values["embed_model"] = settings.embed_model
    return values


def mismatch(recorded: dict[str, Any], settings: Settings, embeddings: bool) -> str | None:
    """Why a ranker fitted with ``recorded`` cannot score this engine's features (None if it can)."""
    now = current(settings, embeddings)
    for name, value in now.items():
        if name not in recorded or recorded[name] == value:
            continue
        fitted = recorded[name]
        if name in _CONSTANTS:
            where = f"rag/retrieval/params.py {_CONSTANTS[name][1]} is {value!r}"
        else:
            where = f"RAG_{name.upper()} is {value!r}"
        return (
            f"The retrieval ranker was fitted with {name} = {fitted!r}, but {where}. Set it back, or "
            "refit the ranker for this setting with benchmarks/train_ranker.py --write."
        )
    return None
