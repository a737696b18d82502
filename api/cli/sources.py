"""Following the news from the command line: ``rag sources add|list|remove`` (the feeds, sitemaps
and pages to follow) and ``rag watch`` (poll them on schedule and ingest what is new; with Slack
configured, post the digests owed to ``/ask subscribe`` subscriptions)."""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from api.cli.app import app, console, engine, err, run
from api.cli.output import print_report

if TYPE_CHECKING:
    from rag.engine import Engine
    from rag.feeds import FeedReport, Feeds, SourceInfo, Watcher

sources_app = typer.Typer(help="The feeds, sitemaps and pages `rag watch` follows.", no_args_is_help=True)
app.add_typer(sources_app, name="sources")

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def feeds_of(built: Engine, digests: bool = False) -> Feeds:
    """The engine's ``Feeds``; with ``digests`` and a Slack bot token, digests go to Slack."""
    from rag.feeds import Feeds

    notify = None
    if digests and built.settings.slack_bot_token is not None:
        from api.slack.bot import digest_poster

        notify = digest_poster(built.settings)
    return Feeds(built, notify=notify)


def start_watching(built: Engine) -> Watcher:
    """``rag serve --watch``: poll the sources in a background thread of the server process."""
    return feeds_of(built, digests=True).start()


@contextmanager
def following(digests: bool = False) -> Iterator[Feeds]:
    with engine() as built, feeds_of(built, digests) as feeds:
        yield feeds


def _print_sources(sources: list[SourceInfo]) -> None:
    table = Table(title=f"{len(sources)} source{'' if len(sources) == 1 else 's'}")
    table.add_column("id", no_wrap=True, min_width=12)  # whole: `rag sources remove` takes it
    table.add_column("url", overflow="fold")
    for col in ("name", "every", "last polled", "last result"):
        table.add_column(col, overflow="fold")
    for s in sources:
        polled = s.last_polled.strftime("%Y-%m-%d %H:%M UTC") if s.last_polled else "never"
        table.add_row(s.id, s.url, s.name or "", s.every, polled, s.last_result or "")
    console.print(table)


@sources_app.command("add")
def add(
    url: Annotated[str, typer.Argument(help="A feed (RSS/Atom), a sitemap or a page URL.")],
    every: Annotated[
        str | None,
        typer.Option("--every", help="Poll interval: 90s, 30m, 2h, 1d or 1h30m (default 30m)."),
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="A name to list it by.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Follow a source (again: the interval and name given replace the old ones). `rag watch` polls it."""
    with following() as feeds:
        source = run(lambda: feeds.add_source(url, every, name))
    if as_json:
        sys.stdout.write(source.model_dump_json(indent=2) + "\n")
    else:
        console.print(f"Following {source.url} every {source.every} (id {source.id}).", highlight=False)


@sources_app.command("list")
def list_sources(as_json: JsonOption = False) -> None:
    """The sources followed, when each was last polled and what that poll did."""
    with following() as feeds:
        sources = run(feeds.sources)
    if as_json:
        sys.stdout.write(json.dumps([s.model_dump(mode="json") for s in sources], indent=2) + "\n")
    else:
        _print_sources(sources)


@sources_app.command("remove")
def remove(
    source: Annotated[str, typer.Argument(help="The source's URL or id (`rag sources list`).")],
) -> None:
    """Stop following a source; the articles it brought stay in the corpus."""
    with following() as feeds:
        removed = run(lambda: feeds.remove_source(source))
    console.print(f"No longer following {removed.url}.", highlight=False)


def _print_poll(report: FeedReport, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(report.model_dump_json() + "\n")
        sys.stdout.flush()
        return
    for polled in report.sources:
        colour = {"read": "green", "not_modified": "dim", "failed": "red"}[polled.status]
        console.print(f"[{colour}]{polled.status}[/] {polled.url}: {polled.detail}", highlight=False)
    if report.added or report.updated or report.skipped:
        print_report(report)


@app.command()
def watch(
    once: Annotated[
        bool, typer.Option("--once", help="Poll every source once now (due or not), then exit.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print each poll's report as a JSON line.")] = False,
) -> None:
    """Poll the followed sources when due and ingest what is new, until Ctrl-C. Unchanged feeds
    cost one conditional request; known articles are not fetched again."""
    with following(digests=True) as feeds:
        if once:
            _print_poll(run(lambda: feeds.poll(force=True)), as_json)
            return
        if not as_json:
            err.print("[dim]Watching the sources (`rag sources list`); Ctrl-C to stop.[/]")
        # `docker stop`, systemd and `kill` send SIGTERM: stop as on Ctrl-C.
        signal.signal(signal.SIGTERM, _interrupt)
        with suppress(KeyboardInterrupt):
            feeds.watch(on_report=lambda report: _print_poll(report, as_json))


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
