"""Settings: the one place configuration is read (env prefix ``RAG_``, optional ``.env``).

Every other module receives a ``Settings`` instance; nothing else reads ``os.environ``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="RAG_", env_file=".env", extra="ignore", validate_default=True
    )

    # Storage
    data_dir: Path = Field(Path("data"), description="Where the index, BM25 and SQLite live.")
    chroma_url: str | None = Field(
        None, description="http://host:port of a Chroma server; unset = embedded store."
    )
    collection: str = Field("articles", description="Chroma collection name.")

    # Indexing
    embed_model: str = Field(
        "all-MiniLM-L6-v2-int8",
        description="Embedding model: 'all-MiniLM-L6-v2-int8' (packaged) or a path to a "
        "directory holding model.onnx and tokenizer.json.",
    )
    embed_batch_size: int = Field(32, ge=1, le=512)
    query_int8: bool = Field(
        True,
        description="Embed questions with an int8 re-quantization of the embedding model, made "
        "once into cache_dir (~5 s): a search's embedding runs ~1.5x faster, with the same "
        "MultiHop-RAG evidence recall. Documents are always embedded in float32.",
    )
    cache_dir: Path = Field(
        default_factory=lambda: Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rag",
        description="Where models derived from the installed ones are kept ($XDG_CACHE_HOME/rag).",
    )
    chunk_size: int = Field(256, ge=32, le=2048, description="Max tokens per chunk.")
    chunk_overlap: int = Field(32, ge=0, description="Token overlap between chunks.")

    # Retrieval / answering
    top_k: int = Field(8, ge=1, le=100, description="Passages retrieved per question.")
    dense_weight: float = Field(
        0.0,
        ge=0.0,
        le=4.0,
        description="Weight of embedding similarity next to BM25 in retrieval (0 = BM25 only: "
        "with the packaged MiniLM it lowered MultiHop-RAG MRR@10; raise it for a stronger model).",
    )
    rank_embeddings: bool = Field(
        True,
        description="Let the retrieval ranker compare each question clause's embedding with the "
        "candidates' and their sentences' (MultiHop-RAG evidence recall@10 0.791 instead of 0.762; "
        "a search takes ~24 instead of ~13 ms at p50 on 2 cores; ingest embeds every sentence too, "
        "about twice the embedding work).",
    )
    answerer: Literal["auto", "llm", "extractive"] = "auto"
    max_answer_sentences: int = Field(4, ge=1, le=10)
    drop_unsupported: bool = Field(
        False, description="Drop sentences the checker cannot support (default: flag them)."
    )
    summary_min_articles: int = Field(
        3, ge=1, description="Research summaries backed by fewer articles say so in their gaps."
    )

    # LLM (any OpenAI-compatible server)
    llm_base_url: str | None = None
    llm_model: str = "gpt-4o-mini"
    llm_api_key: SecretStr | None = None
    llm_timeout: float = Field(30.0, gt=0)
    llm_max_tokens: int = Field(512, ge=16)
    llm_passages: int = Field(
        5, ge=1, le=20, description="Passage windows shown to the LLM (fewer = faster local answers)."
    )

    # HTTP
    api_keys: list[str] = Field(default_factory=list)
    cors_origins: list[str] = Field(default_factory=list)
    max_upload_bytes: int = Field(20 * 1024 * 1024, ge=1024)
    max_body_bytes: int = Field(25 * 1024 * 1024, ge=1024)

    # Slack
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    slack_ask_visibility: Literal["in_channel", "ephemeral"] = "ephemeral"

    log_level: str = "WARNING"

    @field_validator("api_keys", "cors_origins", mode="before")
    @classmethod
    def _split_csv(cls, value: object) -> object:
        # Users write RAG_API_KEYS=a,b in a shell; pydantic-settings would want JSON.
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return value
            return [v.strip() for v in text.split(",") if v.strip()]
        return value

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError(
                f"RAG_CHUNK_OVERLAP ({self.chunk_overlap}) must be smaller than "
                f"RAG_CHUNK_SIZE ({self.chunk_size})"
            )
        if self.llm_api_key is None and os.environ.get("OPENAI_API_KEY"):
            # The openai SDK's own variable is honoured so existing setups just work.
            self.llm_api_key = SecretStr(os.environ["OPENAI_API_KEY"])
        if self.answerer == "llm" and not self.llm_configured:
            raise ValueError(
                "RAG_ANSWERER=llm needs an LLM: set RAG_LLM_BASE_URL (e.g. the URL `rag llm-server` "
                "prints) or RAG_LLM_API_KEY / OPENAI_API_KEY for OpenAI."
            )
        return self

    @property
    def llm_configured(self) -> bool:
        # A key alone means OpenAI itself (the SDK's default base URL).
        return bool(self.llm_base_url or self.llm_api_key)

    def resolved_data_dir(self) -> Path:
        return self.data_dir.expanduser().resolve()
