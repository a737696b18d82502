"""The ``rag`` command line: ingest, ask, documents, chat.

Errors from the engine are translated once, in ``_run``: a message and an exit code
(2 for bad input, 1 otherwise), never a traceback.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext, suppress
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from rag.config import Settings
from rag.errors import BadInput, RagError
from rag.models import Answer, Filters, IngestReport, StreamEvent

app = typer.Typer(
    help="Answer questions over a corpus of news articles, with citations you can trust.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()
err = Console(stderr=True)
T = TypeVar("T")


class State:
    data_dir: Path | None = None


def settings() -> Settings:
    overrides: dict[str, Any] = {}
    if State.data_dir is not None:
        overrides["data_dir"] = State.data_dir
    return Settings(**overrides)


def _fail(message: str, code: int) -> typer.Exit:
    err.print(f"[bold red]Error:[/] {message}", highlight=False)
    return typer.Exit(code)


def _run(fn: Callable[[], T]) -> T:
    """Call into the engine, turning its errors into a message and an exit code."""
    try:
        return fn()
    except BadInput as exc:
        raise _fail(str(exc), 2) from None
    except RagError as exc:
        raise _fail(str(exc), 1) from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "setting"
        raise _fail(f"invalid {where}: {first.get('msg')}", 2) from None


@contextmanager
def _engine() -> Iterator[Any]:
    from rag.engine import Engine

    engine = _run(lambda: Engine(settings()))
    try:
        yield engine
    finally:
        engine.close()


def _progress_bar(quiet: bool) -> Progress:
    """The Rich bar long commands show on stderr (hidden for --json and when not a terminal)."""
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=quiet or not err.is_terminal,
    )


@app.callback()
def main(
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Index location (env RAG_DATA_DIR, default ./data).")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress details.")] = False,
) -> None:
    State.data_dir = data_dir
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format='{"level":"%(levelname)s","logger":"%(name)s","msg":"%(message)s"}',
    )


def _filters(source: list[str] | None, since: str | None, until: str | None) -> Filters:
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


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or directories to ingest.")],
    sync: Annotated[
        bool, typer.Option("--sync", help="Also remove articles whose files are gone from PATH.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Ingest articles (.txt .md .html .pdf .json .jsonl); unchanged files are skipped."""
    with _engine() as engine, _progress_bar(quiet=as_json) as bar:
        task = bar.add_task("Reading files", total=None)

        def progress(done: int, total: int, what: str) -> None:
            bar.update(task, description=f"Embedding articles ({what})", completed=done, total=total)

        report = _run(lambda: engine.ingest(paths, sync=sync, progress=progress))
    if as_json:
        console.print_json(report.model_dump_json())
    else:
        print_report(report)


def print_answer(answer: Answer) -> None:
    console.print(answer.answer, highlight=False)
    if answer.degraded:
        err.print(f"[dim](degraded: {answer.degraded_reason})[/]")
    for sentence in answer.sentences:
        if not sentence.supported:
            why = "its citations do not support it" if sentence.citations else "it cites nothing"
            err.print(f"[yellow]unverified ({why}):[/] {sentence.text}", highlight=False)
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


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the final Answer as JSON.")] = False,
    source: Annotated[
        list[str] | None, typer.Option("--source", help="Only this outlet (repeatable).")
    ] = None,
    since: Annotated[str | None, typer.Option(help="Only articles published on/after (YYYY-MM-DD).")] = None,
    until: Annotated[str | None, typer.Option(help="Only articles published on/before (YYYY-MM-DD).")] = None,
    top_k: Annotated[int | None, typer.Option("--top-k", min=1, max=100, help="Passages to use.")] = None,
) -> None:
    """Ask a question; the answer streams in, then every sentence's citations are verified."""
    from rag.engine import clean_question

    _run(lambda: clean_question(question))
    filters = _run(lambda: _filters(source, since, until))
    with _engine() as engine:
        if as_json:
            answer = _run(lambda: engine.ask(question, filters, top_k))
            sys.stdout.write(answer.model_dump_json(indent=2) + "\n")
            return
        final = _run(lambda: _stream_answer(engine.ask_stream(question, filters, top_k)))
        print_answer(final)


