"""Ingestion: files -> articles -> chunks (LlamaIndex SentenceSplitter) -> embeddings (of each
chunk, and of each of its sentences for the ranker) -> store (which adds each chunk's passage
span, ``rag.store.spans``).

Input: paths (files or directories). Output: an ``IngestReport`` (added / updated / unchanged /
removed / skipped with reason). Incremental: a file whose bytes are unchanged is not parsed;
an article whose content hash (and index settings) are unchanged is not re-embedded; a changed
article's old chunks are replaced; ``sync=True`` also removes articles whose files are gone.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.documents import content_hash, discover, file_hash, iter_files, load_bytes
from rag.embeddings import Embedder
from rag.errors import RagError, UnreadableFile
from rag.models import Article, IngestReport, SkippedFile
from rag.store import Chunk, Store
from rag.store.catalog import SentenceVectors
from rag.text import sentence_spans

if TYPE_CHECKING:
    from llama_index.core.ingestion import IngestionPipeline

log = logging.getLogger(__name__)

# Articles embedded per pipeline run: also the unit of commit, so an interrupt loses little.
BATCH_ARTICLES = 16
BACKFILL_CHUNKS = 256  # chunks given sentence vectors per commit when upgrading an index

Progress = Callable[[int, int, str], None]  # (done, total, what): articles; chunks for a backfill
WAITING = "waiting for another ingest"  # the ``what`` told while another process writes
# How long a write waits for another process's ingest before it is refused (StoreBusy).
INGEST_WAIT_SECONDS = 30.0
Pending = dict[str, tuple[Article, str, str]]  # article id -> (article, file, stored hash)


def told_waiting(progress: Progress | None) -> Callable[[], None] | None:
    """What the writer lock calls when another ingest holds it: ``progress`` told ``WAITING``."""
    return (lambda: progress(0, 0, WAITING)) if progress else None


def index_signature(store: Store, embed: Embedder) -> str:
    s = store.settings
    return f"{embed.model_name}|{s.chunk_size}|{s.chunk_overlap}|v1"


def _stored_hash(article: Article, signature: str) -> str:
    # Changing the embedding model or chunking re-embeds everything on the next ingest.
    return hashlib.sha256(f"{article.content_hash}|{signature}".encode()).hexdigest()


def _locate(article: Article, chunk: str, hint: int) -> tuple[int, int]:
    """Find a chunk's span in the article when the splitter could not (whitespace changed)."""
    pattern = re.compile(r"\s+".join(re.escape(tok) for tok in chunk.split()))
    match = pattern.search(article.text, max(0, hint)) or pattern.search(article.text)
    if match is None:
        raise UnreadableFile(
            f"{article.origin}: a chunk of '{article.title[:60]}' cannot be placed in its text, so it "
            "could not be cited exactly; please report this file."
        )
    return match.start(), match.end()


