"""How the command line shows things: ingest reports, answers (streamed, then verified), and
the benchmark's scores."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import nullcontext
from datetime import date
from typing import Any

from rich.live import Live
from rich.table import Table
from rich.text import Text

from api.cli.app import console, err
from rag.errors import BadInput, RagError
from rag.models import Answer, Filters, IngestReport, StreamEvent, explain


def filters(source: list[str] | None, since: str | None, until: str | None) -> Filters:
    def day(value: str | None, name: str) -> date | None:
        if not value:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise BadInput(f"--{name} must be a date like 2023-10-05, got {value!r}") from None

    return Filters(source=source or None, since=day(since, "since"), until=day(until, "until"))


def print_report(report: IngestReport) -> None:
    table = Table(title=f"Ingest report ({report.seconds:.1f}s, {report.chunks_embedded} chunks embedded)")
    for name in ("added", "updated", "unchanged", "removed", "skipped"):
        table.add_column(name, justify="right")
    table.add_row(*(str(v) for v in report.counts().values()))
    console.print(table)
    for skipped in report.skipped:
        console.print(f"[yellow]skipped[/] {skipped.path}: {skipped.reason}", highlight=False)


def print_answer(answer: Answer) -> None:
    console.print(answer.answer, highlight=False)
    if answer.degraded:
        err.print(f"[dim](degraded: {answer.degraded_reason})[/]")
    for sentence in answer.sentences:
        why = explain(sentence)
        if why:
            colour = "red" if sentence.verdict == "contradicted" else "yellow"
            err.print(f"[{colour}]{why}:[/] {sentence.text}", highlight=False)
    if answer.removed_citations:
        shown = ", ".join(f"[{n}]" for n in answer.removed_citations)
        err.print(f"[yellow]removed citations to passages never shown:[/] {shown}", highlight=False)
    for c in answer.citations:
        when = c.published_at.date().isoformat() if c.published_at else "undated"
        console.print(
            f"[bold][{c.id}][/] {c.title} — {c.source or 'unknown outlet'}, {when}", highlight=False
        )
        if c.url:
            console.print(f"    {c.url}", highlight=False)
        console.print(f'    [dim]"{c.quote}"[/]', highlight=False)


def stream_answer(events: Iterator[StreamEvent]) -> Answer:
    """Show the text live while it is written (on a terminal), then return the verified answer.

    The live text is replaced by the final answer, whose citation numbers are the verified ones.
    """
    written = ""
    final: Answer | None = None
    live = Live(console=console, transient=True) if console.is_terminal else None
    with live or nullcontext():
        for event in events:
            if event.answer is not None:
                final = event.answer
            elif event.text and live is not None:
                written = event.text if event.replace else written + event.text
                live.update(Text(written))
    if final is None:
        raise RagError("The answer stream ended without an answer.")
    return final


_METRICS = (
    "hits@10",
    "hits@4",
    "mrr@10",
    "map@10",
    "evidence_recall@10",
    "refusal_accuracy",
    "answered_rate",
    "latency_ms_p50",
    "latency_ms_p95",
)


def print_eval(scores: dict[str, Any]) -> None:
    """Metrics as rows, question types as columns (fits an 80-column terminal)."""
    columns = [("all", scores)] + sorted(scores["by_type"].items())
    table = Table(title=f"MultiHop-RAG, top 10 ({scores['n_queries']} queries)")
    table.add_column("metric")
    for kind, _ in columns:
        table.add_column(kind.removesuffix("_query"), justify="right")
    table.add_row("queries", *(str(row["n_queries"]) for _, row in columns))
    for name in _METRICS:
        digits = 1 if "latency" in name else 3
        table.add_row(name, *("–" if row[name] is None else f"{row[name]:.{digits}f}" for _, row in columns))
    console.print(table)
    cross, unseen = scores.get("ranker_cross_validated"), scores.get("ranker_unseen_articles")
    if cross:
        console.print(
            "[yellow]The shipped ranker was fitted on these queries, so the scores above are "
            f"in-sample. Cross-validated on them (what unseen questions get): {_figures(cross)}.[/yellow]"
        )
    if unseen:
        console.print(
            "[yellow]Fitted only on the questions citing none of the scored ones' articles (what "
            f"another corpus gets): {_figures(unseen)}.[/yellow]"
        )


def _figures(scores: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in scores.items() if isinstance(v, float))
