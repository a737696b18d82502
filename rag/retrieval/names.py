"""Shared names: the rare proper names a candidate shares with other articles' leading
candidates, beyond the names the question itself uses.

A multi-hop question is written from several articles about one story, so its evidence chunks
tend to name the same people and companies, including ones the question leaves out (the bridge
it asks about: "Who is the individual ..."). A chunk that shares such a name with another
article's best candidate is likelier to be one of them than a chunk that only repeats the
question's words.

Inputs: each chunk's text, at index build (``ChunkNames.build``: its rare name words as ids
into a vocabulary, with their idf); at search, the question and the candidates' rows, articles
and fused scores (``ChunkNames.shared``).
Output: (candidates, LEADS): for each of the LEADS best articles, the idf summed over the rare
names the candidate shares with that article's best candidate (0 for its own article).

As three ranker features these find more evidence, also on articles no training question
cites; all rare words instead of names gave nothing (docs/retrieval-log.md, "Shared names").
"""

from __future__ import annotations

import math
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from rag.retrieval.params import LEADS, RARE
from rag.retrieval.words import ranges
from rag.text import TokenMemo, content_words, name_tokens, name_words

NAMES_FILE = "names.npz"


def _name_words(texts: list[str]) -> list[frozenset[str]]:
    return [frozenset(map(sys.intern, name_words(t))) for t in texts]  # kept between builds


class ChunkNames:
    """Every chunk's rare name words (chunks in index order, ``counts`` each) as ids into
    ``vocabulary``, with each one's idf over the chunks."""

    def __init__(self, vocabulary: list[str], idf: np.ndarray, ids: np.ndarray, counts: np.ndarray) -> None:
        self.vocabulary = vocabulary
        self.index = {w: i for i, w in enumerate(vocabulary)}
        self.idf = idf
        self.ids = ids
        self.counts = counts
        self._starts = np.cumsum(counts) - counts
        self.memo: TokenMemo[frozenset[str]] = TokenMemo()  # each chunk's name words, for the next build

    @classmethod
    def build(cls, texts: list[str], previous: ChunkNames | None = None) -> ChunkNames:
        """From each chunk's text (index order); ``previous`` (the index being replaced) lends
        the names of the texts it already read."""
        memo = previous.memo if previous is not None else TokenMemo()
        names, memo = memo.map(texts, _name_words)
        frequency = Counter(w for chunk in names for w in chunk)
        n = max(len(texts), 1)
        rare = sorted(w for w, f in frequency.items() if math.log(n / f) > RARE)
        index = {w: i for i, w in enumerate(rare)}
        kept = [sorted(index[w] for w in chunk if w in index) for chunk in names]
        built = cls(
            rare,
            np.array([math.log(n / frequency[w]) for w in rare], dtype=np.float32),
            np.array([i for chunk in kept for i in chunk], dtype=np.int32),
            np.array([len(chunk) for chunk in kept], dtype=np.int64),
        )
        built.memo = memo
        return built

    def save(self, folder: Path) -> None:
        np.savez(
            folder / NAMES_FILE,
            vocabulary=np.array(self.vocabulary, dtype=str),
            idf=self.idf,
            ids=self.ids,
            counts=self.counts,
        )

    @classmethod
    def load(cls, folder: Path) -> ChunkNames | None:
        if not (folder / NAMES_FILE).exists():
            return None
        with np.load(folder / NAMES_FILE) as saved:
            return cls(saved["vocabulary"].tolist(), saved["idf"], saved["ids"], saved["counts"])

    def shared(self, question: str, rows: np.ndarray, documents: list[str], fused: np.ndarray) -> np.ndarray:
        """(len(rows), LEADS): for the LEADS articles with the best fused candidates, the idf of
        the rare names each candidate (at ``rows`` of the index, in ``documents``) shares with
        that article's best candidate, the question's own words left out."""
        out = np.zeros((len(rows), LEADS))
        if not len(rows) or not self.vocabulary:
            return out
        weight = self.idf.copy()
        asked = name_tokens(question) | set(content_words(question))
        weight[[self.index[w] for w in asked if w in self.index]] = 0.0
        counts = self.counts[rows]
        owner = np.repeat(np.arange(len(rows)), counts)
        held = self.ids[ranges(self._starts[rows], counts)]
        leads: dict[str, int] = {}
        for i in np.argsort(-fused, kind="stable"):
            leads.setdefault(documents[i], int(i))
            if len(leads) == LEADS:
                break
        mark = np.zeros(len(self.vocabulary), dtype=bool)
        docs = np.array(documents, dtype=object)
        for k, (doc, lead) in enumerate(leads.items()):
            mark[:] = False
            mark[held[owner == lead]] = True
            out[:, k] = np.bincount(owner, weights=weight[held] * mark[held], minlength=len(rows))
            out[docs == doc, k] = 0.0
        return out


class NamesExtension:
    """Keeps a ``ChunkNames`` beside the lexical index (``rag.store.lexical.Extension``)."""

    name = "names"

    def build(self, sentences: list[list[str]], bodies: list[str], previous: object | None) -> ChunkNames:
        return ChunkNames.build(bodies, previous if isinstance(previous, ChunkNames) else None)

    def save(self, built: ChunkNames, folder: Path) -> None:
        built.save(folder)

    def load(self, folder: Path) -> ChunkNames | None:
        return ChunkNames.load(folder)
