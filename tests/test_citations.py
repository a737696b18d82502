"""The citation checker on the seed article: markers, renumbering, quotes, support verdicts."""

from __future__ import annotations

import pytest

from rag.citations import CitationChecker, marker_numbers, quoted_answer
from rag.documents import load_bytes
from rag.embeddings import OnnxEmbedding
from rag.engine import Engine
from rag.judge import Verifier
from rag.models import Answer, Article, Passage, explain
from rag.verification import ClaimChecker
from tests.conftest import SEED


@pytest.fixture(scope="module")
def articles() -> dict[str, Article]:
    """The seed file's articles as loading makes them (no index needed to check citations)."""
    return {a.id: a for a in load_bytes(SEED, SEED.read_bytes(), origin=SEED.name)}


def window(articles: dict[str, Article], phrase: str) -> Passage:
    """A passage covering the article sentence holding ``phrase`` plus the sentence after it."""
    for article in articles.values():
        info = article
        at = article.text.find(phrase)
        if at < 0:
            continue
        start = article.text.rfind("\n", 0, at) + 1
        end = article.text.find("\n", article.text.find("\n", at) + 1)
        end = len(article.text) if end < 0 else end
        return Passage(
            id=f"{info.id}:w",
            document_id=info.id,
            text=article.text[start:end],
            start=start,
            end=end,
            score=1.0,
            title=info.title,
            source=info.source,
            published_at=info.published_at,
        )
    raise AssertionError(f"{phrase!r} not in the corpus")


@pytest.fixture
def shown(articles: dict[str, Article]) -> list[Passage]:
    return [
        window(articles, "China is providing Russia with geospatial"),
        window(articles, "Moldova and its separatist"),
        window(articles, "China's assistance also includes"),
    ]


@pytest.fixture
def checker(embed: OnnxEmbedding) -> CitationChecker:
    return CitationChecker(Verifier(ClaimChecker(embed)))


def check(checker: CitationChecker, text: str, shown: list[Passage], **kw: bool) -> Answer:
    return checker.verify(text, shown, question="What is China providing Russia?", **kw)


def assert_exact(articles: dict[str, Article], answer: Answer) -> None:
    for c in answer.citations:
        assert articles[c.document_id].text[c.start : c.end] == c.quote


def test_supported_sentences_get_sentence_quotes_and_renumbered_ids(
    articles: dict[str, Article], checker: CitationChecker, shown: list[Passage]
) -> None:
    text = (
        "China also supplies microelectronics and machine tools for tank production [3]. "
        "It gives Russia geospatial satellite imagery for military use [1]."
    )
    answer = check(checker, text, shown)
    assert [s.supported for s in answer.sentences] == [True, True]
    # Numbers follow first use: the model's [3] becomes [1], its [1] becomes [2].
    assert [c.id for c in answer.citations] == [1, 2]
    assert answer.answer == (
        "China also supplies microelectronics and machine tools for tank production [1]. "
        "It gives Russia geospatial satellite imagery for military use [2]."
    )
    assert_exact(articles, answer)
    tank, imagery = answer.citations
    assert tank.quote.startswith("China's assistance also includes")
    assert "geospatial satellite imagery" in imagery.quote
    # A sentence, not the whole passage window.
    assert len(tank.quote) < len(shown[2].text) and len(imagery.quote) < len(shown[0].text)
    assert answer.removed_citations == []


def test_citation_to_a_passage_never_shown_is_removed_and_reported(
    checker: CitationChecker, shown: list[Passage]
) -> None:
    answer = check(checker, "China provides Russia with satellite imagery [9].", shown)
    assert answer.removed_citations == [9]
    assert "[9]" not in answer.answer
    (sentence,) = answer.sentences
    assert sentence.citations == [] and sentence.supported is False  # now an uncited claim


def test_a_fact_no_passage_holds_is_unsupported(checker: CitationChecker, shown: list[Passage]) -> None:
    text = (
        "China supplies microelectronics for tank production [1]. "  # true, but not what [1] says
        "China is providing Russia with geospatial satellite imagery for military use [1]. "
        "China has also delivered 300 fighter jets to Russia [1]. "
        "The Eiffel Tower was repainted in gold last spring [2]."
    )
    answer = check(checker, text, shown)
    assert [s.supported for s in answer.sentences] == [False, True, False, False]
    dropped = check(checker, text, shown, drop_unsupported=True)
    assert [s.supported for s in dropped.sentences] == [True]
    assert "fighter jets" not in dropped.answer and "Eiffel" not in dropped.answer
    assert "tank" not in dropped.answer
    assert [c.id for c in dropped.citations] == [1]


