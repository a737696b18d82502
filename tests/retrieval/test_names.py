"""Shared names: a candidate naming the same rare people or companies as another article's best
candidate stands out; names everyone uses, or the question itself uses, count for nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag.retrieval.names import LEADS, ChunkNames, name_words

# Rare names need a corpus: a name counts when under 1 chunk in 20 holds it.
FILLER = [f"Markets moved on day {i}. The Reuters desk wrote it up." for i in range(80)]
CHUNKS = [
    "Caroline Ellison testified that Alameda took customer money.",  # 0: article x, the lead
    "The jury heard that Ellison kept seven balance sheets.",  # 1: article y, shares "ellison"
    "The jury heard about balance sheets at another firm.",  # 2: article y, shares nothing
    "Ellison and Alameda again, in a second chunk of article x.",  # 3: article x, its own lead's
    *FILLER,
]


@pytest.fixture(scope="module")
def index() -> ChunkNames:
    return ChunkNames.build(CHUNKS)


def shared(index: ChunkNames, question: str) -> np.ndarray:
    rows = np.array([0, 1, 2, 3])
    return index.shared(question, rows, ["x", "y", "y", "x"], np.array([0.9, 0.5, 0.4, 0.3]))


def test_names_are_capitalised_words_without_function_words_or_months() -> None:
    assert name_words("In October The Verge said Sam Bankman-Fried met Mr Wang.") == {
        "verge",
        "sam",
        "bankman-fried",
        "wang",
    }


def test_a_rare_name_shared_with_another_articles_lead_counts(index: ChunkNames) -> None:
    scores = shared(index, "What did the jury hear about the balance sheets?")
    assert scores.shape == (4, LEADS)
    assert scores[1, 0] > 0  # y's chunk names Ellison, as x's best candidate does
    assert scores[2, 0] == 0  # y's other chunk names no one
    assert scores[3, 0] == 0  # x's own chunks are not compared with x's lead
    assert scores[0, 1] == pytest.approx(scores[1, 0])  # x's lead shares the same name with y's
    assert not scores[:, 2:].any()  # two articles: no further leads


def test_names_the_question_uses_and_common_names_count_for_nothing(index: ChunkNames) -> None:
    assert shared(index, "What did Ellison tell the jury?")[1, 0] == 0
    assert "reuters" not in index.index  # in every filler chunk: too common to tell anything


def test_saved_and_loaded_it_scores_the_same(index: ChunkNames, tmp_path: Path) -> None:
    index.save(tmp_path)
    loaded = ChunkNames.load(tmp_path)
    assert loaded is not None
    question = "What did the jury hear?"
    assert np.array_equal(shared(loaded, question), shared(index, question))
    assert ChunkNames.load(tmp_path / "missing") is None


def test_no_candidates_or_no_names_score_nothing(index: ChunkNames) -> None:
    assert index.shared("q", np.zeros(0, dtype=np.int64), [], np.zeros(0)).shape == (0, LEADS)
    empty = ChunkNames.build(["plain words only"])
    assert not empty.shared("q", np.array([0]), ["x"], np.array([1.0])).any()


def test_a_rebuild_reading_the_last_builds_names_equals_one_from_nothing(index: ChunkNames) -> None:
    changed = CHUNKS[1:] + ["Sam Bankman-Fried and Caroline Ellison met in Hong Kong."]
    reused, fresh = ChunkNames.build(changed, previous=index), ChunkNames.build(changed)
    assert reused.vocabulary == fresh.vocabulary and "bankman-fried" in reused.index
    for name in ("idf", "ids", "counts"):
        assert np.array_equal(getattr(reused, name), getattr(fresh, name)), name
    assert len(reused.memo) == len(set(changed))  # each distinct text once, this build's only
