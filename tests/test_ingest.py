"""Ingestion: offsets, idempotence, replacement of changed files, --sync, interruption."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from llama_index.core.utils import get_tokenizer

from rag.engine import Engine
from rag.errors import BadInput
from rag.retrieval.names import NAMES_FILE
from rag.store.catalog import Catalog
from rag.store.lexical import FORMAT
from rag.text import sentence_spans, split_sentences
from tests.conftest import SEED


def sql(engine: Engine, query: str) -> list[dict]:
    """Rows of a query on the engine's database (tests read and damage it directly)."""
    with engine.database.write() as c:
        result = c.execute(sa.text(query))
        return [dict(r._mapping) for r in result] if result.returns_rows else []


def _chunk_rows(engine: Engine) -> list[dict]:
    return sql(engine, 'SELECT id, document_id, start, "end", text FROM chunks ORDER BY seq')


def _assert_consistent(engine: Engine) -> None:
    """Chroma holds exactly the committed chunks, and every chunk is its article's exact span."""
    rows = _chunk_rows(engine)
    stored = engine.store.vector_ids()
    assert sorted(stored) == sorted(r["id"] for r in rows)
    for r in rows:
        article = engine.store.get_article(r["document_id"])
        assert article.text[r["start"] : r["end"]] == r["text"]
    # One vector per sentence of every chunk, none for a chunk that is gone.
    vectors = engine.store.sentence_vectors([r["id"] for r in rows])
    dim = engine.embed.dimension
    sentences = {r["id"]: len(split_sentences(r["text"])) for r in rows}
    assert {cid: len(v) // dim for cid, v in vectors.items()} == sentences
    for table in ("sentence_vectors", "passage_spans"):
        (orphans,) = sql(
            engine, f"SELECT COUNT(*) AS n FROM {table} WHERE chunk_id NOT IN (SELECT id FROM chunks)"
        )
        assert orphans["n"] == 0
    # Every chunk has its passage span: the chunk and whole sentences around it, within the chunk size.
    spans = {
        r["chunk_id"]: (r["start"], r["end"])
        for r in sql(engine, 'SELECT chunk_id, start, "end" FROM passage_spans')
    }
    tokens = get_tokenizer()
    for r in rows:
        lo, hi = spans[r["id"]]
        text = engine.store.get_article(r["document_id"]).text
        sentences = sentence_spans(text)
        assert lo <= r["start"] and hi >= r["end"]
        assert len(tokens(text[lo:hi])) <= engine.store.settings.chunk_size
        assert lo == r["start"] or lo in {a for a, _ in sentences}
        assert hi == r["end"] or hi in {b for _, b in sentences}


def test_ingest_reports_and_keeps_exact_offsets(engine: Engine, corpus_dir: Path) -> None:
    report = engine.ingest([corpus_dir])
    assert report.counts()["added"] == 5 and not report.skipped
    assert report.chunks_embedded >= 5
    _assert_consistent(engine)
    # No chunk spans two stories: each chunk lies inside one article's text.
    china = next(d for d in engine.documents() if d.title.startswith("China"))
    for r in _chunk_rows(engine):
        if r["document_id"] == china.id:
            assert "Moldova" not in r["text"] and "Zelensky" not in r["text"]


def test_second_run_is_unchanged_and_embeds_nothing(engine: Engine, corpus_dir: Path) -> None:
    engine.ingest([corpus_dir])
    again = engine.ingest([corpus_dir])
    assert again.counts() == {"added": 0, "updated": 0, "unchanged": 5, "removed": 0, "skipped": 0}
    assert again.chunks_embedded == 0


def test_changed_file_replaces_its_chunks(engine: Engine, tmp_path: Path) -> None:
    folder = tmp_path / "news"
    folder.mkdir()
    page = folder / "rates.txt"
    page.write_text("Rates decision\nREUTERS: The central bank held rates at 5 percent on Tuesday.\n")
    engine.ingest([folder])
    page.write_text("Rates decision\nREUTERS: The central bank cut rates to 4 percent on Thursday.\n")
    report = engine.ingest([folder])
    assert len(report.updated) == 1 and report.chunks_embedded == 1
    texts = [r["text"] for r in _chunk_rows(engine)]
    assert texts == ["The central bank cut rates to 4 percent on Thursday."]
    hits = engine.search("central bank rates")
    assert all("5 percent" not in p.text for p in hits)
    _assert_consistent(engine)


def test_sync_removes_articles_of_deleted_files(engine: Engine, corpus_dir: Path, tmp_path: Path) -> None:
    extra = corpus_dir / "harbour.md"
    extra.write_text("# Harbour news\nThe harbour board approved a new container terminal.\n")
    engine.ingest([corpus_dir])
    assert len(engine.documents()) == 6
    extra.unlink()
    without_sync = engine.ingest([corpus_dir])
    assert not without_sync.removed and len(engine.documents()) == 6
    report = engine.ingest([corpus_dir], sync=True)
    assert len(report.removed) == 1
    assert all("Harbour" not in d.title for d in engine.documents())
    _assert_consistent(engine)


def test_bad_files_are_skipped_and_the_rest_ingests(engine: Engine, corpus_dir: Path) -> None:
    (corpus_dir / "empty.txt").write_text("")
    (corpus_dir / "image.txt").write_bytes(b"\x89PNG\x00\x00\x00")
    (corpus_dir / "latin1.txt").write_bytes("Caf\u00e9".encode("latin-1"))
    (corpus_dir / "broken.json").write_text('{"body": ')
    (corpus_dir / "table.xlsx").write_bytes(b"PK")
    report = engine.ingest([corpus_dir])
    reasons = {Path(s.path).name: s.reason for s in report.skipped}
    assert set(reasons) == {"empty.txt", "image.txt", "latin1.txt", "broken.json", "table.xlsx"}
    assert "malformed JSON" in reasons["broken.json"] and "UTF-8" in reasons["latin1.txt"]
    assert len(report.added) == 5


def test_missing_path_is_a_clear_error(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="does not exist"):
        engine.ingest([tmp_path / "nope"])


def test_interrupted_ingest_is_completed_without_duplicates(
    engine: Engine, corpus_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash after Chroma was written but before the database committed (the worst moment)."""
    calls = {"n": 0}

    def crash_before_commit(*args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        calls["n"] += 1
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(Catalog, "replace_articles", crash_before_commit)
        with pytest.raises(KeyboardInterrupt):
            engine.ingest([corpus_dir])
    assert calls["n"] == 1 and engine.store.count_articles() == 0
    assert engine.store.vector_ids()  # the vectors of the first batch were written
    report = engine.ingest([corpus_dir])
    assert len(report.added) == 5
    _assert_consistent(engine)
    assert engine.ingest([corpus_dir]).chunks_embedded == 0


def test_copy_of_index_dir_is_usable(engine: Engine, corpus_dir: Path, tmp_path: Path, embed) -> None:  # type: ignore[no-untyped-def]
    """The BM25 side reloads from disk in a new process-like engine (no rebuild needed)."""
    engine.ingest([corpus_dir])
    engine.close()
    copy = tmp_path / "copy"
    shutil.copytree(engine.settings.resolved_data_dir(), copy)
    other = Engine(engine.settings.model_copy(update={"data_dir": copy}), embed=embed)
    assert other.search("Moldova gas")[0].title.startswith("Moldova")
    other.close()


def test_an_index_from_an_older_version_is_rebuilt_on_first_search(
    engine: Engine, corpus_dir: Path, embed
) -> None:  # type: ignore[no-untyped-def]
    """A data dir whose keyword index predates the sentence index keeps working: it is rebuilt."""
    engine.ingest([corpus_dir])
    engine.close()
    folder = engine.store.data_dir / "bm25"
    manifest = folder / "chunks.json"
    old = json.loads(manifest.read_text())
    old.pop("format"), old.pop("sentence_counts")
    manifest.write_text(json.dumps(old))
    shutil.rmtree(folder / "sentences")
    (folder / NAMES_FILE).unlink()
    other = Engine(engine.settings, embed=embed)
    assert other.search("Moldova gas")[0].title.startswith("Moldova")
    assert other.store.lexical().sentences is not None
    assert (folder / NAMES_FILE).exists()
    assert json.loads(manifest.read_text())["format"] == FORMAT
    other.close()


def test_deleting_an_uploaded_article_removes_its_file_once_empty(engine: Engine, corpus_dir: Path) -> None:
    story = b"Harbor opens solar farm\nThe town of Harbor opened a floating solar farm on Monday.\n"
    (single,) = engine.upload([("story.txt", story)]).added
    pair = json.dumps(
        [{"title": f"Note {i}", "body": f"Council note number {i} on the budget."} for i in (1, 2)]
    )
    first, second = engine.upload([("notes.json", pair.encode())]).added
    seed = engine.ingest([corpus_dir]).added[0]
    uploads = engine.store.data_dir / "uploads"

    engine.delete_document(single)
    assert not (uploads / "story.txt").exists()
    assert engine.upload([("story.txt", story)]).added  # added again, not "unchanged"

    engine.delete_document(first)
    assert (uploads / "notes.json").exists()  # its other article is still indexed
    engine.delete_document(second)
    assert not (uploads / "notes.json").exists()

    engine.delete_document(seed)
    assert (corpus_dir / SEED.name).exists()  # the user's own corpus file is never touched
    _assert_consistent(engine)
    # The keyword index follows a delete by itself, without waiting for a search to ask for it.
    deadline = time.monotonic() + 30
    while not engine.store.lexical_is_current() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert engine.store.lexical_is_current()


def test_an_index_without_sentence_vectors_gains_them_without_re_embedding(
    engine: Engine, corpus_dir: Path
) -> None:
    """An index written before sentence vectors existed is upgraded by the next ingest."""
    engine.ingest([corpus_dir])
    sql(engine, "DELETE FROM sentence_vectors")
    steps: list[str] = []
    report = engine.ingest([corpus_dir], progress=lambda done, total, what: steps.append(what))
    assert report.chunks_embedded == 0 and "sentence vectors" in steps
    _assert_consistent(engine)
    rows = _chunk_rows(engine)
    vectors = engine.store.sentence_vectors([rows[0]["id"]])[rows[0]["id"]]
    first = split_sentences(rows[0]["text"])[0]
    vector = vectors[: engine.embed.dimension].astype(float)
    assert float(vector @ engine.embed.embed_batch([first])[0]) == pytest.approx(1.0, abs=0.01)  # float16


def test_an_index_without_passage_spans_gains_them_at_the_next_ingest(
    seeded: Engine, corpus_dir: Path
) -> None:
    """An index written before passage spans existed returns bare chunks until the next ingest adds them."""
    question = "What is China providing Russia?"
    grown = seeded.search(question, k=4)
    sql(seeded, "DELETE FROM passage_spans")
    bare = seeded.search(question, k=4)
    assert [p.id for p in bare] == [p.id for p in grown]
    chunks = {r["id"]: r for r in _chunk_rows(seeded)}
    assert all(
        (p.start, p.end, p.text) == (chunks[p.id]["start"], chunks[p.id]["end"], chunks[p.id]["text"])
        for p in bare
    )
    report = seeded.ingest([corpus_dir])
    assert report.chunks_embedded == 0
    _assert_consistent(seeded)
    assert seeded.search(question, k=4) == grown
    # The seed articles' chunks leave room: at least one passage holds more than its chunk.
    assert any(len(w.text) > len(b.text) for w, b in zip(grown, bare, strict=True))


class _Recording:
    """The real embedding model, noting every text it is asked to embed."""

    def __init__(self, embed) -> None:  # type: ignore[no-untyped-def]
        self.inner, self.texts = embed, []  # type: list[str]

    def embed_batch(self, texts: list[str]):  # type: ignore[no-untyped-def]
        self.texts.extend(texts)
        return self.inner.embed_batch(texts)

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self.inner, name)


def test_a_sentence_repeated_across_chunks_is_embedded_once(settings, embed, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Boilerplate an outlet repeats, and the overlap chunks share, cost one embedding each."""
    folder = tmp_path / "news"
    folder.mkdir()
    notice = "Subscribe to our newsletter for daily updates."
    paragraphs = [
        f"The council met on day {i} to discuss the harbour road, and residents asked about "
        f"parking number {i} near the old mill before the vote closed."
        for i in range(30)
    ]
    body = f"\n\n{notice}\n\n".join(" ".join(paragraphs[i : i + 6]) for i in range(0, 30, 6))
    (folder / "council.txt").write_text("Harbour road\n" + body + "\n")
    recording = _Recording(embed)
    engine = Engine(settings, embed=recording)  # type: ignore[arg-type]
    try:
        engine.ingest([folder])
        assert recording.texts.count(notice) == 1
        rows = _chunk_rows(engine)
        assert len(rows) > 3  # the text spans several overlapping chunks
        _assert_consistent(engine)
        dim = embed.dimension
        stored = engine.store.sentence_vectors([r["id"] for r in rows])
        copies = [
            stored[r["id"]].reshape(-1, dim)[i]
            for r in rows
            for i, s in enumerate(split_sentences(r["text"]))
            if s == notice
        ]
        assert len(copies) == 4
        expected = embed.embed_batch([notice])[0]
        for vector in copies:
            assert float(vector.astype(float) @ expected) == pytest.approx(1.0, abs=0.01)  # float16
    finally:
        engine.close()
