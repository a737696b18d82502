"""Settings as users give them: environment variables and a .env file, as the README shows."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from rag.config import Settings
from rag.settings_doc import table_markdown
from tests.conftest import RAG, ROOT

# What a user would write for every setting, and what it must become. A new setting without a
# line here fails test_every_setting_is_covered.
WRITTEN: dict[str, tuple[str, Any]] = {
    "RAG_DATA_DIR": ("/srv/rag/data", Path("/srv/rag/data")),
    "RAG_DATABASE_URL": ("postgresql://rag:pw@db:5432/rag", "postgresql://rag:pw@db:5432/rag"),
    "RAG_CHROMA_URL": ("http://chroma:8001", "http://chroma:8001"),
    "RAG_COLLECTION": ("newsroom", "newsroom"),
    "RAG_EMBED_MODEL": ("/models/minilm", "/models/minilm"),
    "RAG_EMBED_BASE_URL": ("http://gpu-box:8080/v1", "http://gpu-box:8080/v1"),
    "RAG_EMBED_API_KEY": ("emb-key", SecretStr("emb-key")),
    "RAG_EMBED_BATCH_SIZE": ("64", 64),
    "RAG_ONNX_THREADS": ("1", 1),
    "RAG_QUERY_INT8": ("false", False),
    "RAG_CACHE_DIR": ("/var/cache/rag", Path("/var/cache/rag")),
    "RAG_CHUNK_SIZE": ("512", 512),
    "RAG_CHUNK_OVERLAP": ("64", 64),
    "RAG_TOP_K": ("5", 5),
    "RAG_DENSE_WEIGHT": ("0.5", 0.5),
    "RAG_RANK_EMBEDDINGS": ("false", False),
    "RAG_ANSWERER": ("extractive", "extractive"),
    "RAG_MAX_ANSWER_SENTENCES": ("3", 3),
    "RAG_VERIFIER": ("auto", "auto"),
    "RAG_DROP_UNSUPPORTED": ("true", True),
    "RAG_SUMMARY_MIN_ARTICLES": ("5", 5),
    "RAG_LLM_BASE_URL": ("http://127.0.0.1:8080/v1", "http://127.0.0.1:8080/v1"),
    "RAG_LLM_MODEL": ("qwen2.5", "qwen2.5"),
    "RAG_LLM_API_KEY": ("sk-test", SecretStr("sk-test")),
    "RAG_LLM_TIMEOUT": ("12.5", 12.5),
    "RAG_LLM_MAX_TOKENS": ("256", 256),
    "RAG_LLM_PASSAGES": ("3", 3),
    "RAG_API_KEYS": ("k1,k2", ["k1", "k2"]),
    "RAG_ALLOW_OPEN": ("true", True),
    "RAG_FETCH_ALLOW_PRIVATE": ("true", True),
    "RAG_FETCH_TIMEOUT": ("5", 5.0),
    "RAG_FETCH_RETRIES": ("1", 1),
    "RAG_FETCH_DELAY": ("0.5", 0.5),
    "RAG_FETCH_MAX_BYTES": ("2000000", 2_000_000),
    "RAG_FETCH_USER_AGENT": (
        "newsbot/1.0 (+https://example.org/bot)",
        "newsbot/1.0 (+https://example.org/bot)",
    ),
    "RAG_WATCH_EVERY_MINUTES": ("15", 15.0),
    "RAG_WATCH_MAX_ITEMS": ("50", 50),
    "RAG_SLACK_DIGEST_MINUTES": ("120", 120.0),
    "RAG_CORS_ORIGINS": ("https://a.example, https://b.example", ["https://a.example", "https://b.example"]),
    "RAG_MAX_UPLOAD_BYTES": ("1048576", 1048576),
    "RAG_MAX_BODY_BYTES": ("2097152", 2097152),
    "RAG_SLACK_BOT_TOKEN": ("xoxb-1", SecretStr("xoxb-1")),
    "RAG_SLACK_SIGNING_SECRET": ("s3cret", SecretStr("s3cret")),
    "RAG_SLACK_APP_TOKEN": ("xapp-1", SecretStr("xapp-1")),
    "RAG_SLACK_API_URL": ("http://127.0.0.1:9/api/", "http://127.0.0.1:9/api/"),
    "RAG_SLACK_ASK_VISIBILITY": ("in_channel", "in_channel"),
    "RAG_LOG_LEVEL": ("info", "INFO"),
}


def field(variable: str) -> str:
    return variable.removeprefix("RAG_").lower()


def same(value: Any, expected: Any) -> bool:
    if isinstance(expected, SecretStr):
        return isinstance(value, SecretStr) and value.get_secret_value() == expected.get_secret_value()
    return bool(value == expected)


def test_every_setting_is_covered() -> None:
    assert {field(v) for v in WRITTEN} == set(Settings.model_fields)


def test_the_readme_holds_the_generated_settings_table() -> None:
    """The table is generated from Settings (`rag config --markdown`); a setting added or
    described differently fails here until the README is regenerated."""
    assert table_markdown() in (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable, (written, _) in WRITTEN.items():
        monkeypatch.setenv(variable, written)
    settings = Settings()
    for variable, (_, expected) in WRITTEN.items():
        assert same(getattr(settings, field(variable)), expected), variable


def test_every_setting_is_read_from_a_dotenv_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAG_DATA_DIR")
    monkeypatch.delenv("RAG_CACHE_DIR")
    lines = [f"{variable}={written}" for variable, (written, _) in WRITTEN.items()]
    (tmp_path / ".env").write_text("# as a user writes it\n" + "\n".join(lines) + "\n")
    settings = Settings()  # the test runs in tmp_path, where the .env is
    for variable, (_, expected) in WRITTEN.items():
        assert same(getattr(settings, field(variable)), expected), variable


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("k1,k2", ["k1", "k2"]),
        (" k1 , k2 ,", ["k1", "k2"]),
        ('["k1", "k2"]', ["k1", "k2"]),
        ("", []),
        ('["k1", "", " "]', ["k1"]),  # a blank key would let in a request that sends none
    ],
)
def test_list_settings_take_commas_or_json(
    monkeypatch: pytest.MonkeyPatch, written: str, expected: list[str]
) -> None:
    monkeypatch.setenv("RAG_API_KEYS", written)
    monkeypatch.setenv("RAG_CORS_ORIGINS", written)
    settings = Settings()
    assert settings.api_keys == expected and settings.cors_origins == expected


def rag(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [*RAG, *args], cwd=cwd, capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})}
    )


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("RAG_TOP_K", "lots", "RAG_TOP_K='lots'"),
        ("RAG_ANSWERER", "magic", "RAG_ANSWERER='magic'"),
        ("RAG_API_KEYS", "[not json", "RAG_API_KEYS='[not json'"),
    ],
)
def test_an_invalid_value_stops_start_up_with_one_line(
    tmp_path: Path, variable: str, value: str, expected: str
) -> None:
    result = rag("config", cwd=tmp_path, env={variable: value})
    assert result.returncode == 2
    assert expected in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_rag_config_shows_where_each_setting_came_from_with_secrets_masked(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("RAG_TOP_K=5\nRAG_LLM_API_KEY=sk-very-secret\n")
    result = rag("config", cwd=tmp_path, env={"RAG_API_KEYS": "k1,k2", "COLUMNS": "200"})
    assert result.returncode == 0, result.stderr
    rows = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if line.count("│") >= 3}
    assert "env" in rows["RAG_API_KEYS"] and "k1" not in rows["RAG_API_KEYS"]
    assert ".env" in rows["RAG_TOP_K"] and " 5 " in rows["RAG_TOP_K"]
    assert "sk-very-secret" not in result.stdout and "********" in rows["RAG_LLM_API_KEY"]
    assert "default" in rows["RAG_CHUNK_SIZE"]
