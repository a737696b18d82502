"""Passage spans: a chunk grown by whole sentences, in turn on each side, within the budget."""

from __future__ import annotations

from rag.store.spans import passage_spans


def words(text: str) -> int:
    return len(text.split())


# Ten sentences of five words each, one space apart.
SENTENCES = [f"Sentence {n} says five words." for n in range(10)]
TEXT = " ".join(SENTENCES)
OFFSETS = [TEXT.index(s) for s in SENTENCES]


def span(first: int, last: int) -> tuple[int, int]:
    """Offsets of sentences ``first`` to ``last`` inclusive."""
    return OFFSETS[first], OFFSETS[last] + len(SENTENCES[last])


def test_a_chunk_grows_a_sentence_at_a_time_on_each_side_up_to_the_budget() -> None:
    (grown,) = passage_spans(TEXT, [span(4, 5)], budget=20, count=words)
    assert grown == span(3, 6)  # two sentences added: one before, one after
    (grown,) = passage_spans(TEXT, [span(4, 5)], budget=24, count=words)
    assert grown == span(3, 6)  # a fifth sentence would pass 24 words: none is cut
    (grown,) = passage_spans(TEXT, [span(4, 5)], budget=25, count=words)
    assert grown == span(2, 6)  # the side whose turn it is goes first: before, then after


def test_a_chunk_at_an_edge_of_its_article_grows_the_other_way() -> None:
    (grown,) = passage_spans(TEXT, [span(0, 1)], budget=25, count=words)
    assert grown == span(0, 4)
    (grown,) = passage_spans(TEXT, [span(8, 9)], budget=25, count=words)
    assert grown == span(5, 9)


def test_a_chunk_already_at_the_budget_is_its_own_passage() -> None:
    assert passage_spans(TEXT, [span(2, 5), span(0, 9)], budget=20, count=words) == [span(2, 5), span(0, 9)]


def test_a_chunk_cut_inside_sentences_gets_them_whole_first() -> None:
    a, b = span(4, 5)
    cut = (a + 9, b - 7)  # "4 says five words. Sentence 5 says five": 8 words
    assert passage_spans(TEXT, [cut], budget=10, count=words) == [(a, b)]
    assert passage_spans(TEXT, [cut], budget=9, count=words) == [(a, b - 7)]  # the end would make 10
    assert passage_spans(TEXT, [cut], budget=8, count=words) == [cut]


def test_every_passage_holds_its_chunk_within_the_budget() -> None:
    chunks = [span(i, min(i + 2, 9)) for i in range(0, 10, 2)]
    for (a, b), (lo, hi) in zip(chunks, passage_spans(TEXT, chunks, budget=23, count=words), strict=True):
        assert lo <= a and hi >= b and words(TEXT[lo:hi]) <= 23
