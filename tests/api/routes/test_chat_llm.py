"""Follow-up condensation by the LLM (a local server speaking OpenAI's wire format)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from rag.engine import Engine
from tests.api.conftest import QUESTION, Serve
from tests.api.routes.test_chat import turn
from tests.servers.openai_server import OpenAIServer, Reply, number_of, prompt_of

REWRITE = "How has Russia used Elon Musk's Starlink terminals in Ukraine?"


@pytest.fixture
def llm() -> Iterator[OpenAIServer]:
    server = OpenAIServer()
    yield server
    server.stop()


def scripted(request: dict[str, Any]) -> Reply:
    prompt = prompt_of(request)
    if "Standalone question:" in prompt:
        return Reply(REWRITE)
    phrase = "Starlink terminals" if "Starlink" in prompt.split("Passages")[0] else "geospatial"
    return Reply(f"It is about {phrase.split()[0]} [{number_of(request, phrase)}].")


def test_the_llm_rewrites_follow_ups_from_the_history(
    serve: Serve, seeded: Engine, llm: OpenAIServer
) -> None:
    llm.reply = scripted
    with serve(llm_base_url=llm.url, llm_model="scripted-model") as running, running.client() as c:
        first = turn(c, QUESTION)
        second = turn(c, "And what about Starlink?", first.conversation_id)
    assert first.answer.mode == "llm" and first.answer.question == QUESTION  # nothing to condense
    assert second.answer.question == REWRITE and second.answer.mode == "llm"
    condense = next(r for r in llm.requests if "Standalone question:" in prompt_of(r))
    assert QUESTION in prompt_of(condense) and "And what about Starlink?" in prompt_of(condense)
    assert "Starlink" in second.answer.citations[0].quote


def test_a_failing_llm_falls_back_to_the_rule(serve: Serve, seeded: Engine, llm: OpenAIServer) -> None:
    llm.reply = Reply(status=500)
    with serve(llm_base_url=llm.url) as running, running.client() as c:
        first = turn(c, QUESTION)
        second = turn(c, "And what about Starlink?", first.conversation_id)
    assert second.answer.question == "And what about Starlink? (China Russia)"
    assert second.answer.degraded and second.answer.citations
