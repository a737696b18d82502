"""``rag verify``: check a text against the corpus or against given files, sentence by sentence.

Exit code 0 when every checkable sentence is supported, 1 when one is not, 2 on bad input, so a
newsroom's scripts and CI can gate a draft on it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from api.cli.app import app, console, err, fail, run, settings
from api.cli.output import filters
from api.cli.questions import SinceOption, SourceOption, UntilOption
from rag.errors import BadInput

if TYPE_CHECKING:  # imported where used: a command's start-up pays only for what it runs
    from rag.verify import Verification, VerifyDocument

COLOURS = {"supported": "green", "unsupported": "yellow", "contradicted": "red"}


def read_documents(paths: list[Path]) -> list[VerifyDocument]:
    """Every article of the given files (any format ``rag ingest`` reads), as documents."""
    from rag.documents import load_bytes
    from rag.verify import VerifyDocument

    documents = []
    for path in paths:
        if not path.is_file():
            raise BadInput(f"--against: no such file: {path}")
        try:
            articles = load_bytes(path, path.read_bytes(), origin=path.name)
        except BadInput as exc:
            raise BadInput(f"--against {path}: {exc}") from None
        for article in articles:
            documents.append(
                VerifyDocument(
                    text=article.text,
                    title=article.title,
                    source=article.source,
                    published_at=article.published_at,
                    url=article.url,
                )
            )
    return documents


def checked(text: str, documents: list[VerifyDocument], chosen: object) -> Verification:
    """Against ``documents`` only a model is loaded (no index is opened or created)."""
    config = settings()
    if documents:
        from rag.embeddings import local_embedding
        from rag.judge import Verifier
        from rag.llm import LLMClient
        from rag.verification import ClaimChecker
        from rag.verify import TextChecker

        judge = LLMClient(config) if config.llm_configured and config.verifier != "local" else None
        verifier = Verifier(ClaimChecker(local_embedding(config)), judge, config.verifier)
        return TextChecker(verifier, None).verify(text, documents)
    from rag.engine import Engine

    engine = Engine(config)
    try:
        return engine.verify(text, None, chosen)  # type: ignore[arg-type]  # Filters
    finally:
        engine.close()


def print_verification(result: Verification) -> None:
    table = Table(
        title=f"{result.verdict}: {result.counts.supported} supported, "
        f"{result.counts.unsupported} unsupported, {result.counts.contradicted} contradicted"
    )
    for column in ("sentence", "verdict", "score", "evidence", "outlet", "date"):
        table.add_column(column, overflow="fold")
    rows: list[tuple[int, list[str | Text]]] = []
    for s in result.sentences:
        evidence = s.citations[0] if s.citations else None
        verdict = Text(s.verdict, style=COLOURS[s.verdict])
        if s.conflict is not None:
            verdict.append(f"\n{s.conflict.claim_text} ≠ {s.conflict.evidence_text}", style="dim")
        cells: list[str | Text] = [
            s.text,
            verdict,
            f"{s.score:.2f}",
            f"“{evidence.quote}”" if evidence else "",
            (evidence.source or "") if evidence else "",
            evidence.published_at.date().isoformat() if evidence and evidence.published_at else "",
        ]
        rows.append((s.start, cells))
    for n in result.not_checked:  # in place, so the table reads as the text does
        rows.append((n.start, [Text(n.text, style="dim"), Text("not checked", style="dim"), "", "", "", ""]))
    for _, cells in sorted(rows, key=lambda row: row[0]):
        table.add_row(*cells)
    console.print(table)
    if result.not_checked:
        err.print("[dim]Not checked: a heading, a question, or too few words to state a checkable fact.[/]")


@app.command()
def verify(
    text: Annotated[str | None, typer.Argument(help="The text to check (or --file).")] = None,
    file: Annotated[Path | None, typer.Option("--file", help="Read the text from FILE ('-': stdin).")] = None,
    against: Annotated[
        list[Path] | None, typer.Option("--against", help="Check against these files only (repeatable).")
    ] = None,
    source: SourceOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the verification as JSON.")] = False,
) -> None:
    """Check each sentence of a text against the corpus (or --against files): supported,
    unsupported or contradicted, with the evidence quoted. Exit 0 when all are supported."""
    if file is not None:
        body = sys.stdin.read() if str(file) == "-" else run(lambda: _read(file))
    elif text is not None:
        body = text
    else:
        raise fail("Give the text to check, or --file FILE.", 2)
    if not body.strip():
        raise fail("The text to check is empty.", 2)
    documents = run(lambda: read_documents(against or []))
    chosen = run(lambda: filters(source, since, until))
    result = run(lambda: checked(body, documents, chosen))
    if as_json:
        sys.stdout.write(result.model_dump_json(indent=2) + "\n")
    else:
        print_verification(result)
        if result.verdict == "empty":
            err.print("[dim]Nothing to check: no sentence states a fact.[/]")
    raise typer.Exit(0 if result.verdict in ("supported", "empty") else 1)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"Cannot read {path}: {exc}") from None
