"""Ingest benchmark: cold ingest of the 609-article MultiHop-RAG corpus, the part of it spent
embedding, and a warm re-ingest of the unchanged corpus.

    .venv/bin/python benchmarks/ingest.py [--corpus FILE] [--limit N]

Targets (issue 2): cold total <= 1.2 x embedding time; warm re-ingest <= 3 s, 0 embeddings.
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

        started = time.perf_counter()
        cold = engine.ingest([corpus])
        cold_s = time.perf_counter() - started
        embed_s, n_texts = embed.seconds, embed.texts

        started = time.perf_counter()
        warm = engine.ingest([corpus])
        warm_s = time.perf_counter() - started
        engine.close()

    figures = {
        "articles": len(cold.added),
        "chunks": cold.chunks_embedded,
        "cold_ingest_s": round(cold_s, 1),
        "embedding_s": round(embed_s, 1),
        "embedded_texts": n_texts,
        "cold_over_embedding": round(cold_s / embed_s, 3) if embed_s else None,
        "warm_reingest_s": round(warm_s, 2),
        "warm_unchanged": len(warm.unchanged),
        "warm_embedded": warm.chunks_embedded,
    }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
