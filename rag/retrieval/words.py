"""Soft word matching: how closely a candidate's best sentence matches a clause word by word,
where words count as matching when their static vectors are close ("automaker" meets
"carmaker", which BM25 scores as two different words).

Inputs: each chunk's sentences, at index build (``SentenceWords.build``: every sentence's
content words as ids into a vocabulary, with the vocabulary's vectors and idf); at search, each
clause's content words and the candidates' rows (``SentenceWords.match``).
Output: (candidates, clauses) scores in 0..1: for the candidate's best sentence, the
idf-weighted mean over the clause's words of each one's highest cosine with a word of it.

The vectors are WordLlama's (``rag.wordvectors``). As four ranker features these scores find
more evidence on articles no training question cites (docs/retrieval-log.md, "Soft word match").
"""

from __future__ import annotations

import math
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from rag.text import TokenMemo, content_words
from rag.wordvectors import word_vectors

VECTORS_FILE = "words.npz"
VOCABULARY_FILE = "words.txt"


def _content_words(texts: list[str]) -> list[tuple[str, ...]]:
    # Kept between builds: tuples of one shared string per word take a third of the memory.
    return [tuple(map(sys.intern, content_words(t))) for t in texts]


def ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The concatenation of ``arange(start, start + length)`` for each pair."""
    ends = np.cumsum(lengths)
    return np.arange(ends[-1] if len(ends) else 0) - np.repeat(ends - lengths - starts, lengths)


class SentenceWords:
    """Every chunk's sentences as content-word ids (chunks in index order, ``sentence_counts``
    sentences each, ``word_counts`` words each), and the vocabulary's vectors and idf."""

    def __init__(
        self,
        vocabulary: list[str],
        vectors: np.ndarray,
        idf: np.ndarray,
        words: np.ndarray,
        word_counts: np.ndarray,
        sentence_counts: np.ndarray,
    ) -> None:
        self.vocabulary = vocabulary
        self.index = {w: i for i, w in enumerate(vocabulary)}
        # Stored as float16 (half the disk), held as float32: converting a search's rows from
        # float16 was a sizeable share of a match (docs/retrieval-log.md).
        self.vectors = np.asarray(vectors, dtype=np.float32)
        self.idf = idf
        self.words = words
        self.word_counts = word_counts
        self.sentence_counts = sentence_counts
        self._word_starts = np.cumsum(word_counts) - word_counts
        self._sentence_starts = np.cumsum(sentence_counts) - sentence_counts
        self.unknown_idf = math.log(1 + len(sentence_counts))  # a word no chunk holds
        self.memo: TokenMemo[tuple[str, ...]] = TokenMemo()  # each sentence's words, for the next build

    @classmethod
    def build(
        cls, sentences_per_chunk: list[list[str]], previous: SentenceWords | None = None
    ) -> SentenceWords:
        """From each chunk's sentences; words ``previous`` (the index being replaced) holds keep
        their vectors, so an ingest embeds only the words it brings."""
        memo = previous.memo if previous is not None else TokenMemo()
        flat, memo = memo.map([s for chunk in sentences_per_chunk for s in chunk], _content_words)
        bounds = np.cumsum([0] + [len(chunk) for chunk in sentences_per_chunk]).tolist()
        tokens = [flat[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        chunk_frequency = Counter(w for chunk in tokens for w in {w for s in chunk for w in s})
        vocabulary = sorted(chunk_frequency)
        index = {w: i for i, w in enumerate(vocabulary)}
        n = len(tokens)
        idf = np.array([math.log(1 + n / chunk_frequency[w]) for w in vocabulary], dtype=np.float32)
        # Each word once per sentence: a sentence's match takes the max over its words.
        once = [[list(dict.fromkeys(s)) for s in chunk] for chunk in tokens]
        words = np.array([index[w] for chunk in once for s in chunk for w in s], dtype=np.int32)
        word_counts = np.array([len(s) for chunk in once for s in chunk], dtype=np.int32)
        sentence_counts = np.array([len(chunk) for chunk in once], dtype=np.int64)
        vectors = np.empty((len(vocabulary), 256), dtype=np.float32)
        known = previous.index if previous is not None else {}
        kept = [i for i, w in enumerate(vocabulary) if w in known]
        if previous is not None and kept:
            vectors[kept] = previous.vectors[[known[vocabulary[i]] for i in kept]]
        fresh = [i for i, w in enumerate(vocabulary) if w not in known]
        vectors[fresh] = word_vectors([vocabulary[i] for i in fresh]).astype(np.float16)  # as stored
        built = cls(vocabulary, vectors, idf, words, word_counts, sentence_counts)
        built.memo = memo
        return built

    def save(self, folder: Path) -> None:
        (folder / VOCABULARY_FILE).write_text("\n".join(self.vocabulary), encoding="utf-8")
        np.savez(
            folder / VECTORS_FILE,
            vectors=self.vectors.astype(np.float16),  # scores move ~1e-3
            idf=self.idf,
            words=self.words,
            word_counts=self.word_counts,
            sentence_counts=self.sentence_counts,
        )

    @classmethod
    def load(cls, folder: Path) -> SentenceWords | None:
        if not (folder / VECTORS_FILE).exists():
            return None
        text = (folder / VOCABULARY_FILE).read_text(encoding="utf-8")
        with np.load(folder / VECTORS_FILE) as saved:
            return cls(
                text.split("\n") if text else [],
                saved["vectors"],
                saved["idf"],
                saved["words"],
                saved["word_counts"],
                saved["sentence_counts"],
            )

    def _vectors_of(self, words: list[str]) -> np.ndarray:
        """(len(words), 256): the vocabulary's vector for a word the index holds (most of a
        question's), WordLlama only for the rest (its tokenizer alone was a noticeable share of a search)."""
        known = [self.index.get(w, -1) for w in words]
        out = self.vectors[np.maximum(known, 0)]  # match() only asks with a non-empty vocabulary
        new = [i for i, k in enumerate(known) if k < 0]
        if new:
            out[new] = word_vectors([words[i] for i in new])
        return out

    def match(self, clause_words: list[list[str]], rows: np.ndarray) -> np.ndarray:
        """(len(rows), clauses): each chunk's (at ``rows``) best sentence's soft match with each
        clause (its content words); 0 for a chunk without a sentence or a clause without words."""
        out = np.zeros((len(rows), len(clause_words)))
        asked = list(dict.fromkeys(w for words in clause_words for w in words))  # each word once
        if not len(rows) or not asked:
            return out
        sentence_counts = self.sentence_counts[rows]
        sentences = ranges(self._sentence_starts[rows], sentence_counts)
        word_counts = self.word_counts[sentences]
        occurrences = self.words[ranges(self._word_starts[sentences], word_counts)]
        if not len(occurrences):
            return out
        # Each clause's words weighted by idf, the weights of a clause summing to 1.
        weights = np.zeros((len(asked), len(clause_words)), dtype=np.float32)
        row = {w: i for i, w in enumerate(asked)}
        for j, words in enumerate(clause_words):
            idf = np.array([self.idf[self.index[w]] if w in self.index else self.unknown_idf for w in words])
            for w, share in zip(words, idf / idf.sum() if len(words) else [], strict=True):
                weights[row[w], j] += share
        # Only the distinct words are compared (~3.5k of ~12k occurrences for 150 candidates),
        # found by marking the vocabulary rather than sorting the occurrences.
        seen = np.zeros(len(self.vocabulary), dtype=bool)
        seen[occurrences] = True
        distinct = np.flatnonzero(seen)
        slot = np.empty(len(self.vocabulary), dtype=np.int32)
        slot[distinct] = np.arange(len(distinct), dtype=np.int32)
        where = slot[occurrences]
        worded = word_counts > 0
        firsts = (np.cumsum(word_counts) - word_counts)[worded]
        closest = np.zeros((len(sentences), len(asked)), dtype=np.float32)
        similarity = self.vectors[distinct] @ self._vectors_of(asked).T
        closest[worded] = np.maximum.reduceat(similarity.take(where, axis=0), firsts)
        per_sentence = np.clip(closest, 0.0, 1.0) @ weights
        some = sentence_counts > 0
        out[some] = np.maximum.reduceat(per_sentence, (np.cumsum(sentence_counts) - sentence_counts)[some])
        return out


class WordsExtension:
    """Keeps a ``SentenceWords`` beside the lexical index (``rag.store.lexical.Extension``)."""

    name = "words"

    def build(self, sentences: list[list[str]], bodies: list[str], previous: object | None) -> SentenceWords:
        return SentenceWords.build(sentences, previous if isinstance(previous, SentenceWords) else None)

    def save(self, built: SentenceWords, folder: Path) -> None:
        built.save(folder)

    def load(self, folder: Path) -> SentenceWords | None:
        return SentenceWords.load(folder)
