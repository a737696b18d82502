"""Settings: the one place configuration is read (environment variables prefixed ``RAG_``, or a
``.env`` file in the working directory).

Every other module receives a ``Settings`` instance; nothing else reads ``os.environ``. Each
field's description is what the README's configuration table and ``rag config`` show.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

CsvList = Annotated[list[str], NoDecode]  # read as "a,b" (or a JSON list), not JSON only


def _cache_home() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rag"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="RAG_", env_file=".env", extra="ignore", validate_default=True
    )

    # Storage
    data_dir: Path = Field(Path("data"), description="Where the index, the BM25 files and SQLite live.")
    database_url: str | None = Field(
        None,
        description="Database for the catalog, conversations, feedback and the Slack ledger: "
        "`postgresql://user:pass@host/db` for several replicas; unset = SQLite in the data dir.",
    )
    chroma_url: str | None = Field(
        None, description="`http://host:port` of a Chroma server (`chroma run`); unset = embedded store."
    )
    collection: str = Field("articles", min_length=3, max_length=512, description="Chroma collection name.")

    # Indexing
    embed_model: str = Field(
        "all-MiniLM-L6-v2-int8",
        description="Embedding model: `all-MiniLM-L6-v2-int8` (packaged) or a directory holding "
        "`model.onnx` and `tokenizer.json`.",
    )
    embed_base_url: str | None = Field(
        None,
        description="An OpenAI-compatible `/v1/embeddings` server (vLLM, TEI, Infinity, Ollama, "
        "OpenAI) to embed with, e.g. for a backfill on GPUs; `RAG_EMBED_MODEL` is then its model name.",
    )
    embed_api_key: SecretStr | None = Field(None, description="That server's key, if it wants one.")
    embed_batch_size: int = Field(
        32,
        ge=1,
        le=512,
        description="Most texts embedded per batch (a request to a remote server; the local model "
        "also caps a batch at 512 tokens, short texts first).",
    )
    onnx_threads: int | None = Field(
        None,
        ge=1,
        le=64,
        description="Threads one embedding run uses; unset = the cores, up to 4 (`rag serve "
        "--workers N` gives each worker its share).",
    )
    query_int8: bool = Field(
        True,
        description="Embed questions with an int8 re-quantization of the model (made once into "
        "the cache dir): faster searches, the same evidence found. Documents are always embedded "
        "in float32, so switching never re-embeds an index.",
    )
    cache_dir: Path = Field(
        default_factory=_cache_home,
        description="Where models derived from the installed ones are kept (`$XDG_CACHE_HOME/rag`).",
    )
    chunk_size: int = Field(256, ge=32, le=2048, description="Tokens per chunk (title and outlet included).")
    chunk_overlap: int = Field(32, ge=0, description="Tokens shared by consecutive chunks.")

    # Retrieval / answering
    top_k: int = Field(8, ge=1, le=100, description="Passages retrieved per question.")
    dense_weight: float = Field(
        0.0,
        ge=0.0,
        le=4.0,
        description="Weight of embedding similarity beside BM25 when gathering candidates (0 = "
        "keywords only; raise it for an embedding model stronger than the packaged one).",
    )
    rank_embeddings: bool = Field(
        True,
        description="Let the ranker compare question parts with chunk and sentence embeddings: "
        "more evidence found; `false` makes searches faster and ingest embed half as much.",
    )
    answerer: Literal["auto", "llm", "extractive"] = Field(
        "auto", description="`auto` (the LLM when configured and up), `llm` or `extractive`."
    )
    max_answer_sentences: int = Field(4, ge=1, le=10, description="Sentences in an answer at most.")
    verifier: Literal["auto", "local", "llm"] = Field(
        "local",
        description="Who checks claims: `local` (the offline claim checker), `llm` (the LLM judges "
        "them beside the checker: one more LLM call per text), `auto` (`llm` when an LLM is "
        "configured and up, else `local`).",
    )
    drop_unsupported: bool = Field(
        False, description="Drop sentences the checker cannot support (default: flag them)."
    )
    summary_min_articles: int = Field(
        3, ge=1, description="Research summaries backed by fewer articles say so in their gaps."
    )

    # LLM (any OpenAI-compatible server)
    llm_base_url: str | None = Field(
        None, description="An OpenAI-compatible server, e.g. `http://127.0.0.1:8080/v1`."
    )
    llm_model: str = Field("gpt-4o-mini", description="Model name sent to that server.")
    llm_api_key: SecretStr | None = Field(
        None, description="Its key, if it wants one (else `OPENAI_API_KEY`)."
    )
    llm_timeout: float = Field(30.0, gt=0, description="Seconds one LLM answer may take (then degraded).")
    llm_max_tokens: int = Field(512, ge=16, description="Tokens an LLM answer may have.")
    llm_passages: int = Field(5, ge=1, le=20, description="Passage windows shown to the LLM.")

    # HTTP
    api_keys: CsvList = Field(
        default_factory=list,
        description="Comma-separated bearer keys every `/v1` route requires; unset = the API is open.",
    )
    allow_open: bool = Field(
        False,
        description="Serve on a non-loopback address without `RAG_API_KEYS` (refused otherwise).",
    )
    cors_origins: CsvList = Field(default_factory=list, description="Comma-separated origins CORS allows.")
    max_upload_bytes: int = Field(
        20 * 1024 * 1024, ge=1024, description="Bytes per uploaded file (413 beyond)."
    )
    max_body_bytes: int = Field(25 * 1024 * 1024, ge=1024, description="Bytes per request body (413 beyond).")

    # Slack
    slack_bot_token: SecretStr | None = Field(None, description="The bot's `xoxb-` token.")
    slack_signing_secret: SecretStr | None = Field(
        None, description="Signing secret: enables `POST /slack/events`."
    )
    slack_app_token: SecretStr | None = Field(
        None, description="An `xapp-` token, for `rag slack` (Socket Mode)."
    )
    slack_api_url: str = Field(
        "https://slack.com/api/", description="Slack's Web API (tests point it elsewhere)."
    )
    slack_ask_visibility: Literal["in_channel", "ephemeral"] = Field(
        "ephemeral", description="Who sees `/ask` answers: the asker only, or the channel."
    )
    slack_digest_minutes: float = Field(
        60,
        ge=1,
        description="Minutes between two digests of one Slack topic subscription (`/ask subscribe`).",
    )

    # Following the news (`rag ingest URL`, `rag sources`, `rag watch`)
    fetch_allow_private: bool = Field(
        False,
        description="Let URL ingests and polls fetch loopback, private and link-local addresses "
        "(off: a URL given by a user cannot reach internal services).",
    )
    fetch_timeout: float = Field(
        10.0, gt=0, le=300, description="Seconds one fetch may take, connection to last byte."
    )
    fetch_retries: int = Field(
        2, ge=0, le=10, description="Retries of a fetch after a connection error, 429 or 5xx."
    )
    fetch_delay: float = Field(
        1.0,
        ge=0,
        le=60,
        description="Seconds between two requests to one host (a robots.txt Crawl-delay may ask more).",
    )
    fetch_max_bytes: int = Field(
        5_000_000, ge=10_000, description="Bytes a fetched page, feed or sitemap may have."
    )
    fetch_user_agent: str | None = Field(
        None,
        description="User-Agent of fetches (name a contact URL); unset = "
        "`rag-news/0.1 (+https://github.com/rag-news; news QA bot)`.",
    )
    watch_every_minutes: float = Field(
        30, ge=1, description="Poll interval of a source added without `--every`."
    )
    watch_max_items: int = Field(
        200, ge=1, le=1000, description="Newest items of a feed or sitemap read per poll."
    )

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "WARNING", description="Log level (JSON lines on stderr)."
    )

    @field_validator("api_keys", "cors_origins", mode="before")
    @classmethod
    def _split_csv(cls, value: object) -> object:
        # Users write RAG_API_KEYS=a,b in a shell; a JSON list works too.
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                import json

                try:
                    value = json.loads(text)
                except ValueError:
                    raise ValueError("a comma-separated list, or a JSON list of strings") from None
            else:
                value = text.split(",")
        if isinstance(value, list):
            # A blank entry would be a key matching a request that sends none: dropped.
            return [v.strip() if isinstance(v, str) else v for v in value if str(v).strip()]
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

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
        if self.verifier == "llm" and not self.llm_configured:
            raise ValueError(
                "RAG_VERIFIER=llm needs an LLM to judge with: set RAG_LLM_BASE_URL or RAG_LLM_API_KEY "
                "(or use RAG_VERIFIER=local)."
            )
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
