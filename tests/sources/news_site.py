"""A local news site for the fetcher to crawl: feeds, articles and every way a site misbehaves.

Served on 127.0.0.1 at a random port (so tests that fetch it allow private addresses; one test
checks the refusal). Every request is logged (path, status, headers, time), so tests can
assert what a fetch cost: "an unchanged feed costs one request, answered 304".

Paths: ``/robots.txt`` (disallows ``/private/`` for all, and ``/members/`` for rag-news),
``/feed.rss`` (ETag + Last-Modified), ``/feed.atom`` (Last-Modified only), ``/news/plain``
(breadcrumbs, no metadata), ``/news/jsonld`` (JSON-LD NewsArticle), ``/news/og`` (og: tags and
``<time>``), ``/news/paywall``, ``/slow``, ``/loop/a`` <-> ``/loop/b``, ``/old`` -> ``/news/plain``,
``/partner/storm`` (the wire story of ``/news/plain`` on another outlet),
``/hop/1`` -> ... -> ``/hop/9``, ``/to-private`` -> 127.0.0.1, ``/huge`` and ``/huge-unsized``
(3 MB, with and without Content-Length), ``/flaky`` (503 once), ``/down`` (always 500),
``/busy`` (429, Retry-After: 3600), ``/sitemap.xml``, ``/sitemap-index.xml``,
``/sitemap-2023.xml.gz``; anything else is a 404.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.sources.stories import ELECTION, STORM, STORM_AFTERMATH, html_paragraphs

FEED_ETAG = '"feed-v1"'
FEED_MODIFIED = "Tue, 05 Mar 2024 08:00:00 GMT"
SLOW_S = 2.0


@dataclass
class Page:
    body: bytes = b""
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None  # answered with 304 when the request's If-None-Match matches
    last_modified: str | None = None  # likewise for If-Modified-Since
    delay_s: float = 0.0
    sized: bool = True  # send Content-Length (else the body ends when the connection closes)


# A fixed page, or one computed from how many times its path was requested (1 on the first).
Route = Page | Callable[[int], Page]


@dataclass
class Seen:
    path: str
    status: int
    headers: dict[str, str]
    at: float  # time.monotonic() when the request arrived


def redirect(location: str, status: int = 302) -> Page:
    return Page(status=status, headers={"Location": location})


class NewsSite:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = default_routes()
        self.requests: list[Seen] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.routes["/to-private"] = redirect(f"http://127.0.0.1:{self.port}/news/plain")
        # A short poll interval: shutdown() waits for one, after every test.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def hits(self, path: str) -> int:
        return sum(seen.path == path for seen in self.requests)

    def statuses(self, path: str) -> list[int]:
        return [seen.status for seen in self.requests if seen.path == path]

    def start(self) -> NewsSite:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(self, path: str, headers: dict[str, str]) -> Page:
        with self._lock:
            route = self.routes.get(path, Page(b"<h1>Not found</h1>", status=404))
            count = self.hits(path) + 1
            page = route(count) if callable(route) else route
            if _not_modified(page, headers):
                page = Page(status=304, etag=page.etag, last_modified=page.last_modified)
            self.requests.append(Seen(path, page.status, headers, time.monotonic()))
        return page


def _not_modified(page: Page, headers: dict[str, str]) -> bool:
    if page.etag and headers.get("if-none-match") == page.etag:
        return True
    return bool(page.last_modified and headers.get("if-modified-since") == page.last_modified)


def _handler(site: NewsSite) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
            headers = {k.lower(): v for k, v in self.headers.items()}
            page = site.answer(self.path.split("?", 1)[0], headers)
            time.sleep(page.delay_s)
            try:
                self.send_response(page.status)
                self.send_header("Content-Type", page.content_type)
                if page.sized:
                    self.send_header("Content-Length", str(len(page.body)))
                for name, value in [("ETag", page.etag), ("Last-Modified", page.last_modified)]:
                    if value:
                        self.send_header(name, value)
                for name, value in page.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                for start in range(0, len(page.body), 65536):
                    self.wfile.write(page.body[start : start + 65536])
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout, size cap): what the test wanted

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


def article_html(
    paragraphs: list[str],
    head: str = "",
    headline: str = "",
    crumbs: bool = False,
    lang: str = "en",
    dateline: str = "",
) -> bytes:
    nav = '<nav class="breadcrumb"><a href="/">Home</a> › <a href="/world">World</a> › Europe</nav>'
    menu = '<header><ul><li><a href="/">News</a></li><li><a href="/sport">Sport</a></li></ul></header>'
    return f"""<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">{head}</head>
