"""The fetcher against a local news site: polite, bounded, and unable to reach private hosts."""

from __future__ import annotations

import re
import socket
import time
from dataclasses import replace

import httpx
import pytest

from rag.sources import USER_AGENT, Fetcher, FetchError, FetchPolicy
from tests.sources.conftest import QUICK
from tests.sources.news_site import FEED_ETAG, FEED_MODIFIED, SLOW_S, NewsSite, Page


def test_fetches_a_page_naming_the_product_in_its_user_agent(site: NewsSite, fetcher: Fetcher) -> None:
    fetched = fetcher.fetch(site.url("/news/plain"))

    assert fetched.status == 200 and b"powerful storm" in fetched.body
    assert fetched.content_type == "text/html"
    assert {seen.headers["user-agent"] for seen in site.requests} == {USER_AGENT}
    assert USER_AGENT.startswith("rag-news/")


def test_an_unchanged_feed_costs_one_request_answered_304(site: NewsSite, fetcher: Fetcher) -> None:
    first = fetcher.fetch(site.url("/feed.rss"))
    assert (first.etag, first.last_modified) == (FEED_ETAG, FEED_MODIFIED)

    again = fetcher.fetch(site.url("/feed.rss"), etag=first.etag, last_modified=first.last_modified)

    assert again.not_modified and again.body == b""
    assert site.statuses("/feed.rss") == [200, 304]
    # The validators to send next time are still known, though a 304 need not repeat them.
    assert (again.etag, again.last_modified) == (FEED_ETAG, FEED_MODIFIED)


def test_last_modified_alone_is_enough_for_a_304(site: NewsSite, fetcher: Fetcher) -> None:
    first = fetcher.fetch(site.url("/feed.atom"))
    assert first.etag is None

    assert fetcher.fetch(site.url("/feed.atom"), last_modified=first.last_modified).not_modified
    assert site.statuses("/feed.atom") == [200, 304]


def test_a_changed_feed_is_fetched_in_full(site: NewsSite, fetcher: Fetcher) -> None:
    stale = "Mon, 01 Jan 2024 00:00:00 GMT"
    fetched = fetcher.fetch(site.url("/feed.rss"), etag='"feed-v0"', last_modified=stale)

    assert not fetched.not_modified and b"<rss" in fetched.body


def test_robots_txt_is_obeyed_and_read_once_per_site(site: NewsSite, fetcher: Fetcher) -> None:
    with pytest.raises(FetchError, match=r"robots\.txt disallows .*/private/secret"):
        fetcher.fetch(site.url("/private/secret"))
    # The group naming our product applies to us: its extra rule too.
    with pytest.raises(FetchError, match=r"robots\.txt disallows"):
        fetcher.fetch(site.url("/members/only"))
    fetcher.fetch(site.url("/news/plain"))
    fetcher.fetch(site.url("/news/og"))

    assert site.hits("/private/secret") == site.hits("/members/only") == 0
    assert site.hits("/robots.txt") == 1


def test_a_missing_robots_txt_allows_everything(site: NewsSite, fetcher: Fetcher) -> None:
    del site.routes["/robots.txt"]

    assert fetcher.fetch(site.url("/private/secret")).status == 200
    assert site.statuses("/robots.txt") == [404]


def test_a_failing_robots_txt_keeps_the_crawler_off_the_site(site: NewsSite, fetcher: Fetcher) -> None:
    site.routes["/robots.txt"] = Page(b"", status=503)

    with pytest.raises(FetchError, match=r"cannot read .*/robots\.txt \(HTTP 503.*not crawling the site"):
        fetcher.fetch(site.url("/news/plain"))
    with pytest.raises(FetchError, match=r"not crawling the site"):
        fetcher.fetch(site.url("/news/og"))
    assert site.hits("/news/plain") == site.hits("/news/og") == 0
    assert site.hits("/robots.txt") == QUICK.retries + 1  # retried like any 5xx, then remembered