class Ingestor:
    """Runs ingestion against one store with one embedding model."""

    def __init__(self, store: Store, embed: Embedder) -> None:
        self.store = store
        self.embed = embed
        self.signature = index_signature(store, embed)
        # Only the embedding ranker reads sentence vectors; they double the embedding work, so
        # RAG_RANK_EMBEDDINGS=false skips them, and turning it back on fills them in at the next
        # ingest (without re-embedding the chunks).
        self.sentence_vectors = store.settings.rank_embeddings

    @cached_property
    def pipeline(self) -> IngestionPipeline:
        """LlamaIndex's splitter and our embedding, built only when something is to be embedded
        (importing LlamaIndex costs seconds an unchanged corpus need not pay)."""
        from llama_index.core.ingestion import IngestionPipeline
        from llama_index.core.node_parser import SentenceSplitter

        s = self.store.settings
        splitter = SentenceSplitter(
            chunk_size=s.chunk_size, chunk_overlap=s.chunk_overlap, include_prev_next_rel=False
        )
        return IngestionPipeline(transformations=[splitter, PipelineEmbedding.wrap(self.embed)])

    @cached_property
    def tokenizer(self) -> Any:
        from llama_index.core.utils import get_tokenizer

        return get_tokenizer()  # the one SentenceSplitter counts tokens with

    def _fit(self, text: str, share: int) -> str:
        """``text`` cut to 1/``share`` of the chunk size in tokens.

        The splitter counts metadata against the chunk size and fails outright when it does
        not fit, so a pathological title (or outlet) is shortened for embedding purposes.
        """
        budget = self.store.settings.chunk_size // share
        while text and len(self.tokenizer(text)) > budget:
            text = text[: len(text) * 3 // 4]
        return text

    def embed_sentences(self, chunks: Sequence[Chunk]) -> list[SentenceVectors]:
        """Per chunk, its sentences' vectors (sentences x dim) and spans (article offsets): the
        ranker compares each sentence with each part of a question, since the fact a part asks
        about is one sentence of a chunk; the answerer reads them instead of embedding again."""
        spans = [sentence_spans(c.text, offset=c.start) for c in chunks]
        pieces = [
            [c.text[a - c.start : b - c.start] for a, b in ss] for c, ss in zip(chunks, spans, strict=True)
        ]
        flat = [sentence for piece in pieces for sentence in piece]
        # Each distinct sentence once: consecutive chunks share their overlap, and outlets repeat
        # their boilerplate (docs/performance-log.md, "Cold ingest"). The embedder batches them
        # by length.
        distinct = list(dict.fromkeys(flat))
        embedded = self.embed.embed_batch(distinct)  # (0, 0) when there are none
        row = {sentence: i for i, sentence in enumerate(distinct)}
        vectors = embedded[[row[sentence] for sentence in flat]] if flat else embedded
        bounds = np.cumsum([0] + [len(piece) for piece in pieces])
        return [(vectors[a:b], ss) for a, b, ss in zip(bounds[:-1], bounds[1:], spans, strict=True)]

    def chunk_and_embed(self, articles: Sequence[Article]) -> tuple[list[list[Chunk]], np.ndarray]:
        from llama_index.core import Document
        from llama_index.core.schema import MetadataMode, TextNode

        docs = [
            Document(
                id_=a.id,
                text=a.text,
                metadata={"title": self._fit(a.title, 4), "source": self._fit(a.source or "", 8)},
                excluded_llm_metadata_keys=["title", "source"],
            )
            for a in articles
        ]
        nodes = self.pipeline.run(documents=docs, show_progress=False)
        by_doc: dict[str, list[TextNode]] = {a.id: [] for a in articles}
        for node in nodes:
            if isinstance(node, TextNode) and node.ref_doc_id in by_doc:
                by_doc[node.ref_doc_id].append(node)
        chunks: list[list[Chunk]] = []
        vectors: list[list[float]] = []
        for article in articles:
            out: list[Chunk] = []
            hint = 0
            for ordinal, node in enumerate(by_doc[article.id]):
                content = node.get_content(metadata_mode=MetadataMode.NONE)
                start, end = node.start_char_idx, node.end_char_idx
                if start is None or end is None or article.text[start:end] != content:
                    start, end = _locate(article, content, hint)
                hint = start + 1
                out.append(
                    Chunk(f"{article.id}:{ordinal}", article.id, ordinal, start, end, article.text[start:end])
                )
                vectors.append(node.get_embedding())
            chunks.append(out)
        dim = len(vectors[0]) if vectors else 0
        return chunks, np.asarray(vectors, dtype=np.float32).reshape(len(vectors), dim)

    def run(
        self,
        paths: Sequence[Path],
        sync: bool = False,
        progress: Progress | None = None,
        rebuild: bool = False,
    ) -> IngestReport:
        """Ingest ``paths``; with ``rebuild``, every stored article is embedded again from its
        stored text first (a damaged or foreign vector store, another embedding model)."""
        started = time.perf_counter()
        report = IngestReport()
        roots = [p.resolve() for p in paths]
        discover(roots)  # fails fast with a clear message on a missing path
        if self.store.get_meta("dirty"):
            removed = self.store.repair()
            log.info("repaired interrupted ingest", extra={"orphan_vectors": removed})
        self.store.set_meta("dirty", "1")
        # File hashes only vouch for articles indexed with today's model and chunking.
        trust_files = not rebuild and self.store.get_meta("signature") == self.signature
        pending: Pending = {} if trust_files else self._reembed_all(report)
        finished, seen = self._scan(roots, trust_files, pending, report)
        if sync:
            for known in self.store.known_files():
                inside = any(Path(known) == r or Path(known).is_relative_to(r) for r in roots)
                if inside and known not in seen:
                    report.removed.extend(self.store.remove_file(known))
        self._write(list(pending.values()), report, progress)
        # File hashes are recorded last: a file is "unchanged" only once all its articles are in.
        for key, digest in finished.items():
            self.store.set_file(key, digest)
        if self.sentence_vectors:
            self._backfill_sentence_vectors(progress)
        upgraded = self.store.fill_passage_spans()  # an index from before passage spans
        if upgraded:
            log.info("passage spans added", extra={"articles": upgraded})
        filled = self.store.fill_sentences()  # an index from before sentence spans were kept
        if filled:
            log.info("sentence spans added", extra={"articles_and_chunks": filled})
        # The keyword index is rebuilt by the caller once the writer lock is released
        # (``Engine.ingest``): writes queued behind this one do not wait for it.
        self.store.set_meta("signature", self.signature)
        self.store.set_meta("dirty", "")
        report.seconds = round(time.perf_counter() - started, 3)
        return report

    def _reembed_all(self, report: IngestReport) -> Pending:
        """A new model or chunking: vectors of the old one cannot be mixed in, so the collection
        is recreated and every stored article re-embedded from its text."""
        pending: Pending = {}
        if not self.store.count_articles():
            return pending
        self.store.reset_vectors()
        for article, file_path in self.store.iter_articles():
            article.content_hash = content_hash(article)
            pending[article.id] = (article, file_path, _stored_hash(article, self.signature))
            report.updated.append(article.id)
        return pending

    def _scan(
        self, roots: list[Path], trust_files: bool, pending: Pending, report: IngestReport
    ) -> tuple[dict[str, str], set[str]]:
        """Read the files under ``roots``: new or changed articles join ``pending``, articles a
        changed file no longer holds are removed. Returns the files read (path -> hash) and
        every file seen."""
        finished: dict[str, str] = {}
        seen: set[str] = set()
        for path, data, reason in iter_files(roots):
            key = str(path)
            seen.add(key)
            if data is None:
                report.skipped.append(SkippedFile(path=key, reason=reason or "unreadable"))
                continue
            digest = file_hash(data)
            previous = self.store.article_hashes(key)
            if trust_files and digest == self.store.file_hash(key) and previous:
                report.unchanged.extend(previous)
                continue
            try:
                articles = load_bytes(path, data, origin=_display(path))
            except RagError as exc:
                report.skipped.append(SkippedFile(path=key, reason=str(exc)))
                continue
            gone = [doc_id for doc_id in previous if doc_id not in {a.id for a in articles}]
            if gone:
                self.store.remove_articles(gone)
                report.removed.extend(gone)
            for article in articles:
                stored = _stored_hash(article, self.signature)
                if previous.get(article.id) == stored:
                    report.unchanged.append(article.id)
                    continue
                if article.id not in pending:
                    (report.updated if article.id in previous else report.added).append(article.id)
                pending[article.id] = (article, key, stored)
            finished[key] = digest
        return finished, seen

    def _write(
        self, todo: list[tuple[Article, str, str]], report: IngestReport, progress: Progress | None
    ) -> None:
        """Chunk, embed and store ``todo`` (article, file, stored hash), a batch per commit."""
        total = len(todo)
        if progress:
            progress(0, total, "embedding")
        for i in range(0, total, BATCH_ARTICLES):
            batch = todo[i : i + BATCH_ARTICLES]
            chunks, vectors = self.chunk_and_embed([a for a, _, _ in batch])
            sentences = [c for article_chunks in chunks for c in article_chunks]
            self.store.write_articles(
                [(a, f, h, c) for (a, f, h), c in zip(batch, chunks, strict=True)],
                vectors,
                self.embed_sentences(sentences) if self.sentence_vectors else (),
            )
            report.chunks_embedded += len(vectors)
            if progress:
                progress(min(i + BATCH_ARTICLES, total), total, "embedding")

    def _backfill_sentence_vectors(self, progress: Progress | None) -> None:
        """Sentence vectors for chunks indexed before they existed (or restored from a Chroma
        server), so an upgraded index gains them without re-embedding its chunks."""
        missing = self.store.without_sentence_vectors()
        for done in range(0, len(missing), BACKFILL_CHUNKS):
            todo = missing[done : done + BACKFILL_CHUNKS]
            vectors = self.embed_sentences(todo)
            self.store.add_sentence_vectors([(c.id, v) for c, v in zip(todo, vectors, strict=True)])
            if progress:
                progress(done + len(todo), len(missing), "sentence vectors")


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _pipeline_embedding() -> type:
    """``PipelineEmbedding``'s class, defined when first needed (it subclasses LlamaIndex's)."""
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from pydantic import PrivateAttr

    class PipelineEmbedding(BaseEmbedding):
        """Our embedding (anything with ``embed_batch``) as the last step of an IngestionPipeline."""

        _inner: Any = PrivateAttr()

        def __init__(self, inner: Any, **kw: Any) -> None:
            super().__init__(model_name=inner.model_name, embed_batch_size=inner.embed_batch_size, **kw)
            self._inner = inner

        @classmethod
        def class_name(cls) -> str:
            return "PipelineEmbedding"

        def _get_query_embedding(self, query: str) -> list[float]:
            return self._inner.embed_queries([query])[0].tolist()  # type: ignore[no-any-return]

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

        def _get_text_embedding(self, text: str) -> list[float]:
            return self._inner.embed_batch([text])[0].tolist()  # type: ignore[no-any-return]

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return self._inner.embed_batch(texts).tolist()  # type: ignore[no-any-return]

    return PipelineEmbedding


class PipelineEmbedding:
    """Wraps an embedding for LlamaIndex's ``IngestionPipeline``; the LlamaIndex class behind it
    is made on first use, so importing this module does not import LlamaIndex."""

    _class: type | None = None

    @classmethod
    def wrap(cls, inner: Any) -> Any:
        if cls._class is None:
            cls._class = _pipeline_embedding()
        return cls._class(inner)
