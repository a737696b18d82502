"""The engine: one object that owns the store, the embedding model, retrieval and answering.

Every transport (CLI, HTTP routes, Slack) builds one ``Engine`` from ``Settings`` and calls its
methods; none of them holds retrieval or prompting logic.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path

from rag import runtime
from rag.answer import Answerer, refusal
from rag.chat import Condenser, Exchange, follow_up_focus
from rag.config import Settings
from rag.conversations import ChatReply, ConversationStore, new_id
from rag.embeddings import OnnxEmbedding, embedding
from rag.errors import BadInput, NothingIndexed
from rag.feedback import FeedbackStore
from rag.ingest import Ingestor, Progress, index_signature
from rag.llm import LLMClient
from rag.models import Answer, Article, ArticleInfo, Filters, IngestReport, Passage, StreamEvent
from rag.retrieval import INDEX_EXTENSIONS, Retriever
from rag.store import Store
from rag.store.database import Database, database_url
from rag.summary import Summarizer, Summary
from rag.uploads import NewDocument, save_document, save_files

log = logging.getLogger(__name__)


def clean_question(question: str | None) -> str:
    text = (question or "").strip()
    if not text:
        raise BadInput("The question is empty; ask something, e.g. 'What is China providing Russia?'")
    if len(text) > 2000:
        raise BadInput("The question is longer than 2000 characters; shorten it.")
    return text


# How long a write waits for another process's ingest before it is refused (StoreBusy).
INGEST_WAIT_SECONDS = 30.0


class Engine:
    """The store, the embedding model, retrieval, answering, conversations and feedback of one
    corpus; every transport calls these methods."""

    def __init__(self, settings: Settings | None = None, embed: OnnxEmbedding | None = None) -> None:
        self.settings = settings or Settings()
        runtime.prepare_process()
        data_dir = self.settings.resolved_data_dir()
        data_dir.mkdir(parents=True, exist_ok=True)
        self.database = Database(database_url(self.settings.database_url, data_dir), data_dir)
        # Loading the model takes ~0.5 s; tests and benchmarks share one between engines.
        self.embed = embed or embedding(self.settings)
        self.store = Store(self.settings, self.database, INDEX_EXTENSIONS)
        if self.settings.chroma_url:  # a replica over a shared Chroma server
            self.store.restore_catalog(index_signature(self.store, self.embed))
        self.retriever = Retriever(self.store, self.embed)
        # One openai client per engine; None when answers are extractive only.
        use_llm = self.settings.llm_configured and self.settings.answerer != "extractive"
        self.llm = LLMClient(self.settings) if use_llm else None
        self.answerer = Answerer(self.embed, self.settings, self.llm)
        self.conversations = ConversationStore(self.database)
        self.feedback = FeedbackStore(self.database)
        self.condenser = Condenser(self.llm)

    def close(self) -> None:
        self.retriever.close()
        self.database.close()

    # --- documents --------------------------------------------------------------------
    def ingest(
        self, paths: Sequence[Path], sync: bool = False, progress: Progress | None = None
    ) -> IngestReport:
        """Ingest files and folders (one writer at a time per corpus, across processes)."""
        with self.store.writing(wait=INGEST_WAIT_SECONDS):
            return Ingestor(self.store, self.embed).run(paths, sync=sync, progress=progress)

    def upload(self, files: Sequence[tuple[str, bytes]]) -> IngestReport:
        """Save uploaded (filename, bytes) under ``<data>/uploads`` and ingest them."""
        folder = self.store.data_dir / "uploads"
        with self.store.writing(wait=INGEST_WAIT_SECONDS):
            saved = save_files(folder, files, self.settings.max_upload_bytes)
            return Ingestor(self.store, self.embed).run(saved)

    def add_document(self, doc: NewDocument) -> IngestReport:
        folder = self.store.data_dir / "uploads"
        with self.store.writing(wait=INGEST_WAIT_SECONDS):
            saved = save_document(folder, doc, self.settings.max_upload_bytes)
            return Ingestor(self.store, self.embed).run([saved])

    def documents(self) -> list[ArticleInfo]:
        return self.store.list_articles()

    def document(self, document_id: str) -> Article:
        return self.store.get_article(document_id)

    def delete_document(self, document_id: str) -> None:
        """Remove an article. An uploaded file goes too once none of its articles is left:
        deleting is how a user takes a text off this server. Corpus files are the user's and
        stay."""
        self.store.get_article(document_id)  # raises NotFound
        path = self.store.file_of(document_id)
        with self.store.writing(wait=INGEST_WAIT_SECONDS):
            self.store.remove_articles([document_id])
            uploads = (self.store.data_dir / "uploads").resolve()
            if path and Path(path).parent == uploads and not self.store.article_hashes(path):
                self.store.remove_file(path)
                Path(path).unlink(missing_ok=True)

    # --- questions --------------------------------------------------------------------
    def search(self, query: str, k: int | None = None, filters: Filters | None = None) -> list[Passage]:
        return self.retriever.search(clean_question(query), k or self.settings.top_k, filters)

    def ask(
        self,
        question: str,
        filters: Filters | None = None,
        top_k: int | None = None,
        focus: str | None = None,
    ) -> Answer:
        """Answer a question from the corpus, every sentence's citations verified.

        ``focus``: the user's own words when ``question`` is a condensed follow-up
        (``rag.chat.follow_up_focus``); the answer then leads with what they name."""
        final: Answer | None = None
        for event in self._answer_events(question, filters, top_k, stream=False, focus=focus):
            if event.answer is not None:
                final = event.answer
        assert final is not None
        return final

    def ask_stream(
        self,
        question: str,
        filters: Filters | None = None,
        top_k: int | None = None,
        focus: str | None = None,
    ) -> Iterator[StreamEvent]:
        """Text deltas while the answer is written, then the final verified ``Answer``.

        The deltas are the raw text (the model's own ``[n]`` numbers); the final answer's text is
        the verified one, renumbered, and is what clients should keep.
        """
        return self._answer_events(question, filters, top_k, stream=True, focus=focus)

    def _answer_events(
        self,
        question: str,
        filters: Filters | None,
        top_k: int | None,
        stream: bool,
        focus: str | None = None,
    ) -> Iterator[StreamEvent]:
        # Validation and retrieval run before the first event, so bad input raises at the call.
        question = clean_question(question)
        if self.store.count_articles() == 0:
            raise NothingIndexed()
        # A question crediting an outlet the corpus lacks, or naming someone it never
        # mentions, cannot be answered from it: refusing beats citing a lookalike (this took
        # MultiHop-RAG null-question refusals from 0.69 to 0.91, answerable ones kept 0.99).
        # The same plan then drives retrieval, so the question is analysed once.
        plan = self.retriever.plan(question, filters)
        reason = plan.unanswerable()
        if reason:
            return iter([StreamEvent(type="answer", answer=refusal(question, reason=reason))])
        passages = self.retriever.search(question, top_k or self.settings.top_k, filters, plan=plan)
        return self.answerer.events(question, passages, stream=stream, focus=focus)

    # --- conversations ----------------------------------------------------------------
    def chat(self, message: str, conversation_id: str | None = None, create: bool = False) -> ChatReply:
        """One turn of a multi-turn conversation; follow-ups are condensed before retrieval.

        ``create=True`` starts an unknown ``conversation_id`` instead of raising NotFound
        (Slack keys conversations by thread).
        """
        conversation_id, events = self.chat_stream(message, conversation_id, create)
        final = [e.answer for e in events if e.answer is not None]
        return ChatReply(conversation_id=conversation_id, answer=final[-1])

    def chat_stream(
        self, message: str, conversation_id: str | None = None, create: bool = False
    ) -> tuple[str, Iterator[StreamEvent]]:
        """The conversation id (new when None) and the turn's answer stream.

        The turn is stored once its final answer has been produced.
        """
        message = clean_question(message)
        history: list[Exchange] = []
        if conversation_id is None:
            conversation_id = new_id()
        elif self.conversations.exists(conversation_id) or not create:
            turns = self.conversations.get(conversation_id).turns  # raises NotFound
            history = [Exchange(t.message, t.question, t.answer.answer) for t in turns]
        question = self.condenser.condense(message, history)

        def events() -> Iterator[StreamEvent]:
            for event in self.ask_stream(question, focus=follow_up_focus(message, question)):
                if event.answer is not None:
                    self.conversations.append(conversation_id, message, question, event.answer)
                yield event

        return conversation_id, events()

    def condense(self, messages: Sequence[tuple[str, str]], message: str) -> str:
        """A standalone question from a stateless transcript (OpenAI-style message lists)."""
        return self.condenser.condense(clean_question(message), self.condenser.history(messages))

    # --- research summaries -------------------------------------------------------------
    def summarize(self, topic: str, filters: Filters | None = None) -> Summary:
        """Key points, timeline and sources on a topic, every claim citing an exact span."""
        return Summarizer(self.retriever, self.embed, self.settings, self.llm).summarize(topic, filters)