def test_http_errors_are_reported_with_their_status_and_not_retried(site: NewsSite, fetcher: Fetcher) -> None:
    with pytest.raises(FetchError, match=r"^HTTP 404") as error:
        fetcher.fetch(site.url("/gone"))

    assert error.value.status == 404 and error.value.url == site.url("/gone")
    assert site.hits("/gone") == 1


def test_a_slow_page_times_out_without_retry(site: NewsSite, fetcher: Fetcher) -> None:
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"timed out after 0\.5 s"):
        fetcher.fetch(site.url("/slow"))

    assert time.monotonic() - started < SLOW_S
    assert site.hits("/slow") == 1


def test_server_errors_are_retried_then_succeed(site: NewsSite, fetcher: Fetcher) -> None:
    assert b"powerful storm" in fetcher.fetch(site.url("/flaky")).body
    assert site.statuses("/flaky") == [503, 200]


def test_a_server_that_stays_down_is_given_up_on(site: NewsSite) -> None:
    with Fetcher(replace(QUICK, backoff_s=0.05)) as fetcher:
        started = time.monotonic()
        with pytest.raises(FetchError, match=r"^HTTP 500"):
            fetcher.fetch(site.url("/down"))

    assert site.hits("/down") == QUICK.retries + 1
    assert time.monotonic() - started >= 0.05 + 0.1  # backed off 0.05 s, then 0.1 s


def test_a_retry_after_beyond_the_bound_fails_at_once(site: NewsSite, fetcher: Fetcher) -> None:
    with pytest.raises(FetchError, match=r"HTTP 429.*asks to wait 3600 s"):
        fetcher.fetch(site.url("/busy"))
    assert site.hits("/busy") == 1


def test_connection_errors_are_retried_and_reported(fetcher: Fetcher) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with pytest.raises(FetchError, match=r"connection failed"):
        fetcher.fetch(f"http://127.0.0.1:{port}/")


def test_redirects_are_followed_and_recorded(site: NewsSite, fetcher: Fetcher) -> None:
    fetched = fetcher.fetch(site.url("/old"))

    assert fetched.url == site.url("/news/plain")
    assert fetched.redirects == [site.url("/old")]


def test_a_redirect_loop_is_stopped(site: NewsSite, fetcher: Fetcher) -> None:
    with pytest.raises(FetchError, match=r"redirect loop"):
        fetcher.fetch(site.url("/loop/a"))
    assert site.hits("/loop/a") == site.hits("/loop/b") == 1


def test_redirects_are_bounded(site: NewsSite) -> None:
    fetcher = Fetcher(replace(QUICK, max_redirects=3))
    with fetcher, pytest.raises(FetchError, match=r"too many redirects \(more than 3\)"):
        fetcher.fetch(site.url("/hop/1"))
    assert site.hits("/hop/5") == 0


@pytest.mark.parametrize("path", ["/huge", "/huge-unsized"])
def test_a_page_over_the_size_cap_is_refused(site: NewsSite, path: str) -> None:
    fetcher = Fetcher(replace(QUICK, max_bytes=100_000))
    with fetcher, pytest.raises(FetchError, match=r"larger than 100000 bytes"):
        fetcher.fetch(site.url(path))


def test_requests_to_one_host_are_spaced(site: NewsSite) -> None:
    with Fetcher(replace(QUICK, per_host_delay_s=0.25)) as fetcher:
        for path in ("/news/plain", "/news/og", "/news/jsonld"):
            fetcher.fetch(site.url(path))

    arrivals = [seen.at for seen in site.requests]  # robots.txt, then the three pages
    gaps = [later - earlier for earlier, later in zip(arrivals, arrivals[1:], strict=False)]
    # Spacing is enforced when a request leaves; arrival times add a little scheduling noise.
    assert len(gaps) == 3 and min(gaps) > 0.15 and sum(gaps) >= 0.7


