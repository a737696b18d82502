"""The engine: one object that owns the store, the embedding model, retrieval and answering.

Every transport (CLI, HTTP routes, Slack) builds one ``Engine`` from ``Settings`` and calls its
methods; none of them holds retrieval or prompting logic.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path

from rag.answer import ExtractiveAnswerer
from rag.config import Settings
from rag.embeddings import OnnxEmbedding
from rag.errors import BadInput
from rag.ingest import Ingestor, Progress
from rag.models import Answer, Article, ArticleInfo, Filters, IngestReport, Passage, StreamEvent
from rag.retrieve import Retriever
from rag.store import Store

log = logging.getLogger(__name__)


def clean_question(question: str | None) -> str:
    text = (question or "").strip()
    if not text:
        raise BadInput("The question is empty; ask something, e.g. 'What is China providing Russia?'")
    if len(text) > 2000:
        raise BadInput("The question is longer than 2000 characters; shorten it.")
    return text


class Engine:
    def __init__(self, settings: Settings | None = None, embed: OnnxEmbedding | None = None) -> None:
        self.settings = settings or Settings()
        # Loading the model takes ~0.5 s; tests and benchmarks share one between engines.
        self.embed = embed or OnnxEmbedding(self.settings.embed_model, self.settings.embed_batch_size)
        self.store = Store(self.settings)
        self.retriever = Retriever(self.store, self.embed)
        self.extractive = ExtractiveAnswerer(self.embed, self.settings)

    def close(self) -> None:
        self.store.close()

    # --- documents --------------------------------------------------------------------
    def ingest(
        self, paths: Sequence[Path], sync: bool = False, progress: Progress | None = None
    ) -> IngestReport:
        return Ingestor(self.store, self.embed).run(paths, sync=sync, progress=progress)

    def documents(self) -> list[ArticleInfo]:
        return self.store.list_articles()

    def document(self, document_id: str) -> Article:
        return self.store.get_article(document_id)

    def delete_document(self, document_id: str) -> None:
        self.store.get_article(document_id)  # raises NotFound
        self.store.remove_articles([document_id])

    # --- questions --------------------------------------------------------------------
    def search(self, query: str, k: int | None = None, filters: Filters | None = None) -> list[Passage]:
        return self.retriever.search(clean_question(query), k or self.settings.top_k, filters)

    def ask(self, question: str, filters: Filters | None = None, top_k: int | None = None) -> Answer:
        """Answer a question from the corpus, every sentence cited."""
        final: Answer | None = None
        for event in self.ask_stream(question, filters, top_k):
            if event.answer is not None:
                final = event.answer
        assert final is not None
        return final

    def ask_stream(
        self, question: str, filters: Filters | None = None, top_k: int | None = None
    ) -> Iterator[StreamEvent]:
        """Text deltas while the answer is written, then the final verified ``Answer``."""
        question = clean_question(question)
        passages = self.retriever.search(question, top_k or self.settings.top_k, filters)
        answer = self.extractive.answer(question, passages)
        yield StreamEvent(type="delta", text=answer.answer)
        yield StreamEvent(type="answer", answer=answer)
