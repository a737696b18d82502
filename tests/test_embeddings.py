"""The embedding model: unit vectors, and questions through the int8 encoder made once."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from rag.embeddings import OnnxEmbedding

TEXTS = [
    "China is providing Russia with satellite imagery for its war in Ukraine.",
    "Moldova's gas supply",
    "Which company did the Fortune article say lost its chief executive?",
]


def test_documents_are_unit_vectors_and_similar_texts_are_close(embed: OnnxEmbedding) -> None:
    vectors = embed.embed_batch(TEXTS + ["Beijing supplies Moscow with images from satellites."])
    assert vectors.shape == (4, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similarity = vectors @ vectors.T
    assert similarity[0, 3] > similarity[0, 1] + 0.3  # the paraphrase, not the other topic


def test_a_text_gets_the_same_vector_in_any_batch(embed: OnnxEmbedding) -> None:
    """Texts are batched by length, so a vector must not depend on its neighbours, and each
    comes back in the caller's order (an empty text, and one past the model's 256 tokens)."""
    long_text = " ".join(f"Paragraph {i} of the council's harbour report." for i in range(80))
    texts = [long_text, "", *TEXTS, "Short.", TEXTS[0]]
    together = embed.embed_batch(texts)
    alone = np.vstack([embed.embed_batch([t]) for t in texts])
    assert together.shape == (len(texts), 384)
    assert np.allclose(together, alone, atol=1e-5)
    assert np.allclose(together[2], together[-1], atol=1e-6)  # the same text twice
    truncated = embed.embed_batch([long_text + " And a tail the model never reads."])[0]
    assert np.allclose(truncated, together[0], atol=1e-5)


def test_questions_go_through_an_int8_model_made_once(embed: OnnxEmbedding, model_cache: Path) -> None:
    questions = embed.embed_queries(TEXTS)
    documents = embed.embed_batch(TEXTS)
    made = list(model_cache.glob("*-int8.onnx"))
    assert len(made) == 1  # the shared test model made it into the run's cache
    cosine = (questions * documents).sum(axis=1)
    # Another model (the vectors moved), yet the same meaning: a question still finds the
    # documents it finds in float32.
    assert np.all(cosine < 0.99999)
    assert np.all(cosine > 0.97)
    assert np.array_equal(np.argmax(questions @ documents.T, axis=1), np.arange(len(TEXTS)))

    made_at = made[0].stat().st_mtime_ns
    again = OnnxEmbedding(query_cache=model_cache)
    assert np.allclose(again.embed_queries(TEXTS), questions, atol=1e-6)
    assert made[0].stat().st_mtime_ns == made_at  # reused, not made again
    assert list(model_cache.glob("*-int8.onnx")) == made


def test_without_a_cache_questions_use_the_float32_model() -> None:
    plain = OnnxEmbedding()
    assert np.array_equal(plain.embed_queries(TEXTS), plain.embed_batch(TEXTS))


def test_a_cache_that_cannot_be_written_costs_speed_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder should be")
    model = OnnxEmbedding(query_cache=blocked / "rag")
    with caplog.at_level(logging.WARNING, logger="rag.embeddings"):
        questions = model.embed_queries(TEXTS)
    assert np.array_equal(questions, model.embed_batch(TEXTS))
    assert "int8 question encoder unavailable" in caplog.text
    assert blocked.read_text().startswith("a file")  # nothing written over it
