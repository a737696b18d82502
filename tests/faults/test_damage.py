"""A full disk, and a damaged or foreign data dir: a clear message, the old index keeps
answering, and `rag rebuild` (or the next run with space) restores it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import SEED
from tests.faults.conftest import doctor_findings, news_corpus, rag

pytestmark = pytest.mark.slow
QUESTION = "What is China providing Russia?"


def seeded(tmp_path: Path) -> tuple[Path, Path]:
    corpus, data = tmp_path / "corpus", tmp_path / "data"
    corpus.mkdir()
    shutil.copy(SEED, corpus / SEED.name)
    assert rag("ingest", str(corpus), data=data).returncode == 0
    return corpus, data


def answers(data: Path) -> bool:
    asked = rag("ask", QUESTION, "--json", data=data)
    return asked.returncode == 0 and "geospatial" in asked.stdout


def test_a_truncated_catalog_is_named_and_rebuilt_from_the_vectors(tmp_path: Path) -> None:
    corpus, data = seeded(tmp_path)
    catalog = data / "catalog.sqlite3"
    for extra in ("catalog.sqlite3-wal", "catalog.sqlite3-shm"):
        (data / extra).unlink(missing_ok=True)
    catalog.write_bytes(catalog.read_bytes()[:4096])
    asked = rag("ask", QUESTION, data=data)
    assert asked.returncode == 1 and "damaged" in asked.stderr and "rag rebuild" in asked.stderr
    assert "Traceback" not in asked.stderr
    rebuilt = rag("rebuild", str(corpus), data=data)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert answers(data) and doctor_findings(data) == []


def test_missing_keyword_index_files_are_rebuilt_by_themselves(tmp_path: Path) -> None:
    _, data = seeded(tmp_path)
    shutil.rmtree(data / "bm25")
    assert answers(data)


def test_an_index_built_with_another_embedding_model_is_refused_until_rebuilt(tmp_path: Path) -> None:
    _, data = seeded(tmp_path)
    model = tmp_path / "model"  # a copy of the packaged model under another name: another model
    from rag.embeddings import model_files

    onnx, tokenizer = model_files("all-MiniLM-L6-v2-int8")
    model.mkdir()
    shutil.copy(onnx, model / "model.onnx")
    shutil.copy(tokenizer, model / "tokenizer.json")
    env = {"RAG_EMBED_MODEL": str(model), "RAG_RANK_EMBEDDINGS": "false"}
    asked = _rag_env(data, env, "ask", QUESTION)
    assert asked.returncode == 1 and "rag rebuild" in asked.stderr and "Traceback" not in asked.stderr
    assert _rag_env(data, env, "rebuild").returncode == 0
    again = _rag_env(data, env, "ask", QUESTION, "--json")
    assert again.returncode == 0 and "geospatial" in again.stdout


def _rag_env(data: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    import os

    from tests.conftest import RAG

    full = {**os.environ, "RAG_DATA_DIR": str(data), **env}
    return subprocess.run([*RAG, *args], capture_output=True, text=True, timeout=600, env=full)


def test_a_full_disk_is_a_clear_error_and_the_next_run_with_space_completes(tmp_path: Path) -> None:
    mount = tmp_path / "small"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=12m", "tmpfs", str(mount)], capture_output=True
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode().strip()}")
    try:
        data = mount / "data"
        corpus = tmp_path / "corpus"
        corpus.mkdir()
        shutil.copy(SEED, corpus / SEED.name)
        assert rag("ingest", str(corpus), data=data).returncode == 0
        more = news_corpus(tmp_path / "more", 40)
        full = rag("ingest", str(more), data=data)
        assert full.returncode == 1, full.stdout
        assert (
            "space" in full.stderr.lower() or "full" in full.stderr.lower()
        ) and "Traceback" not in full.stderr
        asked = rag("ask", QUESTION, "--json", data=data)
        assert asked.returncode == 0 and "geospatial" in asked.stdout, asked.stderr  # the old index answers
        subprocess.run(["mount", "-o", "remount,size=400m", str(mount)], check=True)
        done = rag("ingest", str(more), data=data)
        assert done.returncode == 0, done.stderr
        assert answers(data) and doctor_findings(data) == []
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)
