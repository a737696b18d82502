"""The store on its own: what a write commits, what a removal takes away, what a repair mends,
and that the lexical index follows the corpus generation, with the catalog on SQLite and on
Postgres. Small hand-made articles and vectors, no embedding model."""

from __future__ import annotations

import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from rag.config import Settings
from rag.models import Article, Filters
from rag.store import Chunk, Store, lexical, matrices
from rag.store.catalog import Catalog
from rag.text import keyword_tokens, sentence_spans
from tests.store.conftest import Opener


def article(key: str, text: str, source: str = "Reuters") -> Article:
    return Article(
        id=key, title=f"Title {key}", text=text, source=source, origin=f"{key}.txt", content_hash=key
    )


def chunks_of(a: Article, size: int = 40) -> list[Chunk]:
    """Fixed-width chunks at exact offsets (the store does not care how they were cut)."""
    return [
        Chunk(f"{a.id}:{i}", a.id, i, start, min(start + size, len(a.text)), a.text[start : start + size])
        for i, start in enumerate(range(0, len(a.text), size))
    ]


@pytest.fixture
def store(tmp_path: Path, open_db: Opener) -> Store:
    settings = Settings(data_dir=tmp_path / "data")
    return Store(settings, open_db(settings.resolved_data_dir()))


def write(store: Store, *articles: Article) -> None:
    items = [(a, f"/corpus/{a.id}.txt", f"hash-{a.id}", chunks_of(a)) for a in articles]
    n = sum(len(c) for *_, c in items)
    vectors = np.random.default_rng(0).normal(size=(n, 8)).astype(np.float32)
    store.write_articles(items, vectors)


RATES = "The central bank raised interest rates. Markets fell sharply after the decision."
CUP = "The home team won the cup final on Sunday. Fans celebrated in the streets."


def test_a_write_commits_articles_chunks_vectors_and_passages(store: Store) -> None:
    write(store, article("rates", RATES), article("cup", CUP, source="Sporting News"))
    assert store.count_articles() == 2 and store.generation() == 1
    assert store.vector_ids() == {
        c.id for a in (article("rates", RATES), article("cup", CUP)) for c in chunks_of(a)
    }
    (passage,) = store.passages([("rates:0", 0.9)])
    # The chunk comes back as its passage: grown by whole sentences, still an exact span.
    assert passage.text == RATES[passage.start : passage.end] and passage.start == 0
    assert passage.end >= 40 and passage.score == 0.9 and passage.source == "Reuters"
    assert store.sources() == ["Reuters", "Sporting News"]


def test_removing_an_article_takes_its_rows_and_vectors_and_bumps_the_generation(store: Store) -> None:
    write(store, article("rates", RATES), article("cup", CUP))
    store.remove_articles(["cup"])
    assert store.count_articles() == 1 and store.generation() == 2
    assert all(cid.startswith("rates:") for cid in store.vector_ids())
    assert store.passages([("cup:0", 1.0)]) == []


