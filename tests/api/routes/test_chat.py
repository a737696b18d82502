"""/v1/chat: multi-turn conversations with follow-ups, streaming, persistence across restarts."""

from __future__ import annotations

import httpx
from httpx_sse import connect_sse

from rag.conversations import ChatReply, Conversation
from rag.engine import Engine
from rag.models import Answer
from tests.api.conftest import QUESTION, Serve


def turn(client: httpx.Client, message: str, conversation_id: str | None = None) -> ChatReply:
    body = {"message": message} | ({"conversation_id": conversation_id} if conversation_id else {})
    r = client.post("/v1/chat", json=body)
    assert r.status_code == 200, r.text
    return ChatReply.model_validate(r.json())


def quotes(answer: Answer) -> str:
    return " ".join(c.quote for c in answer.citations)


def test_follow_ups_are_answered_in_the_context_of_the_conversation(client: httpx.Client) -> None:
    first = turn(client, QUESTION)
    assert "satellite imagery" in quotes(first.answer)
    second = turn(client, "And what about Starlink?", first.conversation_id)
    assert second.conversation_id == first.conversation_id
    # The follow-up was rewritten with the earlier topic, and its answer is about Starlink.
    assert second.answer.question is not None and "Russia" in second.answer.question
    assert "Starlink" in second.answer.citations[0].quote
    third = turn(client, "When was that?", first.conversation_id)
    assert third.answer.question is not None and "Starlink" in third.answer.question
    assert "Starlink" in quotes(third.answer)
    # A standalone question is not rewritten.
    alone = turn(client, "What did Zelensky warn European leaders about?", first.conversation_id)
    assert alone.answer.question == "What did Zelensky warn European leaders about?"

    history = Conversation.model_validate(client.get(f"/v1/conversations/{first.conversation_id}").json())
    assert [t.message for t in history.turns] == [
        QUESTION,
        "And what about Starlink?",
        "When was that?",
        "What did Zelensky warn European leaders about?",
    ]
    assert history.turns[1].question == second.answer.question
    assert history.turns[2].answer == third.answer


def test_the_same_follow_up_without_history_is_not_rewritten(client: httpx.Client) -> None:
    reply = turn(client, "And what about Starlink?")
    assert reply.answer.question == "And what about Starlink?"


def test_chat_streams_conversation_id_deltas_and_answer(client: httpx.Client) -> None:
    first = turn(client, QUESTION)
    body = {"message": "And what about Starlink?", "conversation_id": first.conversation_id, "stream": True}
    with connect_sse(client, "POST", "/v1/chat", json=body) as source:
        events = [(e.event, e.json()) for e in source.iter_sse()]
    kinds = [k for k, _ in events]
    assert kinds[0] == "conversation" and events[0][1] == {"conversation_id": first.conversation_id}
    assert "delta" in kinds and kinds[-2:] == ["answer", "done"]
    streamed = Answer.model_validate(events[-2][1])
    stored = client.get(f"/v1/conversations/{first.conversation_id}").json()["turns"]
    assert len(stored) == 2 and Answer.model_validate(stored[-1]["answer"]) == streamed


def test_unknown_and_deleted_conversations_are_404(client: httpx.Client) -> None:
    r = client.post("/v1/chat", json={"message": QUESTION, "conversation_id": "nope"})
    assert r.status_code == 404 and r.json()["error"]["type"] == "not_found"
    reply = turn(client, QUESTION)
    assert client.delete(f"/v1/conversations/{reply.conversation_id}").status_code == 204
    assert client.get(f"/v1/conversations/{reply.conversation_id}").status_code == 404
    assert client.delete(f"/v1/conversations/{reply.conversation_id}").status_code == 404


def test_a_conversation_survives_a_server_restart(serve: Serve, seeded: Engine) -> None:
    with serve() as running, running.client() as c:
        first = turn(c, QUESTION)
    # The first server has stopped and closed its engine; a new one reads the same data dir.
    with serve() as restarted, restarted.client() as c:
        before = c.get(f"/v1/conversations/{first.conversation_id}")
        assert before.status_code == 200 and len(before.json()["turns"]) == 1
        follow = turn(c, "And what about Starlink?", first.conversation_id)
        assert follow.answer.question is not None and "Russia" in follow.answer.question
