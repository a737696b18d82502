"""Embeddings from a server (``RemoteEmbedding``) against a real HTTP server speaking OpenAI's
embeddings wire format (``tests/servers/embeddings_server.py``) through the real openai SDK: the
vectors, batching, retries, failures, and an engine that ingests and searches with them."""

from __future__ import annotations

import base64
import json
import math
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from rag.config import Settings
from rag.embed_remote import RemoteEmbedding
from rag.embeddings import DEFAULT_MODEL, OnnxEmbedding
from rag.engine import Engine
from rag.errors import StoreUnavailable
from tests.api.conftest import free_port
from tests.servers.embeddings_server import EmbeddingsServer, embeddings_server_fixture  # noqa: F401

TEXTS = [
    "China is providing Russia with satellite imagery for its war in Ukraine.",
    "The central bank raised interest rates by half a point.",
    "",  # blank texts are embedded too (as a space), keeping the rows aligned
    "Le café était très bon. 😀",
]


def remote(server: EmbeddingsServer, **options: Any) -> RemoteEmbedding:
    return RemoteEmbedding(server.url, DEFAULT_MODEL, **options)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray((a * b).sum(axis=1))


def test_the_vectors_are_the_local_models(embeddings_server: EmbeddingsServer, embed: OnnxEmbedding) -> None:
    model = remote(embeddings_server)
    vectors = model.embed_batch(TEXTS)
    assert vectors.shape == (4, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert cosines(vectors, embed.embed_batch(TEXTS)).min() > 0.999
    assert model.embed_queries(TEXTS[:1]).shape == (1, 384)
    assert model.dimension == 384 and model.model_name == DEFAULT_MODEL
    assert model.embed_batch([]).shape == (0, 0)


def test_a_large_call_goes_in_batches_and_keeps_its_order(
    embeddings_server: EmbeddingsServer, embed: OnnxEmbedding
) -> None:
    texts = [f"Report number {i}: the outlet covered story {i * 7 % 13}." for i in range(100)]
    embeddings_server.reverse = True  # the response lists vectors last to first; `index` says whose
    vectors = remote(embeddings_server, embed_batch_size=16).embed_batch(texts)
    assert embeddings_server.requests == math.ceil(100 / 16) == 7
    assert embeddings_server.batches == [16] * 6 + [4]
    assert cosines(vectors, embed.embed_batch(texts)).min() > 0.999  # row i is text i


def test_a_transient_failure_is_retried(embeddings_server: EmbeddingsServer) -> None:
    model = remote(embeddings_server)
    embeddings_server.fail(2, status=503)
    assert model.embed_batch(TEXTS).shape == (4, 384)
    assert embeddings_server.requests == 3
    embeddings_server.drop(1)  # the connection closes mid-answer
    embeddings_server.fail(1, status=429)
    assert model.embed_batch(TEXTS).shape == (4, 384)
    assert embeddings_server.requests == 6 and embeddings_server.texts == 8


def test_a_failure_that_lasts_is_a_clear_error(embeddings_server: EmbeddingsServer) -> None:
    embeddings_server.fail(2, status=500)
    with pytest.raises(
        StoreUnavailable, match=r"server at http://127\.0\.0\.1:\d+/v1: HTTP 500: scripted failure"
    ):
        remote(embeddings_server, max_retries=1).embed_batch(TEXTS)
    assert embeddings_server.requests == 2
    with pytest.raises(StoreUnavailable, match="check that it serves RAG_EMBED_MODEL='other-model'"):
        RemoteEmbedding(embeddings_server.url, "other-model").embed_batch(TEXTS)


def test_a_dead_server_is_a_clear_error_naming_it() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as caught:
        RemoteEmbedding(url, DEFAULT_MODEL, max_retries=1).embed_batch(TEXTS)
    assert str(caught.value) == (
        f"Cannot embed with the embeddings server at {url}: connection refused; is it running?"
    )
    assert time.monotonic() - started < 5  # one retry after ~0.5 s, no more


def test_the_server_speaks_the_wire_format(embeddings_server: EmbeddingsServer) -> None:
    """What the SDK hides: a string input, float and base64 encodings, usage, errors."""
    url = f"{embeddings_server.url}/embeddings"
    floats = httpx.post(url, json={"model": DEFAULT_MODEL, "input": "one text"}).json()
    assert floats["object"] == "list" and floats["model"] == DEFAULT_MODEL
    assert floats["usage"] == {"prompt_tokens": 2, "total_tokens": 2}
    (row,) = floats["data"]
    assert row["object"] == "embedding" and row["index"] == 0 and len(row["embedding"]) == 384
    packed = httpx.post(
        url, json={"model": DEFAULT_MODEL, "input": ["one text"], "encoding_format": "base64"}
    )
    decoded = np.frombuffer(base64.b64decode(packed.json()["data"][0]["embedding"]), dtype="<f4")
    assert np.array_equal(decoded, np.asarray(row["embedding"], dtype=np.float32))
    wrong = httpx.post(url, json={"model": "nope", "input": "x"})
    assert wrong.status_code == 404 and wrong.json()["error"]["code"] == "model_not_found"
    assert httpx.post(url, json={"model": DEFAULT_MODEL, "input": [1, 2]}).status_code == 400


STORIES = [
    {
        "title": "Central bank raises rates again",
        "source": "Reuters",
        "published_at": "2023-10-05",
        "body": "The central bank raised its main interest rate by half a point on Thursday. "
        "Officials said inflation remained too high. Markets fell after the decision.",
    },
    {
        "title": "Home side wins the cup final",
        "source": "Sporting News",
        "published_at": "2023-10-08",
        "body": "The home team won the cup final on Sunday with a late goal. "
        "Thousands of fans celebrated in the streets of the city until dawn.",
    },
    {
        "title": "New telescope images a distant galaxy",
        "source": "Science Daily",
        "published_at": "2023-10-09",
        "body": "Astronomers released the first images from the new space telescope. "
        "The pictures show a spiral galaxy billions of light years away.",
    },
]


def test_an_engine_ingests_and_searches_with_server_embeddings(
    embeddings_server: EmbeddingsServer, tmp_path: Path
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "news.json").write_text(json.dumps(STORIES), encoding="utf-8")
    engine = Engine(Settings(data_dir=tmp_path / "data"), embed=remote(embeddings_server))
    try:
        report = engine.ingest([corpus])
        assert len(report.added) == 3
        embedded = embeddings_server.texts
        assert embedded > 0  # chunks (and their sentences) went through the server
        (best, *_) = engine.search("Which central bank raised interest rates?")
        assert best.title == "Central bank raises rates again"
        assert "interest rate" in best.text
        assert embeddings_server.texts > embedded  # the question was embedded there too
    finally:
        engine.close()
