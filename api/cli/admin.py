"""Commands about the service rather than the news: ``rag config``, ``rag feedback``, ``rag eval``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from api.cli.app import app, console, engine, fail, progress_bar, run, settings
from api.cli.output import print_eval, print_report


@app.command("config")
def show_config(
    markdown: Annotated[
        bool, typer.Option("--markdown", help="Print the README's table of every setting instead.")
    ] = False,
) -> None:
    """The effective settings (secrets masked) and where each came from: env, .env or default."""
    from rag.settings_doc import effective, table_markdown

    if markdown:
        sys.stdout.write(table_markdown() + "\n")
        return
    table = Table(title="Settings")
    for col in ("variable", "value", "from"):
        table.add_column(col)
    for name, value, where in effective(settings()):
        table.add_row(name, value, where)
    console.print(table)


@app.command()
def doctor(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Check the data dir (database, vectors, keyword index, uploads) and say how to mend it.
    Exit 0 when nothing is wrong, 1 otherwise."""
    config = settings()
    folder = config.resolved_data_dir()
    if config.database_url is None and not folder.is_dir():  # a mistyped path is not a healthy index
        from rag.doctor import Finding

        findings = [
            Finding(
                f"No data directory at {folder}: nothing has been ingested there.",
                "Check RAG_DATA_DIR / --data-dir, or run `rag ingest corpus/` to create it.",
            )
        ]
    else:
        with engine() as built:
            findings = run(built.doctor)
    if as_json:
        sys.stdout.write(json.dumps([vars(f) for f in findings], indent=2) + "\n")
    elif not findings:
        console.print("[green]No problems found.[/]")
    for f in [] if as_json else findings:
        console.print(f"[yellow]•[/] {f.problem}\n  [dim]fix:[/] {f.fix}", highlight=False, soft_wrap=True)
    raise typer.Exit(1 if findings else 0)


@app.command()
def rebuild(
    paths: Annotated[list[Path] | None, typer.Argument(help="Files or folders to ingest after.")] = None,
) -> None:
    """Rebuild the index: a damaged catalog is set aside and restored from the vector store's
    copy, then every article is embedded again with the current settings."""
    from rag.engine import Engine
    from rag.errors import StoreUnavailable
    from rag.store.database import set_aside

    config = settings()
    try:
        built = Engine(config)
    except StoreUnavailable as exc:
        if "damaged" not in str(exc):
            raise fail(str(exc), 1) from None
        moved = set_aside(config.resolved_data_dir())
        console.print(f"[yellow]The catalog was damaged; set aside as {moved}.[/]", highlight=False)
        built = run(lambda: Engine(config))
    try:
        with progress_bar() as bar:
            task = bar.add_task("Rebuilding", total=None)
            report = run(
                lambda: built.rebuild(paths or [], lambda d, t, w: bar.update(task, completed=d, total=t))
            )
    finally:
        built.close()
    print_report(report)


@app.command()
def feedback(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List the 👍 / 👎 ratings users gave answers (newest first)."""
    from rag.feedback import FeedbackStore
    from rag.store.database import Database, database_url

    config = settings()
    data_dir = config.resolved_data_dir()
    data_dir.mkdir(parents=True, exist_ok=True)
    database = run(lambda: Database(database_url(config.database_url, data_dir), data_dir))
    try:
        records = run(FeedbackStore(database).list)
    finally:
        database.close()
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


eval_app = typer.Typer(help="Measure retrieval and refusals on a public benchmark.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")


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

    with progress_bar() as bar:
        task = bar.add_task("Indexing the corpus", total=None)
        result = run(
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
