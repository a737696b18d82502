"""How an answer becomes Slack blocks (``api.slack.render``) and Slack's markup becomes a
question (``api.slack.plain_text``), without a server."""

from __future__ import annotations

import re
from typing import Any

from api.slack import plain_text
from api.slack.render import BLOCK_LIMIT, TEXT_LIMIT, answer_text, render_answer
from rag.models import Answer, Citation, Sentence
from tests.api.slack.helpers import texts
from tests.servers.slack_server import BOT_USER_ID


def _citation(n: int, **kw: Any) -> Citation:
    fields: dict[str, Any] = dict(
        id=n,
        document_id="d",
        title=f"Title {n}",
        source="Outlet",
        url=f"https://x.test/{n}",
        quote=f"Quote {n}.",
        start=0,
        end=8,
        score=1.0,
    )
    return Citation(**{**fields, **kw})


def test_render_escapes_mrkdwn_and_keeps_numbers() -> None:
    answer = Answer(
        answer="AT&T <b> said 1 > 0 [1]. Others agreed [2].",
        sentences=[Sentence(text="x", citations=[1], supported=True)],
        citations=[_citation(1, title="R&D <lab>", url="https://x.test/a|b"), _citation(2)],
        question="q",
    )
    text, blocks = render_answer(answer, "fid")
    body = texts(blocks, "section")
    assert body == "AT&amp;T &lt;b&gt; said 1 &gt; 0 [1]. Others agreed [2]."
    sources = texts(blocks, "context")
    assert "<https://x.test/a%7Cb|R&amp;D &lt;lab&gt;>" in sources
    assert re.findall(r"\*\[(\d)\]\*", sources) == ["1", "2"]


def test_render_long_answers_within_slack_limits() -> None:
    n = 40
    long_answer = " ".join(f"{'word ' * 150}[{i}]." for i in range(1, n + 1))
    answer = Answer(answer=long_answer, citations=[_citation(i, quote="q " * 400) for i in range(1, n + 1)])
    text, blocks = render_answer(answer, "fid")
    assert len(blocks) <= BLOCK_LIMIT and len(text) <= 3000
    for b in blocks:
        parts = [b["text"]] if "text" in b else b.get("elements", [])
        assert all(len(p.get("text", "")) <= TEXT_LIMIT for p in parts if isinstance(p.get("text"), str))
    listed = {int(n) for n in re.findall(r"\*\[(\d+)\]\*", texts(blocks, "context"))}
    assert listed == set(range(1, n + 1))


def test_render_refusal_and_degraded() -> None:
    refusal = Answer(
        answer="The corpus has insufficient information to answer this question.",
        refused=True,
        question="Who won the 1930 World Cup?",
    )
    _, blocks = render_answer(refusal)
    assert texts(blocks, "section") == (
        "The corpus has insufficient information about “Who won the 1930 World Cup?”."
    )
    assert not [b for b in blocks if b["type"] == "actions"]
    degraded = Answer(
        answer="A [1].", citations=[_citation(1)], degraded=True, degraded_reason="LLM timed out"
    )
    _, blocks = render_answer(degraded)
    assert "LLM timed out" in texts(blocks, "context")


def test_plain_text_undoes_slack_markup() -> None:
    raw = f"<@{BOT_USER_ID}> what did <@U0000002|ana> say about <https://x.test|AT&amp;T> in <#C1|news>?"
    assert plain_text(raw, BOT_USER_ID) == "what did @ana say about AT&T in #news?"


def test_a_marker_goes_after_the_markers_not_into_a_sentence_starting_with_a_number() -> None:
    answer = Answer(
        answer="Russia got jets. [1] 30 jets arrived in May. [1]",
        sentences=[
            Sentence(text="Russia got jets.", citations=[1], supported=False, verdict="unsupported"),
            Sentence(text="30 jets arrived in May.", citations=[1], supported=True),
        ],
        citations=[_citation(1)],
        question="q",
    )
    assert answer_text(answer) == "Russia got jets. [1] ⚠ 30 jets arrived in May. [1]"


def test_a_cut_never_splits_an_escape() -> None:
    text, blocks = render_answer(Answer(answer="&" * 5001 + " [1].", citations=[_citation(1)]), "fid")
    for piece in [text] + [b["text"]["text"] for b in blocks if b["type"] == "section"]:
        assert not re.search(r"&[a-z]{0,3}(?:…|$)", piece), piece[-20:]
