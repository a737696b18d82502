"""/v1/chat/completions and /v1/models driven by the official ``openai`` client."""

from __future__ import annotations

import re

import openai
import pytest
from openai import OpenAI

from rag.models import Citation
from tests.api.conftest import QUESTION, Running

MARKER = re.compile(r"\[(\d+)\]")


def client_for(server: Running, key: str = "unused") -> OpenAI:
    return OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0, timeout=60)


def ask(client: OpenAI, *messages: dict[str, str]) -> tuple[str, list[Citation]]:
    completion = client.chat.completions.create(model="rag", messages=list(messages))  # type: ignore[arg-type]
    content = completion.choices[0].message.content or ""
    citations = [Citation.model_validate(c) for c in (completion.model_extra or {})["citations"]]
    return content, citations


def test_completion_carries_markers_sources_and_structured_citations(server: Running) -> None:
    content, citations = ask(client_for(server), {"role": "user", "content": QUESTION})
    answer, _, sources = content.partition("\n\nSources:\n")
    assert citations and sources, content
    assert sorted({int(n) for n in MARKER.findall(answer)}) == [c.id for c in citations]
    for c in citations:
        # The text keeps its references: every source is listed with its outlet and quote.
        assert f"[{c.id}] {c.title} — {c.source}" in sources and c.quote in sources
        text = server.engine.document(c.document_id).text
        assert text[c.start : c.end] == c.quote


def test_streamed_completion_matches_the_plain_one(server: Running) -> None:
    client = client_for(server)
    content, citations = ask(client, {"role": "user", "content": QUESTION})
    stream = client.chat.completions.create(
        model="rag", messages=[{"role": "user", "content": QUESTION}], stream=True
    )
    chunks = list(stream)
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == content
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert [Citation.model_validate(c) for c in (last.model_extra or {})["citations"]] == citations


def test_follow_up_uses_the_message_history(server: Running) -> None:
    client = client_for(server)
    first, _ = ask(client, {"role": "user", "content": QUESTION})
    _, citations = ask(
        client,
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": first},
        {"role": "user", "content": "And what about Starlink?"},
    )
    assert "Starlink" in citations[0].quote


def test_models_lists_rag(server: Running) -> None:
    assert [m.id for m in client_for(server).models.list()] == ["rag"]


def test_a_transcript_without_a_user_question_is_a_400(server: Running) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client_for(server).chat.completions.create(
            model="rag", messages=[{"role": "assistant", "content": "Hello"}]
        )
    assert "user" in str(caught.value)
