"""Commands that change or list the corpus: ``rag ingest``, ``rag documents``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from api.cli.app import app, console, engine, progress_bar, run
from api.cli.output import print_report


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or directories to ingest.")],
    sync: Annotated[
        bool, typer.Option("--sync", help="Also remove articles whose files are gone from PATH.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Ingest articles (.txt .md .html .pdf .json .jsonl); unchanged files are skipped."""
    with engine() as built, progress_bar(quiet=as_json) as bar:
        task = bar.add_task("Reading files", total=None)

        def progress(done: int, total: int, what: str) -> None:
            bar.update(task, description=f"Embedding articles ({what})", completed=done, total=total)

        report = run(lambda: built.ingest(paths, sync=sync, progress=progress))
    if as_json:
        console.print_json(report.model_dump_json())
    else:
        print_report(report)


@app.command()
def documents(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List ingested articles."""
    with engine() as built:
        docs = run(built.documents)
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
