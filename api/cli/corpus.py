"""Commands that change or list the corpus: ``rag ingest`` (files, folders and URLs), ``rag documents``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from api.cli.app import app, console, engine, fail, progress_bar, run
from api.cli.output import print_report
from rag.models import IngestReport


@app.command()
def ingest(
    targets: Annotated[
        list[str],
        typer.Argument(
            help="Files, directories or URLs: article pages, RSS/Atom feeds (each item's link is "
            "fetched) and sitemaps, mixed as you like.",
            metavar="PATH_OR_URL...",
        ),
    ],
    sync: Annotated[
        bool, typer.Option("--sync", help="Also remove articles whose files are gone from PATH.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Ingest articles (.txt .md .html .pdf .json .jsonl .csv .tsv, or by URL); unchanged files and known
    articles are skipped, syndicated copies of stored stories folded into them."""
    try:
        report = _ingest(targets, sync, as_json)
    except KeyboardInterrupt:
        raise fail(
            "Interrupted. The articles committed so far are kept (a few at a time); run the same "
            "command again to finish the rest.",
            130,
        ) from None
    if as_json:
        console.print_json(report.model_dump_json())
        return
    print_report(report)
    for folded in getattr(report, "folded", []):
        console.print(
            f"[cyan]folded[/] {folded.url} ({folded.outlet or 'unknown outlet'}): a copy of stored "
            f"article {folded.story_id}",
            highlight=False,
        )


def _ingest(targets: list[str], sync: bool, as_json: bool) -> IngestReport:
    from rag.feeds.service import is_url
    from rag.ingest import INGEST_WAIT_SECONDS, WAITING

    with engine() as built, progress_bar() as bar:
        task = bar.add_task("Reading files and URLs", total=None)

        def progress(done: int, total: int, what: str) -> None:
            if what == WAITING:  # a line, not only the bar: away from a terminal the bar is quiet
                bar.console.print(
                    f"Another ingest is writing to this corpus; waiting up to {INGEST_WAIT_SECONDS:.0f} s "
                    "for it to finish."
                )
                bar.update(task, description=what.capitalize())
                return
            bar.update(task, description=f"Embedding articles ({what})", completed=done, total=total)

        if not any(is_url(t) for t in targets):
            return run(lambda: built.ingest([Path(t) for t in targets], sync=sync, progress=progress))
        from rag.feeds import Feeds

        with Feeds(built) as feeds:
            return run(lambda: feeds.ingest(targets, sync=sync, progress=progress))


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