@pytest.mark.parametrize("url", ["ftp://example.org/feed.xml", "file:///etc/passwd", "javascript:alert(1)"])
def test_only_http_and_https_urls_are_fetched(fetcher: Fetcher, url: str) -> None:
    with pytest.raises(FetchError, match=r"only http and https URLs"):
        fetcher.fetch(url)


def test_private_addresses_are_refused_by_default(site: NewsSite) -> None:
    with Fetcher(replace(QUICK, allow_private=False)) as fetcher, pytest.raises(FetchError) as error:
        fetcher.fetch(site.url("/news/plain"))

    assert str(error.value) == (
        "refusing to fetch private address 127.0.0.1 (set RAG_FETCH_ALLOW_PRIVATE=true to allow)"
    )
    assert site.requests == []
    assert FetchPolicy().allow_private is False


# Below, host names are given "public" addresses by a stand-in resolver, and a transport carries
# each request to the local site whatever address it was sent to: so the guard's view of the
# world can be scripted while the site still answers.


def fake_dns(names: dict[str, str]):  # noqa: ANN201 (getaddrinfo's loose signature)
    def getaddrinfo(host: str, port: int, *args: object, **kwargs: object) -> list:
        address = names.get(host, host)
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (address, port))]

    return getaddrinfo


def guarded(site: NewsSite, sent_to: list[httpx.URL], names: dict[str, str]) -> Fetcher:
    """A fetcher refusing private addresses, seeing ``names`` resolve as given, whose requests
    all reach the local site (their URLs, as sent, are appended to ``sent_to``)."""
    return Fetcher(replace(QUICK, allow_private=False), via_site(site, sent_to), getaddrinfo=fake_dns(names))


def via_site(site: NewsSite, sent_to: list[httpx.URL]) -> httpx.Client:
    upstream = httpx.Client()

    def deliver(request: httpx.Request) -> httpx.Response:
        sent_to.append(request.url)
        local = request.url.copy_with(scheme="http", host="127.0.0.1", port=site.port)
        answer = upstream.get(local, headers=dict(request.headers))
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)

    return httpx.Client(transport=httpx.MockTransport(deliver))


def test_a_redirect_to_a_private_address_is_refused_at_that_hop(site: NewsSite) -> None:
    sent_to: list[httpx.URL] = []
    fetcher = guarded(site, sent_to, {"news.example": "93.184.216.34"})
    with fetcher, pytest.raises(FetchError, match=r"refusing to fetch private address 127\.0\.0\.1"):
        fetcher.fetch("http://news.example/to-private")  # redirects to http://127.0.0.1:<port>/

    assert site.hits("/to-private") == 1 and site.hits("/news/plain") == 0
    assert {url.host for url in sent_to} == {"93.184.216.34"}


def test_a_name_resolving_to_a_private_address_is_refused(site: NewsSite) -> None:
    sent_to: list[httpx.URL] = []
    names = {"intranet.example": "10.0.0.8", "metadata.example": "169.254.169.254", "v6.example": "::1"}
    with guarded(site, sent_to, names) as fetcher:
        for host, address in names.items():
            with pytest.raises(FetchError, match=rf"private address {re.escape(address)} "):
                fetcher.fetch(f"http://{host}/")
    assert sent_to == []


def test_requests_go_to_the_address_that_was_checked(site: NewsSite) -> None:
    """No second DNS lookup happens between the check and the connection (which a rebinding DNS
    server could answer with 127.0.0.1): requests are addressed to the checked address, with
    the host name in the Host header."""
    sent_to: list[httpx.URL] = []
    with guarded(site, sent_to, {"news.example": "93.184.216.34"}) as fetcher:
        fetched = fetcher.fetch("http://news.example/old")

    assert fetched.url == "http://news.example/news/plain"
    assert [str(url) for url in sent_to] == [
        "http://93.184.216.34/robots.txt",
        "http://93.184.216.34/old",
        "http://93.184.216.34/news/plain",
    ]
    assert {seen.headers["host"] for seen in site.requests} == {"news.example"}
