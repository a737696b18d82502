"""The catalog behaves the same on SQLite and on Postgres, where the two databases differ: text
(non-ASCII offsets, NUL characters), binary columns, NULL ordering, and concurrent writers,
including replicas restoring one shared catalog from a Chroma server at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import numpy as np
import pytest

from rag.config import Settings
from rag.documents import load_bytes
from rag.errors import RagError
from rag.models import Article
from rag.store import Chunk, Store
from rag.store.catalog import SentenceVectors
from rag.store.database import Database, database_url
from tests.servers.chroma import chroma_server
from tests.store.conftest import Opener

T = TypeVar("T")


def make_store(settings: Settings, database: Database) -> Store:
    return Store(settings, database)


@pytest.fixture
def store(tmp_path: Path, open_db: Opener) -> Store:
    settings = Settings(data_dir=tmp_path / "data")
    return make_store(settings, open_db(settings.resolved_data_dir()))


def write_whole(store: Store, article: Article, sentence_vectors: Sequence[SentenceVectors] = ()) -> None:
    """``article`` as one chunk, with a constant vector."""
    chunks = [Chunk(f"{article.id}:0", article.id, 0, 0, len(article.text), article.text)]
    store.write_articles(
        [(article, f"/corpus/{article.id}", "hash", chunks)], np.ones((1, 4)), sentence_vectors
    )


def test_passages_are_exact_spans_of_non_ascii_text(store: Store) -> None:
    """Offsets count characters (code points) on both, never bytes."""
    text = "Café “quoted” 😀 naïve. A second sentence über alles."
    write_whole(store, Article(id="u", title="Ü", text=text, origin="u"))
    (passage,) = store.passages([("u:0", 1.0)])
    assert passage.text == text[passage.start : passage.end] == text
    assert store.get_article("u").text == text


def test_sentence_vectors_come_back_as_written(store: Store) -> None:
    vectors = np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)
    spans = [(0, 4), (5, 9), (10, 16)]  # "One." "Two." "Three."
    write_whole(store, Article(id="s", title="S", text="One. Two. Three.", origin="s"), [(vectors, spans)])
    stored = store.sentence_vectors(["s:0"])["s:0"]
    assert np.array_equal(stored.reshape(3, 4), vectors.astype(np.float16))


def test_undated_articles_are_listed_after_dated_ones(store: Store) -> None:
    write_whole(store, Article(id="undated", title="A", text="No date.", origin="a"))
    dated = Article(id="dated", title="B", text="A date.", origin="b", published_at=datetime(2023, 10, 5))
    write_whole(store, dated)
    assert [a.id for a in store.list_articles()] == ["dated", "undated"]


def test_an_article_holding_a_nul_character_is_stored(store: Store, tmp_path: Path) -> None:
    """JSON may escape a NUL (``\\u0000``) that the binary-file check never sees: Postgres text
    cannot hold one, and SQLite's substr stops at it, cutting the passage short."""
    (article,) = load_bytes(tmp_path / "x.json", b'{"title": "T", "body": "A NUL\\u0000 inside a story."}')
    write_whole(store, article)
    stored = store.get_article(article.id)
    assert stored.text == article.text
    (passage,) = store.passages([(f"{article.id}:0", 1.0)])
    assert passage.text == stored.text[passage.start : passage.end]


def test_a_lookup_by_an_id_holding_a_nul_is_an_error_for_the_user(store: Store) -> None:
    """Ids come from users (URLs, request bodies): a NUL in one is their mistake, never a crash."""
    with pytest.raises(RagError):
        store.get_article("abc\x00def")


def in_threads(n: int, work: Callable[[int], T]) -> tuple[list[T], list[BaseException]]:
    """Run ``work(i)`` in ``n`` threads released together; returns (results, errors)."""
    results: list[T] = []
    errors: list[BaseException] = []
    start = threading.Barrier(n)

    def run(i: int) -> None:
        start.wait()
        try:
            results.append(work(i))
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors


def test_processes_setting_one_meta_key_at_once_all_succeed(store: Store) -> None:
    def set_often(i: int) -> None:
        for n in range(30):
            store.set_meta("signature", f"{i}-{n}")

    _, errors = in_threads(4, set_often)
    assert errors == []
    assert store.get_meta("signature") is not None


@pytest.mark.slow
def test_replicas_starting_together_restore_one_catalog_from_the_chroma_server(
    tmp_path: Path, open_db: Opener, db_setting: str | None
) -> None:
    """Three replicas over one Chroma server that a writer filled: each with a SQLite catalog of
    its own restores it; over one shared Postgres catalog, one restores it and the others find it
    restored, none fails."""
    with chroma_server(tmp_path / "chroma-server") as chroma:
        writer_settings = Settings(data_dir=tmp_path / "writer", chroma_url=chroma.url)
        writer_dir = writer_settings.resolved_data_dir()
        writer_dir.mkdir(parents=True)
        writer = make_store(writer_settings, Database(database_url(None, writer_dir), writer_dir))
        for i in range(12):
            write_whole(writer, Article(id=f"a{i}", title=f"T{i}", text=f"Story {i}. More.", origin=f"{i}"))
        replicas = []
        for name in ("one", "two", "three"):
            settings = Settings(data_dir=tmp_path / name, chroma_url=chroma.url)
            replicas.append(make_store(settings, open_db(settings.resolved_data_dir())))
        restored, errors = in_threads(3, lambda i: replicas[i].restore_catalog("signature"))
        assert errors == []
        assert all(r.count_articles() == 12 for r in replicas)
        assert sorted(restored) == ([12, 12, 12] if db_setting is None else [0, 0, 12])
