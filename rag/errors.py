"""The engine's error tree. Transports translate these in one place each (``api/errors.py`` for
HTTP, ``api/cli/__init__.py`` for the terminal, the Slack bot's ``reply``).

    RagError
    ├── BadInput              the caller sent something unusable (HTTP 400, exit 2)
    │   ├── UnsupportedFile   a file type we cannot read (HTTP 415)
    │   ├── FileTooLarge      an upload over RAG_MAX_UPLOAD_BYTES (HTTP 413)
    │   ├── TooLarge          a request over a size limit, e.g. a text to verify (HTTP 413)
    │   └── UnreadableFile    a file that holds no article (skipped, listed in the ingest report)
    ├── NotFound              a document / conversation id that does not exist (HTTP 404)
    ├── NothingIndexed        asking before anything was ingested (HTTP 503 / exit 1)
    ├── StoreUnavailable      the database or Chroma cannot be reached (HTTP 503)
    ├── StoreBusy             another process is writing the corpus (HTTP 409)
    ├── IndexMismatch         the index or the ranker was built with other settings (HTTP 503)
    ├── FetchFailed           a URL could not be fetched or holds no article
    └── LLMUnavailable        the configured LLM failed (callers usually degrade instead)
        └── LocalModelMissing the offline model is not installed

Messages say what failed and what to do about it.
"""

from __future__ import annotations


class RagError(Exception):
    """Base class; ``str(err)`` is a message fit for a user."""

    kind = "rag_error"


class BadInput(RagError):
    kind = "bad_request"


class UnsupportedFile(BadInput):
    kind = "unsupported_media_type"


class FileTooLarge(BadInput):
    kind = "payload_too_large"


class TooLarge(BadInput):
    kind = "payload_too_large"


class UnreadableFile(BadInput):
    """A file that cannot become articles; the message is the reason the report shows."""

    kind = "unreadable_file"


class NotFound(RagError):
    kind = "not_found"


class NothingIndexed(RagError):
    kind = "nothing_indexed"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(
            message or "Nothing is indexed yet. Run `rag ingest corpus/` (or upload documents) first."
        )


class StoreUnavailable(RagError):
    kind = "unavailable"


class StoreBusy(RagError):
    kind = "busy"


class IndexMismatch(RagError):
    kind = "index_mismatch"


class FetchFailed(RagError):
    kind = "fetch_failed"


class LLMUnavailable(RagError):
    kind = "llm_unavailable"


class LocalModelMissing(LLMUnavailable):
    kind = "local_llm_missing"
