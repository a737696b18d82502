"""Following a feed: what the first poll of a 200-item feed costs, and what polling it again
costs when nothing changed (the point of conditional requests) and when one item is new.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/feeds.py [--items 200] [--workers 4]

A local server plays the news site: ``/robots.txt``, an RSS feed (with an ETag) of ``--items``
MultiHop-RAG articles, each as an HTML page with its title, outlet, author and date in ``og:``
and ``article:`` tags. The engine is fresh (a temporary data dir). Politeness is off (the site
is local); with the default 1 s between requests to one host, a first poll of one site's 200
items takes at least 200 s whatever the machine. Printed: seconds and requests per poll, the
articles stored and the chunks embedded.
"""

from __future__ import annotations

import argparse
import html
import json
import tempfile
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from rag.config import Settings
from rag.engine import Engine
from rag.feeds import Feeds

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "multihop-rag" / "corpus.json"


def page(article: dict[str, Any]) -> bytes:
    head = "".join(
        f'<meta property="{name}" content="{html.escape(str(value))}">'
        for name, value in (
            ("og:title", article["title"]),
            ("og:site_name", article["source"]),
            ("article:published_time", article["published_at"]),
            ("author", article["author"]),
        )
        if value and value != "None"
    )
    body = "".join(f"<p>{html.escape(p)}</p>" for p in article["body"].split("\n") if p.strip())
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'>{head}</head><body>"
        f"<article><h1>{html.escape(article['title'])}</h1>{body}</article></body></html>"
    ).encode()


def feed(articles: dict[int, dict[str, Any]], port: int) -> bytes:
    items = "".join(
        f"<item><title>{html.escape(a['title'])}</title><link>http://127.0.0.1:{port}/a/{i}</link>"
        f"<guid>/a/{i}</guid><pubDate>{a['published_at']}</pubDate></item>"
        for i, a in articles.items()
    )
    channel = f"<channel><title>Bench</title>{items}</channel>"
    return f'<?xml version="1.0"?><rss version="2.0">{channel}</rss>'.encode()


class Site:
    """The feed and its pages (each at a stable URL); counts requests. ``publish`` adds an item
    (the feed gets a new ETag)."""

    def __init__(self, articles: dict[int, dict[str, Any]]) -> None:
        self.articles = articles
        self.requests: list[tuple[str, int]] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.version = 1
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def publish(self, number: int, article: dict[str, Any]) -> None:
        self.articles = {number: article, **self.articles}
        self.version += 1

    def answer(self, path: str, headers: Any) -> tuple[int, bytes, dict[str, str]]:
        if path == "/robots.txt":
            return 200, b"User-agent: *\nAllow: /\n", {"Content-Type": "text/plain"}
        if path == "/feed.rss":
            etag = f'"v{self.version}"'
            if headers.get("If-None-Match") == etag:
                return 304, b"", {"ETag": etag}
            return 200, feed(self.articles, self.port), {"Content-Type": "application/rss+xml", "ETag": etag}
        if path.startswith("/a/") and path[3:].isdigit() and int(path[3:]) in self.articles:
            return 200, page(self.articles[int(path[3:])]), {"Content-Type": "text/html; charset=utf-8"}
        return 404, b"not found", {"Content-Type": "text/plain"}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
                status, body, headers = site.answer(self.path, self.headers)
                site.requests.append((self.path, status))
                self.send_response(status)
                for name, value in {**headers, "Content-Length": str(len(body))}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


class Timed:
    """Seconds spent inside a callable, summed over calls."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn, self.seconds = fn, 0.0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return self.fn(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - started


def timed_poll(feeds: Feeds, site: Site) -> dict[str, Any]:
    before = len(site.requests)
    reading = feeds.crawler.read = Timed(feeds.crawler.read)  # type: ignore[method-assign]
    embedding = feeds.engine.embed.embed_batch = Timed(feeds.engine.embed.embed_batch)  # type: ignore[method-assign]
    started = time.perf_counter()
    report = feeds.poll(force=True)
    made = site.requests[before:]
    feeds.crawler.read, feeds.engine.embed.embed_batch = reading.fn, embedding.fn  # type: ignore[method-assign]
    return {
        "seconds": round(time.perf_counter() - started, 3),
        "fetching_and_reading_s": round(reading.seconds, 3),
        "embedding_s": round(embedding.seconds, 3),
        "requests": len(made),
        "statuses": {str(s): sum(1 for _, st in made if st == s) for s in sorted({st for _, st in made})},
        "added": len(report.added),
        "folded": [f.url for f in report.folded],
        "unchanged": len(report.unchanged),
        "skipped": len(report.skipped),
        "chunks_embedded": report.chunks_embedded,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--workers", type=int, default=4, help="Articles fetched and read at once.")
    args = parser.parse_args()
    corpus = json.loads(CORPUS.read_text())
    site = Site(dict(enumerate(corpus[: args.items])))
    with tempfile.TemporaryDirectory() as folder:
        engine = Engine(Settings(_env_file=None, data_dir=Path(folder) / "data"))
        options = {"allow_private": True, "per_host_delay_s": 0.0, "workers": args.workers, "max_items": 1000}
        with Feeds(engine, **options) as feeds:
            feeds.add_source(f"http://127.0.0.1:{site.port}/feed.rss")
            results = {"first_poll": timed_poll(feeds, site), "unchanged_poll": timed_poll(feeds, site)}
            site.publish(args.items, corpus[args.items])
            results["one_new_item_poll"] = timed_poll(feeds, site)
        results["articles_stored"] = engine.store.count_articles()
        engine.close()
    print(json.dumps({"items": args.items, "workers": args.workers, **results}, indent=2))


if __name__ == "__main__":
    main()