<body>{menu}{nav if crumbs else ""}{dateline}
<article>{f"<h1>{headline}</h1>" if headline else ""}
{html_paragraphs(paragraphs)}
</article>
<footer>© 2024 The publisher. <a href="/privacy">Privacy</a> · <a href="/terms">Terms</a></footer>
</body></html>""".encode()


def _json_ld(data: dict) -> str:
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


JSONLD_HEAD = (
    "<title>Almen votes | Almen Gazette</title>"
    + _json_ld(
        {
            "@context": "https://schema.org",
            "@graph": [
                {"@type": "WebSite", "name": "Almen Gazette"},
                {
                    "@type": "NewsArticle",
                    "headline": "Almen chooses a new council after the bridge dispute",
                    "datePublished": "2024-03-08T18:05:00+01:00",
                    "author": [
                        {"@type": "Person", "name": "Mara Holt"},
                        {"@type": "Person", "name": "Jon Ek"},
                    ],
                    "publisher": {"@type": "Organization", "name": "Almen Gazette"},
                    "articleSection": "Politics",
                },
            ],
        }
    )
    + '<link rel="canonical" href="/news/jsonld?utm_source=twitter#comments">'
)

OG_HEAD = (
    '<meta property="og:title" content="Storm claims to run into millions | Coastal Times">'
    '<meta property="og:site_name" content="Coastal Times">'
    # A canonical URL on another site must not become this article's identity.
    '<link rel="canonical" href="https://wire.example/storm-claims">'
)

DATELINE = '<div class="dateline"><time datetime="2024-03-07T09:15:00+01:00">7 March</time></div>'

PAYWALL_HTML = (
    b'<!doctype html><html><head><meta property="og:title" content="Inside the storm">'
    + _json_ld(
        {"@type": "NewsArticle", "headline": "Inside the storm", "isAccessibleForFree": False}
    ).encode()
    + b"</head><body><article><h1>Inside the storm</h1><p>This article is for subscribers. "
    b"Subscribe now to keep reading.</p></article></body></html>"
)


def rss() -> bytes:
    plain = "/news/plain?utm_source=rss&amp;utm_medium=feed"  # trackers, as real feeds add them
    items = [
        (plain, "Storm batters the northern coast", "Tue, 05 Mar 2024 07:30:00 +0100", "Lena Brandt"),
        ("/news/jsonld", "Almen votes", "Fri, 08 Mar 2024 12:00:00 +0100", "Desk"),
        ("/news/og", "Storm claims", "Thu, 07 Mar 2024 10:00:00 +0100", "Wire staff"),
        ("/news/paywall", "Inside the storm", "Wed, 06 Mar 2024 10:00:00 +0100", "Lena Brandt"),
    ]
    body = "".join(
        f"<item><title>{title}</title><link>{link}</link><guid>{link}</guid>"
        f"<pubDate>{date}</pubDate><dc:creator>{author}</dc:creator></item>"
        for link, title, date, author in items
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>Kessling Courier</title>'
        f"<link>/</link>{body}</channel></rss>"
    ).encode()


ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Coastal Times</title><id>urn:coastal</id>
<updated>2024-03-07T10:00:00Z</updated>
<entry><title>Storm claims</title><link rel="alternate" href="news/og"/><id>urn:og</id>
<published>2024-03-07T09:15:00+01:00</published><updated>2024-03-07T11:00:00Z</updated>
<author><name>Wire staff</name></author></entry>
<entry><title>Almen votes</title><link href="/news/jsonld"/><id>urn:jsonld</id>
<updated>2024-03-08T12:00:00Z</updated></entry>
</feed>"""

