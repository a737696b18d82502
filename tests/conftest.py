"""Shared fixtures: an isolated environment and data dir per test, one embedding model per run."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.config import Settings
from rag.embeddings import OnnxEmbedding, embedding
from rag.engine import Engine

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "corpus" / "china-satellite-intelligence-russia.txt"
SHARED = ROOT.parent / "shared"
MULTIHOP = SHARED / "datasets" / "multihop-rag"
RAG = [str(Path(sys.executable).with_name("rag"))]  # the console script, as a user runs it


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder per test run for derived models (the int8 question encoder, made once)."""
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model_cache: Path) -> Iterator[None]:
    """No RAG_*/OPENAI_* variable or .env from the developer's shell leaks into a test."""
    for key in list(os.environ):
        if key.startswith(("RAG_", "OPENAI_", "SLACK_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("ANONYMIZED_TELEMETRY", "False")
    monkeypatch.setenv("RAG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RAG_CACHE_DIR", str(model_cache))
    monkeypatch.chdir(tmp_path)
    yield


@pytest.fixture(scope="session")
def embed(model_cache: Path) -> OnnxEmbedding:
    """The model as an engine builds it by default (questions through the int8 encoder)."""
    return embedding(Settings(_env_file=None, cache_dir=model_cache))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def corpus_dir(tmp_path: Path) -> Path:
    """A corpus folder holding a copy of the seed article."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    shutil.copy(SEED, folder / SEED.name)
    return folder


@pytest.fixture
def engine(settings: Settings, embed: OnnxEmbedding) -> Iterator[Engine]:
    eng = Engine(settings, embed=embed)
    yield eng
    eng.close()


@pytest.fixture
def seeded(engine: Engine, corpus_dir: Path) -> Engine:
    """An engine with the seed corpus ingested."""
    engine.ingest([corpus_dir])
    return engine
