"""Retrieval: question analysis, the candidate pool, ranking features, the learned ranker and the
word and name signals; ``Retriever.search`` is the entry point.

A new ranking signal: compute it per candidate in ``pool.py`` (an index it needs goes in a
``rag.store.lexical.Extension`` like ``words.py``/``names.py``), add its columns in
``features.py``, then refit ``ranker.json`` (benchmarks/train_ranker.py).
"""

from __future__ import annotations

from rag.retrieval.names import NamesExtension
from rag.retrieval.query import QueryPlan
from rag.retrieval.retriever import Retriever, select
from rag.retrieval.words import WordsExtension

# The per-chunk indexes retrieval keeps beside the store's lexical index.
INDEX_EXTENSIONS = (WordsExtension(), NamesExtension())

__all__ = ["INDEX_EXTENSIONS", "QueryPlan", "Retriever", "select"]
