"""/v1/ask (JSON and SSE), /v1/search and the one error shape, over real HTTP."""

from __future__ import annotations

import re

import httpx
from httpx_sse import connect_sse

from rag.models import Answer, Passage
from tests.api.conftest import QUESTION, Running, Serve

MARKER = re.compile(r"\[(\d+)\]")


def check_citations(client: httpx.Client, answer: Answer) -> None:
    """Markers are numbered 1..N in order of first use and each quote is the article's span."""
    used = list(dict.fromkeys(int(n) for n in MARKER.findall(answer.answer)))
    assert used == [c.id for c in answer.citations] == list(range(1, len(used) + 1))
    for c in answer.citations:
        text = client.get(f"/v1/documents/{c.document_id}").json()["text"]
        assert text[c.start : c.end] == c.quote


def test_ask_returns_a_cited_answer(client: httpx.Client) -> None:
    r = client.post("/v1/ask", json={"question": QUESTION})
    assert r.status_code == 200
    answer = Answer.model_validate(r.json())
    assert not answer.refused and answer.citations
    assert "satellite" in answer.answer.lower()
    check_citations(client, answer)


def test_ask_streams_deltas_then_the_verified_answer(client: httpx.Client) -> None:
    events = []
    with connect_sse(client, "POST", "/v1/ask", json={"question": QUESTION, "stream": True}) as source:
        assert source.response.headers["content-type"].startswith("text/event-stream")
        events = [(e.event, e.json()) for e in source.iter_sse()]
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "delta" and kinds[-2:] == ["answer", "done"] and kinds.count("answer") == 1
    answer = Answer.model_validate(events[-2][1])
    assert answer == Answer.model_validate(client.post("/v1/ask", json={"question": QUESTION}).json())
    check_citations(client, answer)


def test_accept_header_alone_selects_the_stream(client: httpx.Client) -> None:
    headers = {"Accept": "text/event-stream"}
    with connect_sse(client, "POST", "/v1/ask", json={"question": QUESTION}, headers=headers) as source:
        assert [e.event for e in source.iter_sse()][-1] == "done"


def test_bad_input_before_a_stream_is_a_plain_http_error(client: httpx.Client) -> None:
    backwards = {"since": "2024-05-01", "until": "2024-01-01"}
    r = client.post("/v1/ask", json={"question": QUESTION, "stream": True, "filters": backwards})
    assert r.status_code == 400 and r.json()["error"]["type"] == "bad_request"
    # A blank question is refused like an empty one, whatever the route.
    for path, body in [
        ("/v1/ask", {"question": "   ", "stream": True}),
        ("/v1/chat", {"message": " \n"}),
        ("/v1/summaries", {"topic": "  "}),
        ("/v1/verify", {"text": "\t"}),
    ]:
        r = client.post(path, json=body)
        assert r.status_code == 422 and "must not be blank" in r.json()["error"]["message"], (path, r.text)
    r = client.get("/v1/search", params={"q": "  "})
    assert r.status_code == 422 and r.json()["error"]["message"] == "query.q: must not be blank"


def test_errors_share_one_shape_and_status(client: httpx.Client) -> None:
    cases = [
        (client.post("/v1/ask", json={}), 422, "validation_error"),
        (
            client.post("/v1/ask", content=b"{not json", headers={"content-type": "application/json"}),
            422,
            "validation_error",
        ),
        (
            client.post(
                "/v1/ask", json={"question": "x", "filters": {"since": "2024-05-01", "until": "2024-01-01"}}
            ),
            400,
            "bad_request",
        ),
        (client.post("/v1/ask", json={"question": "x", "top_k": 0}), 422, "validation_error"),
        (client.get("/v1/nowhere"), 404, "not_found"),
        (client.delete("/v1/ask"), 405, "method_not_allowed"),
        (client.get("/v1/documents/does-not-exist"), 404, "not_found"),
    ]
    for response, status, kind in cases:
        assert response.status_code == status, response.text
        body = response.json()
        assert set(body) == {"error"} and body["error"]["type"] == kind and body["error"]["message"]
    # Broken JSON is named as such, not by the character offset where parsing stopped.
    assert cases[1][0].json()["error"]["message"].startswith("The body is not valid JSON (")


def test_search_returns_passages_with_scores_and_metadata(client: httpx.Client) -> None:
    r = client.get("/v1/search", params={"q": "Starlink terminals", "k": 3})
    assert r.status_code == 200
    passages = [Passage.model_validate(p) for p in r.json()["passages"]]
    assert 1 <= len(passages) <= 3
    assert "Starlink" in passages[0].text and passages[0].score > 0
    assert passages[0].source == "Business Insider"
    assert [p.score for p in passages] == sorted((p.score for p in passages), reverse=True)


def test_search_filters_by_outlet_and_date(client: httpx.Client) -> None:
    other = client.get("/v1/search", params={"q": "Starlink", "source": "Reuters"}).json()
    assert other["passages"] == []
    later = client.get("/v1/search", params={"q": "Starlink", "since": "2030-01-01"}).json()
    assert later["passages"] == []
    bad = client.get("/v1/search", params={"q": "Starlink", "since": "yesterday"})
    assert bad.status_code == 422


def test_asking_an_empty_index_is_503(serve: Serve) -> None:
    with serve() as running, running.client() as client:
        r = client.post("/v1/ask", json={"question": QUESTION})
    assert r.status_code == 503
    assert r.json()["error"]["type"] == "nothing_indexed"
    assert "rag ingest" in r.json()["error"]["message"]


def test_server_started_with_the_factory_answers(server: Running) -> None:
    # A second client on the same running server: requests are independent.
    with server.client() as c:
        assert c.get("/healthz").json() == {"status": "ok"}