SITEMAP = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
<url><loc>/news/plain</loc><lastmod>2024-03-05</lastmod></url>
<url><loc>/news/jsonld</loc><news:news><news:publication><news:name>Almen Gazette</news:name>
<news:language>en</news:language></news:publication>
<news:publication_date>2024-03-08T18:05:00+01:00</news:publication_date>
<news:title>Almen chooses a new council</news:title></news:news></url>
<url><loc>/news/og?utm_campaign=sitemap</loc><lastmod>2024-03-07T09:15:00Z</lastmod></url>
<url><loc>mailto:desk@example.org</loc></url>
</urlset>"""

SITEMAP_INDEX = b"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>/sitemap-2023.xml.gz</loc><lastmod>2023-12-31</lastmod></sitemap>
<sitemap><loc>/sitemap.xml</loc><lastmod>2024-03-08</lastmod></sitemap>
</sitemapindex>"""

OLD_SITEMAP = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<url><loc>/news/2023/year-in-review</loc><lastmod>2023-12-31</lastmod></url></urlset>"""


def default_routes() -> dict[str, Route]:
    xml = "application/xml"
    routes: dict[str, Route] = {
        "/robots.txt": Page(
            b"User-agent: *\nDisallow: /private/\n\nUser-agent: rag-news\nDisallow: /private/\n"
            b"Disallow: /members/\n",
            content_type="text/plain",
        ),
        "/feed.rss": Page(
            rss(), content_type="application/rss+xml", etag=FEED_ETAG, last_modified=FEED_MODIFIED
        ),
        "/feed.atom": Page(ATOM, content_type="text/xml", last_modified=FEED_MODIFIED),
        "/news/plain": Page(
            article_html(
                STORM,
                head="<title>Storm batters the northern coast - Kessling Courier</title>",
                headline="Storm batters the northern coast",
                crumbs=True,
            )
        ),
        "/news/jsonld": Page(article_html(ELECTION, head=JSONLD_HEAD, lang="en-GB")),
        "/news/og": Page(
            article_html(
                STORM_AFTERMATH,
                head=OG_HEAD,
                headline="Storm claims to run into millions",
                dateline=DATELINE,
            )
        ),
        "/news/paywall": Page(PAYWALL_HTML),
        # The wire story of /news/plain as a partner outlet runs it: new headline, credit line.
        "/partner/storm": Page(
            article_html(
                [*STORM[:-1], "This story was originally published by the Northern Wire."],
                head='<meta property="og:site_name" content="Harbour Herald">',
                headline="Night of gales leaves Kessling in the dark",
            )
        ),
        "/private/secret": Page(article_html(STORM)),
        "/members/only": Page(article_html(STORM)),
        "/slow": Page(article_html(STORM), delay_s=SLOW_S),
        "/loop/a": redirect("/loop/b"),
        "/loop/b": redirect("/loop/a"),
        "/old": redirect("/news/plain", status=301),
        "/huge": Page(b"<p>" + b"word " * 600_000 + b"</p>"),
        "/huge-unsized": Page(b"<p>" + b"word " * 600_000 + b"</p>", sized=False),
        "/flaky": lambda n: (
            Page(status=503, headers={"Retry-After": "0"}) if n == 1 else Page(article_html(STORM))
        ),
        "/down": Page(b"oops", status=500),
        "/busy": Page(status=429, headers={"Retry-After": "3600"}),
        "/sitemap.xml": Page(SITEMAP, content_type=xml),
        "/sitemap-index.xml": Page(SITEMAP_INDEX, content_type=xml),
        "/sitemap-2023.xml.gz": Page(gzip.compress(OLD_SITEMAP), content_type="application/x-gzip"),
    }
    for n in range(1, 9):
        routes[f"/hop/{n}"] = redirect(f"/hop/{n + 1}")
    routes["/hop/9"] = Page(article_html(STORM))
    return routes
