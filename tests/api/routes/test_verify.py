"""``POST /v1/verify`` over real HTTP: the verdicts, the limits and the errors."""

from __future__ import annotations

import httpx

from tests.api.conftest import Running, Serve

DOCUMENT = {
    "title": "Harbor council approves budget",
    "text": "The Harbor town council approved the 2024 budget on Tuesday. "
    "Five sources told the Gazette that the vote was unanimous.",
}


def test_a_contradiction_against_a_given_document(client: httpx.Client) -> None:
    text = (
        "The Harbor town council approved the 2024 budget on Tuesday. "
        "Three sources told the Gazette that the vote was unanimous."
    )
    r = client.post("/v1/verify", json={"text": text, "documents": [DOCUMENT]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["verdict"] == "contradicted" and body["counts"] == {
        "supported": 1,
        "unsupported": 0,
        "contradicted": 1,
    }
    second = body["sentences"][1]
    assert text[second["start"] : second["end"]] == second["text"]
    assert second["conflict"]["evidence_text"].startswith("Five") and second["conflict"]["kind"] == "number"


def test_against_the_corpus_it_cites_the_seed_article(client: httpx.Client) -> None:
    r = client.post(
        "/v1/verify",
        json={"text": "China is providing Russia with geospatial satellite imagery for military use."},
    )
    (sentence,) = r.json()["sentences"]
    assert sentence["verdict"] == "supported" and sentence["citations"][0]["source"] == "Business Insider"


def test_limits_and_bad_input(client: httpx.Client) -> None:
    too_long = client.post("/v1/verify", json={"text": "x" * 20_001})
    assert too_long.status_code == 413 and "20,000" in too_long.json()["error"]["message"]
    many = client.post("/v1/verify", json={"text": "The council met.", "documents": [DOCUMENT] * 21})
    assert many.status_code == 413
    assert client.post("/v1/verify", json={"text": ""}).status_code == 422
    assert (
        client.post("/v1/verify", json={"text": "The council met.", "documents": [{"text": ""}]}).status_code
        == 422
    )
    none_given = client.post("/v1/verify", json={"text": "The council met.", "documents": []})
    assert none_given.status_code == 422 and "documents" in none_given.json()["error"]["message"]
    empty = client.post("/v1/verify", json={"text": "What happened?", "documents": [DOCUMENT]})
    assert empty.status_code == 200 and empty.json()["verdict"] == "empty"


def test_the_api_key_rules_apply(serve: Serve) -> None:
    with serve(api_keys=["k1"]) as running:
        assert _post(running, None).status_code == 401
        assert _post(running, "k1").status_code == 200


def _post(running: Running, key: str | None) -> httpx.Response:
    with running.client(key) as c:
        return c.post("/v1/verify", json={"text": "The council met on Tuesday.", "documents": [DOCUMENT]})
