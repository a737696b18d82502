"""The one text toolkit: a question's tokens are the index's tokens, sentences are exact spans."""

from __future__ import annotations

import bm25s
import Stemmer

from rag.text import (
    content_words,
    keyword_tokens,
    numbers,
    plain_words,
    sentence_spans,
    split_sentences,
    topic_words,
)

SAMPLES = [
    "The Federal Reserve's chair said rates would stay high, according to Reuters.",
    "Sam Bankman-Fried was found guilty on all 7 counts in New York on Nov. 2, 2023!",
    "Ünïcode names like Zürich and São Paulo; and the 2,000 jobs it cut.",
]


def test_question_tokens_are_exactly_the_tokens_bm25s_indexes() -> None:
    """Keyword search only finds what the index holds: the same pattern, stop-words and stems."""
    stemmer = Stemmer.Stemmer("english")
    for text in SAMPLES:
        ids, vocab = bm25s.tokenize(
            [text], stopwords="en", stemmer=stemmer, show_progress=False, return_ids=True
        )
        inverse = {i: w for w, i in vocab.items()}
        assert keyword_tokens(text) == [inverse[i] for i in ids[0]]


def test_content_words_drop_stop_words_and_keep_order() -> None:
    assert content_words("The bank raised the rates") == ["bank", "raised", "rates"]


def test_numbers_are_normalised() -> None:
    assert numbers("It cut 2,000 jobs, 3.5% of 57.") == {"2000", "3.5", "57"}


def test_sentences_are_exact_spans_and_lines_always_end_one() -> None:
    text = "Title line\nFirst sentence here. Second one follows!\n\n  Indented third."
    spans = sentence_spans(text, offset=100)
    pieces = [text[a - 100 : b - 100] for a, b in spans]
    assert pieces == ["Title line", "First sentence here.", "Second one follows!", "Indented third."]


def test_topic_words_keep_case_and_drop_function_words() -> None:
    assert topic_words("and what about Starlink in 2023?") == ["Starlink", "2023"]


def test_plain_words_split_hyphens_and_accents() -> None:
    assert plain_words("Bankman-Fried, São Paulo") == ["bankman", "fried", "s", "o", "paulo"]


def test_sentences_joined_without_a_space_are_split() -> None:
    """Scraped pages join paragraphs ("damage.Italy"): read as one sentence, they were too
    long for an answer to quote."""
    text = 'No injuries were reported.Italy is prone to quakes. He said "yes."Then he left. '
    text += 'The U.S. Army said. It was "fairly shallow".Italy is prone to quakes. '
    text += "Sales fell in the UK.The shop shut in 2018.Staff left at 5%.Then it sold."
    assert split_sentences(text) == [
        "No injuries were reported.",
        "Italy is prone to quakes.",
        'He said "yes."',
        "Then he left.",
        "The U.S. Army said.",
        'It was "fairly shallow".',
        "Italy is prone to quakes.",
        "Sales fell in the UK.",
        "The shop shut in 2018.",
        "Staff left at 5%.",
        "Then it sold.",
    ]
    for whole in (
        "Visit www.Forbes.com for details.",
        "The U.S.Army said so.",
        "He climbed Mt.Everest in May.",
        "He lives at No.Ten now.",
        "Visit BBC.co.uk now.",
        "Shares of Amazon.Com Inc rose.",
        "Ask Mrs.Smith now.",
    ):
        assert split_sentences(whole) == [whole]
