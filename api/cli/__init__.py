"""The ``rag`` command line (Typer): a transport over the engine, like the HTTP routes and the
Slack bot. Commands live in small modules by topic; importing them registers them on ``app``."""

from __future__ import annotations

import sys

from api.cli import admin, corpus, questions, serve, sources, verify
from api.cli.app import app

__all__ = ["admin", "app", "corpus", "hoisted", "main", "questions", "serve", "sources", "verify"]

# Commands with a --data-dir of their own, which stays theirs.
_OWN_DATA_DIR = {"eval"}


def hoisted(args: list[str]) -> list[str]:
    """``args`` with ``--data-dir DIR`` written after the command moved before it, where Click
    reads the options of the whole program: ``rag ask "..." --data-dir d`` works like
    ``rag --data-dir d ask "..."`` instead of failing with "No such option"."""
    command = next(
        (i for i, a in enumerate(args) if not a.startswith("-") and (i == 0 or args[i - 1] != "--data-dir")),
        None,
    )
    if command is None or args[command] in _OWN_DATA_DIR:
        return args
    head, rest, moved = args[: command + 1], args[command + 1 :], []
    kept: list[str] = []
    i = 0
    while i < len(rest):
        arg = rest[i]
        if arg == "--":
            kept.extend(rest[i:])
            break
        if arg == "--data-dir" and i + 1 < len(rest):
            moved += rest[i : i + 2]
            i += 2
            continue
        if arg.startswith("--data-dir="):
            moved.append(arg)
        else:
            kept.append(arg)
        i += 1
    # Before the command but after the options already there: written last, it wins.
    return head[:-1] + moved + head[-1:] + kept if moved else args


def main() -> None:
    """The ``rag`` program."""
    app(args=hoisted(sys.argv[1:]), prog_name="rag")