def test_a_dropped_sentence_goes_wherever_the_markers_sit(
    checker: CitationChecker, shown: list[Passage]
) -> None:
    text = (
        "China is providing Russia with geospatial satellite imagery for military use. [1] "
        "Russia has sent 40 warships to Cuba since May. [1]"
    )
    dropped = check(checker, text, shown, drop_unsupported=True)
    assert [s.supported for s in dropped.sentences] == [True]
    assert "warships" not in dropped.answer and dropped.answer.endswith("military use. [1]")


def test_marker_placement_variants_attach_to_the_right_sentence(
    checker: CitationChecker, shown: list[Passage]
) -> None:
    text = (
        "China is providing Russia with geospatial satellite imagery. [1] "
        "Moldova and Transdniestria inched towards a deal on gas [2, 3]."
    )
    answer = check(checker, text, shown)
    first, second = answer.sentences
    assert len(first.citations) == 1 and first.supported
    assert len(second.citations) == 2 and second.supported
    grouped = check(checker, "China supplies microelectronics for tank production [3], [1] and [3].", shown)
    assert grouped.answer == "China supplies microelectronics for tank production [1][2]."
    assert marker_numbers("1-3") == [1, 2, 3] and marker_numbers("2 and 4") == [2, 4]


def test_uncited_factual_sentence_is_flagged_but_connectives_and_refusals_are_not(
    checker: CitationChecker, shown: list[Passage]
) -> None:
    answer = check(checker, "In short: China sends satellite imagery to the Russian army.", shown)
    assert [s.supported for s in answer.sentences] == [False]
    refusal = check(checker, "The corpus has insufficient information to answer this question.", shown)
    assert refusal.refused and refusal.sentences[0].supported and not refusal.citations


def test_a_claim_next_to_refusal_words_is_still_checked(
    checker: CitationChecker, shown: list[Passage]
) -> None:
    """ "Did not say" is everyday news language: only a sentence about the passages, with nothing
    else in it, is a refusal that goes unchecked."""
    invented = "The report did not say how, but China has sent Russia 300 fighter jets and 40 warships [1]."
    answer = check(checker, invented, shown)
    assert not answer.refused and answer.sentences[0].verdict != "supported"
    smuggled = check(
        checker, "The passages do not say how, but China sent Russia 300 fighter jets [1].", shown
    )
    assert not smuggled.refused and smuggled.sentences[0].verdict != "supported"
    plain = check(checker, "The passages do not mention fighter jets.", shown)
    assert plain.refused and plain.sentences[0].supported


def test_a_quoted_article_sentence_is_never_a_refusal(shown: list[Passage]) -> None:
    quote = shown[0].model_copy(update={"text": "The ministry did not say how much the terminal will cost."})
    answer = quoted_answer([quote], "How much will the terminal cost?")
    assert not answer.refused and answer.citations


def test_extractive_answers_pass_the_checker(seeded: Engine) -> None:
    answer = seeded.ask("What is China providing Russia?")
    assert answer.mode == "extractive" and answer.sentences
    assert all(s.supported and s.citations for s in answer.sentences)
    for c in answer.citations:
        assert seeded.document(c.document_id).text[c.start : c.end] == c.quote


def test_a_changed_number_is_contradicted_with_the_conflicting_quote(
    articles: dict[str, Article], checker: CitationChecker, shown: list[Passage]
) -> None:
    """Every sentence carries the checker's verdict and score; a contradiction says what the
    cited passage states instead, and cites the sentence that states it."""
    text = (
        "China is providing Russia with geospatial satellite imagery for military use [1]. "
        "Moldova and Transdniestria reached a deal on gas in 1995 [2]."
    )
    answer = check(checker, text, shown)
    first, second = answer.sentences
    assert first.verdict == "supported" and first.score is not None and first.score > 0.5
    assert second.verdict in ("contradicted", "unsupported") and not second.supported
    if second.verdict == "contradicted":
        assert second.conflict is not None and second.conflict.citation in second.citations
        assert explain(second) and "contradicted" in explain(second)  # type: ignore[operator]
    assert_exact(articles, answer)