def _stream_answer(events: Iterator[StreamEvent]) -> Answer:
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
                written += event.text
                live.update(Text(written))
    if final is None:
        raise RagError("The answer stream ended without an answer.")
    return final


@app.command()
def documents(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List ingested articles."""
    with _engine() as engine:
        docs = engine.documents()
    if as_json:
        sys.stdout.write(json.dumps([d.model_dump(mode="json") for d in docs], indent=2) + "\n")
        return
    table = Table(title=f"{len(docs)} articles")
    for col in ("id", "published", "outlet", "title", "chunks"):
        table.add_column(col)
    for d in docs:
        when = d.published_at.date().isoformat() if d.published_at else ""
        table.add_row(d.id, when, d.source or "", d.title[:70], str(d.chunks))
    console.print(table)


@app.command()
def chat() -> None:
    """A multi-turn conversation in the terminal (empty line or Ctrl-D to quit)."""
    with _engine() as engine:
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
                reply = engine.chat(question, conversation_id)
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
    source: Annotated[
        list[str] | None, typer.Option("--source", help="Only this outlet (repeatable).")
    ] = None,
    since: Annotated[str | None, typer.Option(help="Only articles published on/after (YYYY-MM-DD).")] = None,
    until: Annotated[str | None, typer.Option(help="Only articles published on/before (YYYY-MM-DD).")] = None,
    fmt: Annotated[
        ReportFormat, typer.Option("--format", help="Markdown, a self-contained HTML page, or JSON.")
    ] = ReportFormat.md,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the report to FILE instead of stdout.")
    ] = None,
) -> None:
    """A research summary: key points, timeline and sources on a topic, every claim cited."""
    from rag.report import render
    from rag.summarize import clean_topic

    _run(lambda: clean_topic(topic))
    filters = _run(lambda: _filters(source, since, until))
    with _engine() as engine:
        summary = _run(lambda: engine.summarize(topic, filters))
    text = render(summary, fmt.value)
    if out is None:
        sys.stdout.write(text)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise _fail(f"Cannot write {out}: {exc.strerror}", 1) from None
    err.print(
        f"Wrote {out} (key points: {len(summary.key_points)}, timeline: {len(summary.timeline)}, "
        f"sources: {len(summary.sources)}; {summary.seconds:.1f}s).",
        highlight=False,
    )


@app.command("llm-server")
def llm_server(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8080,
    threads: Annotated[int, typer.Option(min=1, help="CPU threads for generation.")] = 2,
    context: Annotated[int, typer.Option(min=512, help="Context window in tokens.")] = 4096,
    model_dir: Annotated[
        Path | None, typer.Option(help="Where the model is assembled (default: <data dir>/models).")
    ] = None,
    prepare: Annotated[
        bool, typer.Option("--prepare", help="Assemble and verify the model, then exit.")
    ] = False,
) -> None:
    """Serve the local offline LLM (Qwen2.5-Coder-1.5B, llama.cpp) on an OpenAI-compatible endpoint."""
    import os

    from rag import local_llm

    folder = model_dir or _run(settings).resolved_data_dir() / "models"
    if not prepare and not local_llm.server_installed():
        raise _fail(f"llama-cpp-python is not installed: {local_llm.INSTALL_HINT}.", 1)
    with err.status("Assembling and verifying the model (once)…"):
        model = _run(lambda: local_llm.model_path(folder))
    if prepare:
        console.print(f"Model ready: {model}", highlight=False)
        return
    console.print(f"RAG_LLM_BASE_URL=http://{host}:{port}/v1", highlight=False)
    console.print(f"RAG_LLM_MODEL={local_llm.MODEL_ALIAS}", highlight=False)
    command = local_llm.server_command(model, host, port, threads, context)
    sys.stdout.flush()
    # Replace this process (not a child): stopping `rag llm-server` must stop the server too.
    os.execv(command[0], command)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Worker processes (each loads its own engine).")
    ] = 1,
) -> None:
    """Serve the HTTP API, the OpenAI-compatible endpoint and the web chat page (uvicorn)."""
    import os

    import uvicorn

    from api.app import create_app

    config = _run(settings)
    level = config.log_level.lower()
    console.print(f"[dim]Serving on http://{host}:{port} (web chat at /, API docs at /docs)[/]")
    if workers == 1:
        app = _run(lambda: create_app(config))  # a store or model problem fails here, clearly
        uvicorn.run(app, host=host, port=port, log_level=level)
        return
    if not config.chroma_url:
        err.print(
            "[yellow]Several workers share one embedded Chroma store: fine for questions, but "
            "upload documents through one process or set RAG_CHROMA_URL to a Chroma server.[/]"
        )
    if State.data_dir is not None:
        # Worker processes build their own Settings from the environment.
        os.environ["RAG_DATA_DIR"] = str(State.data_dir)
    uvicorn.run("api.app:create_app", factory=True, host=host, port=port, workers=workers, log_level=level)


@app.command()
def feedback(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List the 👍 / 👎 ratings users gave answers (newest first)."""
    from rag.feedback import FeedbackStore

    records = _run(lambda: FeedbackStore(settings()).list())
    if as_json:
        sys.stdout.write(json.dumps([r.model_dump(mode="json") for r in records], indent=2) + "\n")
        return
    table = Table(title=f"{len(records)} ratings")
    table.add_column("when (UTC)", no_wrap=True)
    for col in ("rating", "user", "where", "question", "answer"):
        table.add_column(col)
    for r in records:
        table.add_row(
            r.created_at.strftime("%Y-%m-%d %H:%M"),
            "👍" if r.rating == "up" else "👎",
            r.user,
            r.channel,
            r.question[:60],
            r.answer[:80],
        )
    console.print(table)


@app.command()
def slack() -> None:
    """Run the Slack bot over Socket Mode (needs RAG_SLACK_BOT_TOKEN and RAG_SLACK_APP_TOKEN)."""
    from api.slack import check_settings, run_socket_mode

    config = _run(settings)
    _run(lambda: check_settings(config, socket_mode=True))
    # `docker stop`, systemd and `kill` send SIGTERM; shut down as on Ctrl-C. A bot started in
    # the background by a script cannot get Ctrl-C at all: the shell ignores SIGINT for it.
    signal.signal(signal.SIGTERM, _interrupt)
    with _engine() as engine:
        console.print("[dim]Connecting to Slack over Socket Mode; Ctrl-C to stop.[/]")
        with suppress(KeyboardInterrupt):
            _run(lambda: run_socket_mode(engine, config))


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


eval_app = typer.Typer(help="Measure retrieval and refusals on a public benchmark.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")

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


@eval_app.command("multihop")
def eval_multihop(
    corpus: Annotated[Path, typer.Option("--corpus", help="The benchmark's corpus.json.")],
    queries: Annotated[Path, typer.Option("--queries", help="A queries file, e.g. queries-dev.json.")],
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Only the first N queries (null ones included).")
    ] = None,
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="Index folder for the benchmark (reused when current).")
    ] = Path("data-eval"),
    skip_answers: Annotated[
        bool, typer.Option("--skip-answers", help="Retrieval only: no refusal/answered figures.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the scores as JSON.")] = False,
) -> None:
    """MultiHop-RAG with the paper's protocol: Hits@10/@4, MRR@10, MAP@10, evidence recall, refusals."""
    from rag.evaluate import run_multihop

    with _progress_bar(quiet=as_json) as bar:
        task = bar.add_task("Indexing the corpus", total=None)
        result = _run(
            lambda: run_multihop(
                settings(),
                corpus,
                queries,
                data_dir,
                limit=limit,
                answers=not skip_answers,
                ingest_progress=lambda done, total, _: bar.update(task, completed=done, total=total),
                progress=lambda done, total: bar.update(
                    task, description="Running queries", completed=done, total=total
                ),
            )
        )
    if as_json:
        sys.stdout.write(json.dumps(result.dump(), indent=2) + "\n")
    else:
        print_eval(result.dump())
