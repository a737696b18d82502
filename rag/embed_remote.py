"""Embeddings from a server: any OpenAI-compatible ``/v1/embeddings`` endpoint (vLLM, TEI, Infinity,
Ollama, OpenAI), for backfills on machines with GPUs.

Input: texts. Output: L2-normalised float32 vectors in the order given, the same contract as
``rag.embeddings.OnnxEmbedding.embed_batch``, so ingest and search cannot tell them apart. Texts
go out in batches of ``embed_batch_size`` through the official ``openai`` SDK, which retries
connection errors, timeouts, 408/409/429 and 5xx answers itself with exponential backoff (0.5 s
doubling to 8 s, honouring ``Retry-After``); anything it gives up on becomes ``StoreUnavailable``
with a message that names the server and the cause.

The same surface as ``OnnxEmbedding`` (``model_name``, ``embed_batch_size``, ``dimension``,
``embed_batch``, ``embed_queries``), so ingest wraps it for LlamaIndex's pipeline the same way
(``rag.ingest.PipelineEmbedding``). There are no token states here (``embed_tokens``): the claim
checker needs the local model.
"""

from __future__ import annotations

import numpy as np
import openai

from rag.errors import StoreUnavailable

# Retries after the first try of each batch (the SDK's default is 2): 0.5+1+2+4 s of backoff
# rides out a server restarting or a short burst of 503s / 429s during a long backfill.
MAX_RETRIES = 4


class RemoteEmbedding:
    """Sentence embeddings from an OpenAI-compatible embeddings server."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        embed_batch_size: int = 64,
        timeout: float = 60,
        max_retries: int = MAX_RETRIES,
    ) -> None:
        self.model_name = model
        self.embed_batch_size = embed_batch_size
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._dimension: int | None = None
        # A server without keys still needs some key: the SDK refuses to send none.
        self._client = openai.OpenAI(
            base_url=self._base_url, api_key=api_key or "no-key", timeout=timeout, max_retries=max_retries
        )

    @property
    def base_url(self) -> str:
        return self._base_url

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            self.embed_batch([" "])
        assert self._dimension is not None
        return self._dimension

    def embed_batch(self, texts: list[str]) -> np.ndarray:
        """Embed texts in batches; returns an (n, d) float32 array of unit vectors."""
        out = [
            self._request(texts[i : i + self.embed_batch_size])
            for i in range(0, len(texts), self.embed_batch_size)
        ]
        if not out:
            return np.zeros((0, 0), dtype=np.float32)
        return np.vstack(out)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        """``embed_batch`` for questions: the server has one model for both."""
        return self.embed_batch(texts)

    def close(self) -> None:
        self._client.close()

    def _request(self, batch: list[str]) -> np.ndarray:
        # Servers reject an empty input string; a blank text means nothing either way.
        inputs = [t if t.strip() else " " for t in batch]
        try:
            response = self._client.embeddings.create(model=self.model_name, input=inputs)
        except openai.APIError as exc:
            raise StoreUnavailable(self._failure(exc)) from exc
        except ValueError as exc:  # the SDK's own check: a response with no vectors in it
            raise StoreUnavailable(f"{self._prefix()}: {exc}.") from exc
        rows = sorted(response.data, key=lambda d: d.index)
        if [d.index for d in rows] != list(range(len(inputs))):
            raise StoreUnavailable(
                f"{self._prefix()}: it returned {len(rows)} vectors for {len(inputs)} texts; "
                "is it an embeddings server?"
            )
        vectors = np.asarray([d.embedding for d in rows], dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        self._dimension = int(vectors.shape[1])
        return (vectors / np.clip(norms, 1e-12, None)).astype(np.float32)

    def _prefix(self) -> str:
        return f"Cannot embed with the embeddings server at {self._base_url}"

    def _failure(self, exc: openai.APIError) -> str:
        """A message for the error the SDK gave up with: what failed and what to check."""
        if isinstance(exc, openai.APITimeoutError):
            return f"{self._prefix()}: no answer within {self._timeout:g} s; is it overloaded or down?"
        if isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__ or exc
            return f"{self._prefix()}: {_reason(cause)}; is it running?"
        if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
            return f"{self._prefix()}: it refused the key (HTTP {exc.status_code}); set RAG_EMBED_API_KEY."
        if isinstance(exc, openai.NotFoundError):
            return (
                f"{self._prefix()}: HTTP 404 ({_said(exc)}); check that it serves "
                f"RAG_EMBED_MODEL={self.model_name!r} and that the URL ends in /v1."
            )
        if isinstance(exc, openai.APIStatusError):
            return f"{self._prefix()}: HTTP {exc.status_code}: {_said(exc)}"
        return f"{self._prefix()}: {_short(str(exc))}"


def _reason(cause: BaseException) -> str:
    """The lowest-level cause, lower-cased ("connection refused", "name or service not known")."""
    while (inner := cause.__cause__ or cause.__context__) is not None:
        cause = inner
    text = str(cause) or type(cause).__name__
    if "]" in text and text.startswith("[Errno"):  # "[Errno 111] Connection refused"
        text = text.split("]", 1)[1].strip()
    return _short(text[:1].lower() + text[1:])


def _said(exc: openai.APIStatusError) -> str:
    """The message of the server's error body (OpenAI's ``{"error": {"message"}}``), else its text."""
    body = exc.body
    said = body.get("message") if isinstance(body, dict) else None
    return _short(str(said or exc.response.text or exc.message))


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
