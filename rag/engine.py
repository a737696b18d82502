"""The engine: one object that owns the store, the embedding model, retrieval and answering.

Every transport (CLI, HTTP routes, Slack) builds one ``Engine`` from ``Settings`` and calls its
methods; none of them holds retrieval or prompting logic.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rag import runtime
from rag.answer import Answerer, asked_as, refusal
from rag.chat import Condenser, Exchange, follow_up_focus
from rag.config import Settings
from rag.conversations import ChatReply, ConversationStore, new_id
from rag.doctor import Finding, diagnose
from rag.embeddings import Embedder, OnnxEmbedding, embedding, local_embedding
from rag.errors import BadInput, IndexMismatch, NothingIndexed, RagError, StoreUnavailable
from rag.feedback import FeedbackStore
from rag.ingest import INGEST_WAIT_SECONDS, Ingestor, Progress, index_signature, told_waiting
from rag.judge import Verifier
from rag.llm import LLMClient
from rag.models import (
    MAX_QUESTION_CHARS,
    Answer,
    Article,
    ArticleInfo,
    Filters,
    IngestReport,
    Passage,
    StreamEvent,
)

if TYPE_CHECKING:
    from rag.summary import Summary
from rag.retrieval import INDEX_EXTENSIONS, Retriever
from rag.retrieval.latest import leads, names_only_a_period
from rag.retrieval.relative import relative_filters, without_named_period
from rag.store import GENERATION_MAX_AGE, Store
from rag.store.database import Database, database_url
from rag.text import sentence_spans
from rag.uploads import PENDING, NewDocument, recoverable, save_document, save_files
from rag.verification import ClaimChecker
from rag.verify import TextChecker, Verification, VerifyDocument

log = logging.getLogger(__name__)


def clean_question(question: str | None) -> str:
    text = (question or "").replace("\x00", "").strip()
    if not text:
        raise BadInput("The question is empty; ask something, e.g. 'What is China providing Russia?'")
    if len(text) > MAX_QUESTION_CHARS:
        raise BadInput(f"The question is longer than {MAX_QUESTION_CHARS} characters; shorten it.")
    return text


class Engine:
    """The store, the embedding model, retrieval, answering, conversations and feedback of one
    corpus; every transport calls these methods."""

    def __init__(self, settings: Settings | None = None, embed: Embedder | None = None) -> None:
        self.settings = settings or Settings()
        runtime.prepare_process()
        data_dir = self.settings.resolved_data_dir()
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # a file in the way, a read-only or virtual filesystem
            reason = "a file is in the way" if data_dir.is_file() else exc.strerror or str(exc)
            raise StoreUnavailable(
                f"Cannot use {data_dir} as the data directory: {reason}. "
                "Set RAG_DATA_DIR (or --data-dir) to a folder this user can write."
            ) from None
        self.database = Database(database_url(self.settings.database_url, data_dir), data_dir)
        # Loading the model is slow next to the rest: tests and benchmarks share one between engines.
        self.embed = embed or embedding(self.settings)
        self.store = Store(self.settings, self.database, INDEX_EXTENSIONS)
        if self.settings.chroma_url and not self.store.count_articles():  # a replica, empty
            self.store.restore_catalog(index_signature(self.store, self.embed), wait=INGEST_WAIT_SECONDS)
        self.retriever = Retriever(self.store, self.embed)
        # One openai client per engine, shared by the answerer and the claim judge; each uses it
        # only when its setting allows (RAG_ANSWERER, RAG_VERIFIER).
        client = LLMClient(self.settings) if self.settings.llm_configured else None
        self.llm = client if self.settings.answerer != "extractive" else None
        judge = client if self.settings.verifier != "local" else None
        # The claim checker reads token states, which only the local model gives.
        local = self.embed if isinstance(self.embed, OnnxEmbedding) else local_embedding(self.settings)
        self.verifier = Verifier(ClaimChecker(local), judge, self.settings.verifier)
        self.answerer = Answerer(self.embed, self.settings, self.verifier, self.llm, sentences=self.store)
        self.conversations = ConversationStore(self.database)
        self.feedback = FeedbackStore(self.database)
        self.condenser = Condenser(self.llm)
        self._checked_generation: int | None = None

    def warm_up(self) -> None:
        """Load now what the first question would (the embedding sessions, this generation's
        lexical index and matrices, the sentence splitter), so a server answers its first
        request as fast as its next; a failure here is the first request's to report."""
        try:
            self.embed.embed_queries(["warm up"])
            self.retriever.prepare()
            self.retriever.search("warm up", k=1)
            sentence_spans("Warm up. The splitter loads its model.")
        except NothingIndexed:
            pass  # an empty corpus: nothing to load until the first ingest
        except RagError as exc:
            log.warning("warm-up failed", extra={"error": str(exc)})

    def close(self) -> None:
        self.retriever.close()
        self.database.close()

    # --- documents --------------------------------------------------------------------
    def ingest(
        self,
        paths: Sequence[Path],
        sync: bool = False,
        progress: Progress | None = None,
        rebuild: bool = False,
    ) -> IngestReport:
        """Ingest files and folders (one writer at a time per corpus, across processes); with
        ``rebuild``, every stored article is embedded again from its stored text."""
        try:
            with self.store.writing(wait=INGEST_WAIT_SECONDS, waiting=told_waiting(progress)):
                report = Ingestor(self.store, self.embed).run(
                    paths, sync=sync, progress=progress, rebuild=rebuild
                )
            self._index_written(report)
        except OSError as exc:  # a full disk, a read-only data dir: the index as it was still answers
            raise StoreUnavailable(
                f"Cannot write the index in {self.store.data_dir}: {exc.strerror or exc}. Free some "
                "space (or fix the permissions) and run the ingest again; nothing committed is lost."
            ) from exc
        return report

    def _index_written(self, report: IngestReport | None) -> None:
        """After a write, outside the writer lock: the keyword index and the search's view of
        the new generation, built now rather than in the first question's time. Outside the lock
        so writes queued behind this one need not wait for it; one rebuild serves every write
        committed meanwhile (``Store.lexical`` builds once per generation)."""
        changed = report is not None and bool(report.added or report.updated or report.removed)
        if changed or not self.store.lexical_is_current():
            self.store.lexical()
            try:
                self.retriever.prepare()
            except StoreUnavailable as exc:  # the write is committed; the next search retries
                log.warning("could not prepare the search after a write", extra={"error": str(exc)})

    def rebuild(self, paths: Sequence[Path] = (), progress: Progress | None = None) -> IngestReport:
        """Embed every stored article again from its stored text (a catalog set aside as damaged
        is first restored from the vector store's copy), then ingest ``paths``."""
        if not self.store.count_articles():
            self.store.restore_catalog(index_signature(self.store, self.embed), wait=INGEST_WAIT_SECONDS)
        return self.ingest(paths, progress=progress, rebuild=True)

    def recover(self) -> IngestReport | None:
        """Complete what a killed process left (at a server's start): uploads saved but not
        ingested, an interrupted ingest. None when there was nothing to do."""
        with self.store.writing(wait=INGEST_WAIT_SECONDS):
            pending = recoverable(self.store, self.uploads)
            if not pending and not self.store.get_meta("dirty"):
                return None
            report = Ingestor(self.store, self.embed).run(pending)
            # An upload the ingest cannot read (saved before uploads were checked for articles)
            # would be retried at every start: it goes, with its pending record.
            unreadable = {s.path for s in report.skipped}
            for path in pending:
                if str(path) in unreadable and self.store.file_hash(str(path)) == PENDING:
                    self.store.forget_file(str(path))
                    path.unlink(missing_ok=True)
        self._index_written(report)
        return report

    @property
    def uploads(self) -> Path:
        return (self.store.data_dir / "uploads").resolve()

    def _pending(self, path: Path) -> None:
        self.store.set_file(str(path.resolve()), PENDING)

    def check_index(self) -> None:
        """Refuse to search an index built with another embedding model or chunking: its vectors
        cannot be compared with this model's (``rag rebuild`` embeds it again)."""
        stored = self.store.get_meta("signature")
        current = index_signature(self.store, self.embed)
        if stored and stored != current and self.store.count_articles():
            model, size, overlap, _ = (stored.split("|") + ["", "", "", ""])[:4]
            raise IndexMismatch(
                f"This index was built with embedding model {model!r} and chunks of {size}/{overlap} "
                f"tokens; the settings say {current.split('|')[0]!r} and "
                f"{self.settings.chunk_size}/{self.settings.chunk_overlap}. Run `rag rebuild` to "
                "embed it again with these settings, or set them back."
            )

    def doctor(self) -> list[Finding]:
        """What is wrong with this corpus, each with the command that mends it (``rag doctor``)."""
        return diagnose(self.database, self.store, index_signature(self.store, self.embed))

    def upload(self, files: Sequence[tuple[str, bytes]]) -> IngestReport:
        """Save uploaded (filename, bytes) under ``<data>/uploads`` and ingest them."""
        with self.store.writing(wait=INGEST_WAIT_SECONDS):
            saved = save_files(self.uploads, files, self.settings.max_upload_bytes, self._pending)
            report = Ingestor(self.store, self.embed).run(saved)
        self._index_written(report)
        return report

    def add_document(self, doc: NewDocument) -> IngestReport:
        with self.store.writing(wait=INGEST_WAIT_SECONDS):
            saved = save_document(self.uploads, doc, self.settings.max_upload_bytes, self._pending)
            report = Ingestor(self.store, self.embed).run([saved])
        self._index_written(report)
        return report

    def documents(self) -> list[ArticleInfo]:
        from rag.feeds import carried_by  # the web-reading stack only where it is needed

        return carried_by(self.database, self.store.list_articles())

    def document(self, document_id: str) -> Article:
        from rag.feeds import carried_by

        return carried_by(self.database, [self.store.get_article(document_id)])[0]

    def delete_document(self, document_id: str) -> None:
        """Remove an article. An uploaded file goes too once none of its articles is left:
        deleting is how a user takes a text off this server. Corpus files are the user's and
        stay."""
        self.store.get_article(document_id)  # raises NotFound before waiting for a writer
        with self.store.writing(wait=INGEST_WAIT_SECONDS):
            # Read again under the lock: a delete or re-upload may have landed while it waited.
            self.store.get_article(document_id)
            path = self.store.file_of(document_id)
            self.store.remove_articles([document_id])
            # An upload may sit on another replica's disk: its record goes, and that replica
            # removes the file at its next start (``recoverable``).
            if path and Path(path).parent.name == "uploads" and not self.store.article_hashes(path):
                self.store.remove_file(path)
                if Path(path).parent == self.uploads:
                    Path(path).unlink(missing_ok=True)
        self.store.refresh_lexical_soon()

    # --- questions --------------------------------------------------------------------
    def search(self, query: str, k: int | None = None, filters: Filters | None = None) -> list[Passage]:
        self._index_usable()
        query = clean_question(query)
        asked, filters = filters, relative_filters(query, filters, self.store.lexical(wait=False))
        if filters is not asked:
            query = without_named_period(query)
        return self.retriever.search(query, k or self.settings.top_k, filters)

    def _index_usable(self) -> None:
        """``check_index`` once per corpus generation (an ingest may have rebuilt it meanwhile)."""
        generation = self.store.generation(max_age=GENERATION_MAX_AGE)
        if self._checked_generation != generation:
            self.check_index()
            self._checked_generation = generation

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
        self._index_usable()
        if self.store.count_articles() == 0:
            raise NothingIndexed()
        # "This week", "recently": a date filter where the corpus holds articles then.
        asked, filters = filters, relative_filters(question, filters, self.store.lexical(wait=False))
        if filters is not asked and filters is not None and names_only_a_period(question):
            newest = leads(self.store, filters, self.settings.max_answer_sentences)
            if newest:  # "What happened this week?": the period's newest stories
                return self.answerer.events(question, newest, stream=stream, digest=True)
        # A question crediting an outlet the corpus lacks, or naming someone it never
        # mentions, cannot be answered from it: refusing beats citing a lookalike (measured on
        # MultiHop-RAG's null questions: docs/retrieval-log.md).
        # The same plan then drives retrieval, so the question is analysed once.
        topic = without_named_period(question) if filters is not asked else question
        plan = self.retriever.plan(topic, filters)
        reason = plan.unanswerable()
        if reason:
            return iter([StreamEvent(type="answer", answer=refusal(question, reason=reason))])
        passages = self.retriever.search(topic, top_k or self.settings.top_k, filters, plan=plan)
        events = self.answerer.events(topic, passages, stream=stream, focus=focus)
        return events if topic == question else asked_as(question, events)

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
        from rag.summary import Summarizer  # SciPy and the templates only where summaries are made

        self._index_usable()  # an index of another model's vectors is refused, as for questions
        summarizer = Summarizer(
            self.retriever, self.embed, self.settings, self.verifier, self.llm, database=self.database
        )
        return summarizer.summarize(topic, filters)

    # --- checking any text --------------------------------------------------------------
    def verify(
        self,
        text: str,
        documents: Sequence[VerifyDocument] | None = None,
        filters: Filters | None = None,
        top_k: int | None = None,
    ) -> Verification:
        """Each sentence of ``text`` checked against ``documents`` (nothing stored) or, without
        them, against the corpus (evidence retrieved per sentence within ``filters``)."""
        if not documents:
            self._index_usable()
        if not documents and self.store.count_articles() == 0:
            raise NothingIndexed(
                "Nothing is indexed to check the text against: ingest articles first, or send "
                "the documents to check it against."
            )
        return TextChecker(self.verifier, self.retriever, self.store).verify(text, documents, filters, top_k)
