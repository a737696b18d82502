"""Ingest benchmark: cold ingest of the 609-article MultiHop-RAG corpus, the part of it spent
embedding, and a warm re-ingest of the unchanged corpus.

    .venv/bin/python benchmarks/ingest.py [--corpus FILE] [--limit N]

Target (issue 37): the cold ingest <= 1.3 x the time spent embedding the chunk texts alone (the
sentence vectors the ranker reads are embedded too, and counted apart). An unchanged re-ingest
embeds nothing (its time as a shell command: `time rag ingest corpus/`).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from rag.config import Settings
from rag.embeddings import OnnxEmbedding
from rag.engine import Engine
from rag.ingest import Ingestor

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared/datasets/multihop-rag/corpus.json"


class TimedEmbedding(OnnxEmbedding):
    """Counts the seconds spent inside the model (tokenize + ONNX run + pooling)."""

    seconds: float = 0.0
    texts: int = 0

    def embed_batch(self, texts: list[str]) -> np.ndarray:
        started = time.perf_counter()
        try:
            return super().embed_batch(texts)
        finally:
            self.seconds += time.perf_counter() - started
            self.texts += len(texts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--limit", type=int, default=0, help="Only the first N records (quick check).")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        corpus = args.corpus
        if args.limit:
            corpus = Path(tmp) / "subset.json"
            corpus.write_text(json.dumps(json.loads(args.corpus.read_text())[: args.limit]))
        settings = Settings(data_dir=Path(tmp) / "data")
        embed = TimedEmbedding()
        engine = Engine(settings, embed=embed)
        sentences = {"s": 0.0}
        real = Ingestor.embed_sentences

        def timed(self: Ingestor, chunks: list) -> list:  # type: ignore[type-arg]
            started = time.perf_counter()
            try:
                return real(self, chunks)
            finally:
                sentences["s"] += time.perf_counter() - started

        Ingestor.embed_sentences = timed  # type: ignore[method-assign]
        started = time.perf_counter()
        cold = engine.ingest([corpus])
        cold_s = time.perf_counter() - started
        embed_s, n_texts = embed.seconds, embed.texts
        chunks_s = embed_s - sentences["s"]

        started = time.perf_counter()
        warm = engine.ingest([corpus])
        warm_s = time.perf_counter() - started
        engine.close()

    figures = {
        "articles": len(cold.added),
        "chunks": cold.chunks_embedded,
        "cold_ingest_s": round(cold_s, 1),
        "embedding_s": round(embed_s, 1),
        "embedding_chunks_s": round(chunks_s, 1),
        "embedding_sentences_s": round(sentences["s"], 1),
        "embedded_texts": n_texts,
        "cold_over_embedding": round(cold_s / embed_s, 3) if embed_s else None,
        "cold_over_chunk_embedding": round(cold_s / chunks_s, 3) if chunks_s else None,
        "warm_reingest_s": round(warm_s, 2),
        "warm_unchanged": len(warm.unchanged),
        "warm_embedded": warm.chunks_embedded,
    }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
