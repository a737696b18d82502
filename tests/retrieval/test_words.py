"""Soft word matching: a sentence that says what a clause asks in other words still matches it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag.retrieval.words import SentenceWords
from rag.text import content_words

CHUNKS = [
    ["The carmaker slashed prices on its electric vehicles.", "Shares rose."],
    ["The bakery sold bread on Sunday morning."],
    [],  # a chunk of whitespace only
    ["Regulators fined the automaker over emissions.", "The bakery was closed."],
]


@pytest.fixture(scope="module")
def index() -> SentenceWords:
    return SentenceWords.build(CHUNKS)


def clause(text: str) -> list[str]:
    return content_words(text)


def test_a_paraphrase_beats_an_unrelated_sentence(index: SentenceWords) -> None:
    scores = index.match([clause("automaker cut prices of its EVs")], np.arange(4))[:, 0]
    assert scores[0] > scores[1] + 0.2  # the carmaker's price cut, not the bakery
    assert scores[2] == 0.0  # no sentence, no match
    assert scores[0] > scores[3]  # the other automaker sentence is about fines, not prices


def test_each_clause_is_scored_on_its_best_sentence(index: SentenceWords) -> None:
    scores = index.match([clause("carmaker slashed prices"), clause("bakery closed")], np.array([3, 0]))
    assert scores.shape == (2, 2)
    assert scores[1, 0] == pytest.approx(1.0, abs=1e-2)  # every word of it is in chunk 0
    assert scores[0, 1] == pytest.approx(1.0, abs=1e-2)  # chunk 3's second sentence
    assert scores[0, 1] > scores[1, 1]


def test_a_clause_without_words_or_no_candidates_scores_nothing(index: SentenceWords) -> None:
    assert index.match([[], clause("bread")], np.arange(4))[:, 0].tolist() == [0.0] * 4
    assert index.match([clause("bread")], np.zeros(0, dtype=np.int64)).shape == (0, 1)


def test_saved_and_loaded_it_scores_the_same(index: SentenceWords, tmp_path: Path) -> None:
    index.save(tmp_path)
    loaded = SentenceWords.load(tmp_path)
    assert loaded is not None
    asked = [clause("automaker fined over emissions")]
    assert loaded.match(asked, np.arange(4)).tolist() == index.match(asked, np.arange(4)).tolist()
    assert SentenceWords.load(tmp_path / "missing") is None


def test_a_rebuild_reuses_the_vectors_and_words_it_already_had(index: SentenceWords) -> None:
    """A chunk removed and one added: the build lent the last one's word vectors and each
    sentence's words holds what a build from nothing holds."""
    changed = CHUNKS[1:] + [["The carmaker opened a factory in Ohio."]]
    reused = SentenceWords.build(changed, previous=index)
    fresh = SentenceWords.build(changed)
    assert reused.vocabulary == fresh.vocabulary and "ohio" in reused.index
    np.testing.assert_allclose(reused.vectors, fresh.vectors, atol=1e-3)
    for name in ("idf", "words", "word_counts", "sentence_counts"):
        assert np.array_equal(getattr(reused, name), getattr(fresh, name)), name
    assert len(reused.memo) == len(fresh.memo) == 4  # the sentences of this build only
