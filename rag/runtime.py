"""Process-wide set-up, done once at start-up (an engine, the CLI, the app factory), never at import.

- BLAS (OpenBLAS under numpy) on one thread: its threads otherwise start for a search's matrix
  products and keep spinning beside the next search's ONNX run on the same cores. Set once for
  the process, since threadpoolctl's limit is process-wide and overlapping searches restoring
  it would race.
- Memory: glibc keeps the heap a keyword-index rebuild freed; ``release_freed_memory`` hands
  it back, so a server whose corpus changes often does not grow with each rebuild
  (docs/performance-log.md).
- Logs: one JSON object per line on stderr, quiet (WARNING) unless asked; libraries that log
  every index build at INFO/DEBUG (bm25s) kept at WARNING.
- tqdm (inside bm25s and LlamaIndex, bars disabled) on a thread lock: its default lock is a
  multiprocessing semaphore, which a server worker stopped after an upload left behind, and
  Python warned of a "leaked semaphore" at every shutdown.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import logging
import threading
from functools import lru_cache

_lock = threading.Lock()
_prepared = False
_QUIET = ("bm25s", "chromadb", "httpx", "httpx2", "urllib3", "alembic", "onnxruntime", "openai")
# Attributes every LogRecord has; anything else came in through ``extra=`` and is logged too.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def prepare_process() -> None:
    """Limit BLAS to one thread, keep tqdm off process semaphores, quiet chatty libraries
    (idempotent)."""
    global _prepared
    with _lock:
        if _prepared:
            return
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1, user_api="blas")
        from tqdm import tqdm

        tqdm.set_lock(threading.RLock())
        for name in _QUIET:
            logging.getLogger(name).setLevel(logging.WARNING)
        _prepared = True


class JsonFormatter(logging.Formatter):
    """``{"level", "logger", "msg", ...extra}`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"level": record.levelname, "logger": record.name, "msg": record.getMessage()}
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str = "WARNING") -> None:
    """Structured logs on stderr at ``level`` (RAG_LOG_LEVEL, or --verbose)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    # On the handler too: a library that sets its own logger to DEBUG at import (bm25s) still
    # only reaches the log at the chosen level.
    handler.setLevel(level.upper())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    prepare_process()


@lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None


def release_freed_memory() -> None:
    """Return the C heap's free pages to the operating system (glibc's ``malloc_trim``; nothing
    elsewhere, e.g. on musl or macOS)."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
