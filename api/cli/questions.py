"""Commands that ask the corpus: ``rag ask``, ``rag chat``, ``rag summarize``."""

from __future__ import annotations

import sys
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from api.cli.app import app, console, engine, err, fail, run
from api.cli.output import filters, print_answer, stream_answer
from rag.errors import RagError

SourceOption = Annotated[list[str] | None, typer.Option("--source", help="Only this outlet (repeatable).")]
SinceOption = Annotated[str | None, typer.Option(help="Only articles published on/after (YYYY-MM-DD).")]
UntilOption = Annotated[str | None, typer.Option(help="Only articles published on/before (YYYY-MM-DD).")]
AsOfOption = Annotated[
    datetime | None,
    typer.Option("--as-of", formats=["%Y-%m-%d"], help="Read 'this week', 'recently' as of this day."),
]


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the final Answer as JSON.")] = False,
    source: SourceOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    top_k: Annotated[int | None, typer.Option("--top-k", min=1, max=100, help="Passages to use.")] = None,
    as_of: AsOfOption = None,
) -> None:
    """Ask a question; the answer streams in, then every sentence's citations are verified."""
    from rag.engine import clean_question

    run(lambda: clean_question(question))
    chosen = run(lambda: filters(source, since, until))
    chosen.as_of = as_of.date() if as_of else None
    with engine() as built:
        if as_json:
            answer = run(lambda: built.ask(question, chosen, top_k))
            sys.stdout.write(answer.model_dump_json(indent=2) + "\n")
            return
        final = run(lambda: stream_answer(built.ask_stream(question, chosen, top_k)))
        print_answer(final)


@app.command()
def chat() -> None:
    """A multi-turn conversation in the terminal (empty line or Ctrl-D to quit)."""
    with engine() as built:
        console.print("[dim]Ask about the corpus; follow-ups keep the context. Empty line to quit.[/]")
        conversation_id: str | None = None
        while True:
            try:
                question = console.input("[bold green]you>[/] ").strip()
            except (EOFError, KeyboardInterrupt):
                break
            if not question:
                break
            try:
                reply = built.chat(question, conversation_id)
            except RagError as exc:
                err.print(f"[red]{exc}[/]")
                continue
            conversation_id = reply.conversation_id
            if reply.answer.question != question:
                console.print(f"[dim](searched for: {reply.answer.question})[/]", highlight=False)
            print_answer(reply.answer)


class ReportFormat(StrEnum):
    md = "md"
    html = "html"
    json = "json"


@app.command()
def summarize(
    topic: Annotated[str, typer.Argument(help="What to summarise, e.g. 'the FTX trial of SBF'.")],
    source: SourceOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    fmt: Annotated[
        ReportFormat, typer.Option("--format", help="Markdown, a self-contained HTML page, or JSON.")
    ] = ReportFormat.md,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the report to FILE instead of stdout.")
    ] = None,
    as_of: AsOfOption = None,
) -> None:
    """A research summary: key points, timeline and sources on a topic, every claim cited."""
    from rag.summary import clean_topic, render

    run(lambda: clean_topic(topic))
    chosen = run(lambda: filters(source, since, until))
    chosen.as_of = as_of.date() if as_of else None
    with engine() as built:
        summary = run(lambda: built.summarize(topic, chosen))
    text = render(summary, fmt.value)
    if out is None:
        sys.stdout.write(text)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise fail(f"Cannot write {out}: {exc.strerror}", 1) from None
    err.print(
        f"Wrote {out} (key points: {len(summary.key_points)}, timeline: {len(summary.timeline)}, "
        f"sources: {len(summary.sources)}; {summary.seconds:.1f}s).",
        highlight=False,
    )
