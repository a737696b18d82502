"""The engine's error tree. Transports translate these in one place each.

    RagError
    ├── BadInput              the caller sent something unusable (HTTP 400, exit 2)
    │   ├── UnsupportedFile   a file type we cannot read (HTTP 415)
    │   └── FileTooLarge      an upload over RAG_MAX_UPLOAD_BYTES (HTTP 413)
    ├── NotFound              a document / conversation id that does not exist (HTTP 404)
    ├── NothingIndexed        asking before anything was ingested (HTTP 503 / exit 1)
    ├── StoreUnavailable      Chroma (embedded or server) cannot be reached (HTTP 503)
    └── LLMUnavailable        the configured LLM failed (callers usually degrade instead)

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


class NotFound(RagError):
    kind = "not_found"


class NothingIndexed(RagError):
    kind = "nothing_indexed"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(
            message or "Nothing is indexed yet. Run `rag ingest corpus/` (or upload documents) first."
        )


class StoreUnavailable(RagError):
    kind = "store_unavailable"


class LLMUnavailable(RagError):
    kind = "llm_unavailable"
