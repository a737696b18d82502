"""Syndicated and re-published copies of a story are recognised; other stories are not."""

from __future__ import annotations

import pytest

from rag.errors import BadInput
from rag.sources import DuplicateIndex, Signature, signature
from tests.sources.stories import ELECTION, STORM, STORM_AFTERMATH, text

WIRE_CREDIT = "This story was originally published by The Associated Press. All rights reserved."


@pytest.fixture
def index() -> DuplicateIndex:
    stored = DuplicateIndex()
    stored.add("storm", text(STORM))
    stored.add("election", text(ELECTION))
    return stored


@pytest.mark.parametrize(
    "copy",
    [
        pytest.param(["Coastal town counts the cost of a night of gales", *STORM], id="re-headlined"),
        pytest.param([*STORM, WIRE_CREDIT], id="outlet boilerplate"),
        pytest.param(STORM[:-1], id="last paragraph cut"),
        pytest.param(STORM[:3] + STORM[4:-1], id="two paragraphs cut"),
        pytest.param(STORM[:4], id="cut to half"),
        pytest.param([STORM[0], STORM[3], STORM[1], STORM[2], *STORM[4:]], id="paragraphs moved"),
        pytest.param(["Storm lashes coast", *STORM[::-1][1:], WIRE_CREDIT], id="all at once"),
    ],
)
def test_copies_of_a_story_are_found_as_that_story(index: DuplicateIndex, copy: list[str]) -> None:
    assert index.find(text(copy)) == "storm"


def test_a_different_story_on_the_same_event_is_not_a_copy(index: DuplicateIndex) -> None:
    match = index.match(text(STORM_AFTERMATH))

    assert match is None
    assert signature(text(STORM_AFTERMATH)).jaccard(index.signature(text(STORM))) < 0.1


def test_the_closest_original_is_named_with_its_similarity(index: DuplicateIndex) -> None:
    index.add("storm-trimmed", text(STORM[:5]))

    match = index.match(text(STORM))
    assert match is not None and match.article_id == "storm" and match.similarity > 0.9
    # Excluding the article itself (when re-checking a stored one) finds the other copy.
    other = index.match(text(STORM), exclude="storm")
    assert other is not None and other.article_id == "storm-trimmed"


def test_removed_articles_are_not_found(index: DuplicateIndex) -> None:
    index.remove("storm")
    index.remove("never-added")

    assert index.find(text(STORM)) is None and "storm" not in index and len(index) == 1


def test_adding_an_article_again_replaces_it(index: DuplicateIndex) -> None:
    index.add("storm", text(STORM_AFTERMATH))  # the article at this id was updated

    assert index.find(text(STORM_AFTERMATH)) == "storm"
    assert index.find(text(STORM)) is None
    assert len(index) == 2


def test_too_short_a_text_is_never_called_a_copy() -> None:
    index = DuplicateIndex()
    index.add("brief", "Markets closed higher on Monday.")

    assert index.find("Markets closed higher on Monday.") is None


def test_signatures_are_stored_and_loaded(index: DuplicateIndex) -> None:
    stored = signature(text(STORM))
    as_bytes, as_json = stored.to_bytes(), stored.to_json()

    assert len(as_bytes) < 600 and as_json.isascii()
    assert Signature.from_bytes(as_bytes) == Signature.from_json(as_json)
    election = Signature.from_json(signature(text(ELECTION)).to_json())
    loaded = DuplicateIndex.from_signatures([("storm", as_bytes), ("election", election)])
    assert loaded.find(text(STORM[:-1])) == "storm"
    assert loaded.find(text([*ELECTION, WIRE_CREDIT])) == "election"


def test_unusable_signatures_are_refused() -> None:
    with pytest.raises(BadInput, match=r"not a stored duplicate signature"):
        Signature.from_bytes(b"\x01\x05")
    with pytest.raises(BadInput, match=r"not a stored duplicate signature"):
        Signature.from_json("not base64!")
    with pytest.raises(BadInput, match=r"3-word shingles .* index uses 5 .* recompute it"):
        DuplicateIndex().add("x", signature(text(STORM), shingle_words=3))