def test_repair_drops_vectors_the_catalog_never_committed(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(store, article("rates", RATES))

    def crash(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt  # after Chroma was written, before the database commits

    with monkeypatch.context() as patch:
        patch.setattr(Catalog, "replace_articles", crash)
        with pytest.raises(KeyboardInterrupt):
            write(store, article("cup", CUP))
    assert any(cid.startswith("cup:") for cid in store.vector_ids())  # orphans
    assert store.repair() == 2
    assert all(cid.startswith("rates:") for cid in store.vector_ids())
    assert store.count_articles() == 1


def test_the_lexical_index_follows_the_generation_and_reloads_from_disk(
    store: Store, open_db: Opener
) -> None:
    write(store, article("rates", RATES), article("cup", CUP))
    first = store.lexical()
    assert store.lexical() is first and store.lexical_is_current()
    scores = first.keyword_scores(keyword_tokens("interest rates"))
    assert first.chunk_ids[int(np.argmax(scores))] == "rates:0"
    mask = first.mask(Filters(source="reuters"))
    assert mask is not None and mask.all()
    write(store, article("more", "Interest rates rose again in December."))
    assert not store.lexical_is_current()
    second = store.lexical()
    assert second is not first and "more:0" in second.chunk_ids
    # A new process (another Store over the same data dir) loads the saved index, no rebuild.
    data = store.data_dir
    other = Store(store.settings, open_db(data))
    assert other.lexical().chunk_ids == second.chunk_ids and other.lexical_is_current()


def test_a_rebuild_reusing_the_last_builds_tokens_equals_a_build_from_scratch(
    store: Store, open_db: Opener
) -> None:
    """After an upload and a removal, the index built with the tokens the previous build kept
    (only the new article is tokenized) scores exactly as one built from nothing."""
    write(store, article("rates", RATES), article("cup", CUP))
    first = store.lexical()
    write(store, article("more", "Interest rates rose again in December. The cup was lifted."))
    store.remove_articles(["cup"])
    reused = store.lexical()
    assert reused is not first
    shutil.rmtree(store.data_dir / "bm25")  # what `rag rebuild` does before building anew
    fresh = Store(store.settings, open_db(store.data_dir)).lexical()
    assert fresh.chunk_ids == reused.chunk_ids and "cup:0" not in reused.chunk_ids
    for question in ("interest rates", "cup lifted December", "markets fell"):
        tokens = keyword_tokens(question)
        assert np.array_equal(reused.keyword_scores(tokens), fresh.keyword_scores(tokens))
        best, again = reused.best_sentence_scores(tokens), fresh.best_sentence_scores(tokens)
        assert best is not None and again is not None and np.array_equal(best, again)
    assert len(reused.memo) == len(fresh.memo)  # the removed article's texts are not kept
    # A worker that loads what another built keeps the tokens it read for its own next build.
    write(store, article("last", "Rates held in January."))
    other = Store(store.settings, open_db(store.data_dir))
    assert "last:0" in other.lexical().chunk_ids  # built and saved by the other worker
    loaded = store.lexical()
    assert "last:0" in loaded.chunk_ids and len(loaded.memo) == len(reused.memo)


def test_no_vector_matrix_is_written_into_the_index_while_another_process_replaces_it(
    store: Store,
) -> None:
    """A build replaces the whole index folder; a matrix saved into it meanwhile made the
    build's rename fail (seen in the soak). The search that would save it skips instead."""
    write(store, article("rates", RATES))
    index = store.lexical()
    folder = store.data_dir / "bm25"
    target = folder / "probe.npy"
    with lexical.builder_lock(folder):  # held as another process would while building
        matrices.save(target, np.ones(3), index.generation)
    assert not target.exists()
    matrices.save(target, np.ones(3), index.generation + 1)  # not beside another generation's index
    assert not target.exists()
    matrices.save(target, np.ones(3), index.generation)
    assert np.load(target).tolist() == [1.0, 1.0, 1.0]


def test_chunks_keep_the_order_they_were_written_in(store: Store) -> None:
    write(store, article("b", CUP), article("a", RATES))
    ids = store.lexical().chunk_ids
    assert ids[: len(chunks_of(article("b", CUP)))] == [c.id for c in chunks_of(article("b", CUP))]
    with store._db.read() as c:  # noqa: SLF001 - the column that keeps the order
        seq = [row.id for row in c.execute(sa.text("SELECT id FROM chunks ORDER BY seq"))]
    assert seq == ids


def test_the_sentence_index_reads_the_sentences_ingest_stored_for_each_chunk(store: Store) -> None:
    # Two chunks at article offsets 0 and len(first): the stored spans are article offsets, so a
    # wrong shift would index fragments of the wrong sentences.
    text = RATES + " " + CUP
    a = article("both", text)
    cut = len(RATES) + 1
    parts = [
        Chunk("both:0", "both", 0, 0, cut - 1, text[: cut - 1]),
        Chunk("both:1", "both", 1, cut, len(text), text[cut:]),
    ]
    spans = [list(sentence_spans(c.text, offset=c.start)) for c in parts]
    sentence_vectors = [(np.ones((len(s), 8), dtype=np.float32), s) for s in spans]
    store.write_articles(
        [(a, "/corpus/both.txt", "h", parts)], np.ones((2, 8), dtype=np.float32), sentence_vectors
    )
    index = store.lexical()
    scores = index.best_sentence_scores(keyword_tokens("fans celebrated"))
    assert scores is not None and int(np.argmax(scores[:-1])) == index.position("both:1")


def test_two_processes_rebuilding_at_once_both_end_with_the_saved_index(
    store: Store, open_db: Opener
) -> None:
    write(store, article("rates", RATES), article("cup", CUP))
    other = Store(store.settings, open_db(store.data_dir))  # another worker over the same data dir
    with ThreadPoolExecutor(2) as pool:
        built = list(pool.map(lambda s: s.lexical(), [store, other]))
    assert built[0].chunk_ids == built[1].chunk_ids and store.lexical_is_current()
    assert not list(store.data_dir.glob(".bm25*.tmp"))  # no half-written folder left behind


WRITER = """
import sys
import numpy as np
from pathlib import Path
from rag.config import Settings
from rag.models import Article
from rag.store import Chunk, Store
from rag.store.database import Database, database_url

data = Path(sys.argv[1])
store = Store(Settings(data_dir=data), Database(database_url(sys.argv[2] or None, data), data))
text = "Harbor opened a floating solar farm on Monday."
article = Article(id="solar", title="Solar", text=text, source="Local", origin="s.txt", content_hash="s")
chunk = Chunk("solar:0", "solar", 0, 0, len(text), text)
store.write_articles([(article, "/corpus/solar.txt", "h", [chunk])], np.full((1, 8), 0.5, np.float32))
"""


def test_a_worker_searches_with_vectors_another_process_wrote(store: Store, db_setting: str | None) -> None:
    # Worker processes share one data dir; an embedded Chroma does not show a process what
    # another wrote after it opened the store, so the search matrix must not depend on it.
    write(store, article("rates", RATES))
    store.chunk_matrix(store.lexical(), 10_000)  # this process has read the vector store
    other = subprocess.run(
        [sys.executable, "-c", WRITER, str(store.data_dir), db_setting or ""], capture_output=True, text=True
    )
    assert other.returncode == 0, other.stderr
    index = store.lexical()
    matrix = store.chunk_matrix(index, 10_000)
    assert matrix is not None and np.allclose(matrix[index.position("solar:0")], 0.5)
