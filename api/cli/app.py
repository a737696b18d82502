"""The ``rag`` command line's shared pieces: the Typer app, the settings a command runs with,
and the one place engine errors become a message and an exit code (2 for bad input, 1
otherwise), never a traceback.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from rag.config import Settings
from rag.errors import BadInput, RagError

if TYPE_CHECKING:
    from rag.engine import Engine

app = typer.Typer(
    help="Answer questions over a corpus of news articles, with citations you can trust.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()
err = Console(stderr=True)
T = TypeVar("T")
PLAIN_PROGRESS_SECONDS = 30.0


class State:
    data_dir: Path | None = None


def settings() -> Settings:
    """The settings from the environment and ``.env``, with ``--data-dir`` on top."""
    overrides: dict[str, Any] = {}
    if State.data_dir is not None:
        overrides["data_dir"] = State.data_dir
    return run(lambda: Settings(**overrides))


def fail(message: str, code: int) -> typer.Exit:
    err.print(f"[bold red]Error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def run(fn: Callable[[], T]) -> T:
    """Call into the engine, turning its errors into a message and an exit code."""
    try:
        return fn()
    except BadInput as exc:
        raise fail(str(exc), 2) from None
    except RagError as exc:
        raise fail(str(exc), 1) from None
    except ValidationError as exc:
        from rag.settings_doc import describe

        raise fail(describe(exc), 2) from None


@contextmanager
def engine() -> Iterator[Engine]:
    from rag.engine import Engine

    built = run(lambda: Engine(settings()))
    try:
        yield built
    finally:
        built.close()


class PlainProgress(Progress):
    """Rich's bar; where stderr is no terminal (a log file, CI), a plain line at most every
    ``every`` seconds instead, so a long run there does not look hung."""

    def __init__(self, *columns: Any, every: float | None = None, **options: Any) -> None:
        super().__init__(*columns, **options)
        self.every = every
        self.last = time.monotonic()

    def update(self, task_id: TaskID, **changes: Any) -> None:
        super().update(task_id, **changes)
        if self.every is None or time.monotonic() - self.last < self.every:
            return
        self.last = time.monotonic()
        task = next(t for t in self.tasks if t.id == task_id)
        done = f"{task.completed:,.0f}" + (f" of {task.total:,.0f}" if task.total else "")
        err.print(f"{task.description}: {done} ({task.elapsed or 0:,.0f} s)", highlight=False)


def progress_bar() -> Progress:
    """The Rich bar long commands show on stderr (plain lines every 30 s when stderr is not a
    terminal). Also with --json, which is stdout's: a 20-minute `rag eval multihop --json >
    out.json` was silent."""
    return PlainProgress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
        every=None if err.is_terminal else PLAIN_PROGRESS_SECONDS,
    )


@app.callback()
def main(
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Index location (env RAG_DATA_DIR, default ./data).")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress details.")] = False,
) -> None:
    from rag.runtime import configure_logging

    State.data_dir = data_dir
    configure_logging("INFO" if verbose else "WARNING")
