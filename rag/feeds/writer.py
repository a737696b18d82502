"""Storing the articles read from the web, once per story.

Each article is keyed by its canonical URL (``rag.sources.article_id``). One already stored
under that key is left alone when unchanged and replaced (its chunks re-embedded) when its text
or metadata changed. A new one that is a copy of a stored story (the same text, or a near
duplicate by MinHash, ``rag.sources.DuplicateIndex``) is not stored: the outlet and URL that
carried it are recorded against the story instead, so retrieval never returns two copies.

Writing goes through the ingest path every file takes (``rag.ingest.Ingestor``: chunking,
embedding, ``Store.write_articles``) under the corpus's writer lock, each article under the
synthetic file key ``url:<canonical URL>``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from rag.feeds.crawl import Found
from rag.feeds.records import Known, Records
from rag.feeds.reports import FeedReport, Folded
from rag.ingest import BATCH_ARTICLES, INGEST_WAIT_SECONDS, Ingestor, Progress, told_waiting
from rag.models import Article
from rag.sources import DuplicateIndex, Signature, normalize_url, to_article

if TYPE_CHECKING:
    from rag.engine import Engine

log = logging.getLogger(__name__)


def file_key(article: Article) -> str:
    """The catalog's file key of an article read from the web."""
    return f"url:{article.url}"


def text_hash(text: str) -> str:
    return hashlib.sha256(" ".join(text.split()).encode()).hexdigest()


def stored_hash(article: Article, signature: str) -> str:
    """The formula of ``rag.ingest._stored_hash`` (tests hold them equal): an article is unchanged
    only when its content and the index's model and chunking are."""
    return hashlib.sha256(f"{article.content_hash}|{signature}".encode()).hexdigest()


class Writer:
    """Stores what one crawl read, folding copies into the stories they copy."""

    def __init__(self, engine: Engine, records: Records) -> None:
        self.engine = engine
        self.records = records

    def store(
        self,
        found: Sequence[Found],
        origin: str,
        report: FeedReport,
        now: datetime,
        progress: Progress | None = None,
    ) -> None:
        """Store ``found`` (read from ``origin``, a source or a URL given) and record its URLs."""
        if not found:
            return
        store = self.engine.store
        stored = store.article_hashes()
        signature = Ingestor(store, self.engine.embed).signature
        index, by_text = self._duplicates(set(stored))
        todo: dict[str, tuple[Article, Signature]] = {}
        seen: list[Known] = []
        for item in found:
            article = to_article(item.page, origin=origin)
            story = article.id
            if article.id in stored and stored[article.id] == stored_hash(article, signature):
                report.unchanged.append(article.id)
            elif article.id in stored or article.id in todo:
                if article.id not in todo:
                    report.updated.append(article.id)
                todo[article.id] = (article, index.add(article.id, article.text))
            else:
                copy_of = by_text.get(text_hash(article.text)) or index.find(article.text)
                if copy_of is not None:
                    self._fold(copy_of, article, report, now)
                    story = copy_of
                else:
                    report.added.append(article.id)
                    todo[article.id] = (article, index.add(article.id, article.text))
                    by_text[text_hash(article.text)] = article.id
            urls = {item.item.link, item.page.fetched_url, article.url or item.page.url}
            stamp = item.item.updated
            seen += [Known(normalize_url(u), story, item.etag, item.last_modified, stamp) for u in urls]
        articles = [article for article, _ in todo.values()]
        self._write(articles, signature, report, progress)
        self.records.save_signatures([(a.id, text_hash(a.text), sig.to_bytes()) for a, sig in todo.values()])
        for article in articles:
            self.records.carry(article.id, article, article.url or "", now)
        self.records.remember(seen, now)

    def _fold(self, story: str, copy: Article, report: FeedReport, now: datetime) -> None:
        url = copy.url or ""
        if any(c.url == url for c in self.records.carriers([story]).get(story, [])):
            report.unchanged.append(story)  # a copy already recorded as carrying it
            return
        self.records.carry(story, copy, url, now)
        report.folded.append(Folded(url=url, story_id=story, outlet=copy.source))
        log.debug("folded a syndicated copy", extra={"url": url, "story": story})

    def _duplicates(self, stored: set[str]) -> tuple[DuplicateIndex, dict[str, str]]:
        """The signatures of every stored article (computed once for those stored without one,
        such as files ingested before, and dropped for articles deleted since), and the
        article holding each exact text."""
        saved = self.records.signatures()
        gone = [article_id for article_id, _, _ in saved if article_id not in stored]
        if gone:
            self.records.drop_signatures(gone)
        have = {article_id for article_id, _, _ in saved}
        index = DuplicateIndex.from_signatures((a, s) for a, _, s in saved if a in stored)
        by_text = {digest: a for a, digest, _ in saved if a in stored}
        missing = stored - have
        if missing:
            added: list[tuple[str, str, bytes]] = []
            for article, _ in self.engine.store.iter_articles():
                if article.id in missing:
                    sig = index.add(article.id, article.text)
                    by_text.setdefault(text_hash(article.text), article.id)
                    added.append((article.id, text_hash(article.text), sig.to_bytes()))
            self.records.save_signatures(added)
        return index, by_text

    def _write(
        self, todo: list[Article], signature: str, report: FeedReport, progress: Progress | None
    ) -> None:
        """Chunk, embed and store ``todo`` as every ingest does, under the writer lock."""
        if not todo:
            return
        store = self.engine.store
        with store.writing(wait=INGEST_WAIT_SECONDS, waiting=told_waiting(progress)):
            ingestor = Ingestor(store, self.engine.embed)
            # An ingest's own start: completes an interrupted one, re-embeds for a new model.
            report.updated.extend(i for i in ingestor.run([]).updated if i not in report.updated)
            store.set_meta("dirty", "1")
            for start in range(0, len(todo), BATCH_ARTICLES):
                batch = todo[start : start + BATCH_ARTICLES]
                chunks, vectors = ingestor.chunk_and_embed(batch)
                flat = [chunk for article_chunks in chunks for chunk in article_chunks]
                sentences = ingestor.embed_sentences(flat) if ingestor.sentence_vectors else ()
                items = [
                    (a, file_key(a), stored_hash(a, signature), c) for a, c in zip(batch, chunks, strict=True)
                ]
                store.write_articles(items, vectors, sentences)
                report.chunks_embedded += len(vectors)
                if progress:
                    progress(start + len(batch), len(todo), "embedding")
            store.set_meta("dirty", "")
        store.lexical()  # after the lock, as every ingest (``Engine._index_written``)
        self.engine.retriever.prepare()
