"""Fetching web pages and feeds as a polite, safe client.

``Fetcher.fetch(url)`` returns the body of the final response or raises ``FetchError`` with a
reason fit for an ingest report. On the way it: names the product in its User-Agent; obeys
robots.txt (read once per site); waits between requests to one host; sends conditional
requests (an unchanged feed costs one 304); retries connection errors, 429 and 5xx with
exponential backoff (honouring Retry-After up to a bound); follows redirects itself so every
hop is checked (http/https only, no private addresses unless allowed) and counted; stops
reading at a size cap and at an overall deadline.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from email.utils import parsedate_to_datetime
from urllib.robotparser import RobotFileParser

import httpx

from rag.sources.errors import FetchError
from rag.sources.guard import Resolver, Target, check_scheme, resolve
from rag.sources.robots import ROBOTS_MAX_BYTES, crawl_delay, product_token, rules_from_response

USER_AGENT = "rag-news/0.1 (+https://github.com/rag-news; news QA bot)"
ACCEPT = (
    "text/html,application/xhtml+xml,application/rss+xml,application/atom+xml,"
    "application/xml;q=0.9,text/xml;q=0.9,*/*;q=0.5"
)
_REDIRECTS = {301, 302, 303, 307, 308}


@dataclass(frozen=True)
class FetchPolicy:
    """How the fetcher behaves; the defaults are what a well-behaved crawler does."""

    user_agent: str = USER_AGENT
    timeout_s: float = 10.0  # per attempt, connection to last byte
    retries: int = 2  # extra attempts after a connection error, 429 or 5xx
    backoff_s: float = 1.0  # first retry waits this long, then twice as long each time
    max_retry_after_s: float = 60.0  # a longer Retry-After (or Crawl-delay) is not waited for
    max_redirects: int = 5
    max_bytes: int = 5_000_000
    per_host_delay_s: float = 1.0
    allow_private: bool = False


@dataclass(frozen=True)
class Fetched:
    """One fetched URL. ``not_modified``: the server answered 304 and ``body`` is empty."""

    url: str  # after redirects
    status: int
    headers: Mapping[str, str]
    body: bytes
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False
    redirects: list[str] = field(default_factory=list)  # the URLs that redirected, in order

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()


class _Retry(Exception):
    """An attempt failed in a way worth retrying; carries the reason and the wait asked for."""

    def __init__(self, error: FetchError, wait_s: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.wait_s = wait_s


class Fetcher:
    """Fetches URLs under a ``FetchPolicy``; reuse one per run so robots.txt and per-host
    timing are remembered. Thread-safe. Pass ``client`` to share an ``httpx.Client``."""

    def __init__(
        self,
        policy: FetchPolicy | None = None,
        client: httpx.Client | None = None,
        getaddrinfo: Resolver = socket.getaddrinfo,
    ) -> None:
        self.policy = policy or FetchPolicy()
        self._own_client = client is None
        self._client = client or httpx.Client(timeout=self.policy.timeout_s)
        self._getaddrinfo = getaddrinfo
        self._lock = threading.Lock()
        self._robots: dict[str, tuple[RobotFileParser, str | None]] = {}  # per origin
        self._delay: dict[str, float] = {}  # per host, when robots.txt asks for more
        self._next_turn: dict[str, float] = {}  # per host, monotonic time of the next request

    def close(self) -> None:
        if self._own_client:
            self._client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fetch(self, url: str, etag: str | None = None, last_modified: str | None = None) -> Fetched:
        """GET ``url`` (conditionally when ``etag`` / ``last_modified`` are given)."""
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        fetched = self._follow(url, headers, obey_robots=True, max_bytes=self.policy.max_bytes)
        if fetched.not_modified:
            # A 304 may omit the validators; the ones sent are still the current ones.
            return replace(
                fetched, etag=fetched.etag or etag, last_modified=fetched.last_modified or last_modified
            )
        return fetched

    def _follow(self, url: str, headers: dict[str, str], obey_robots: bool, max_bytes: int) -> Fetched:
        current = check_scheme(url)
        seen = {str(current)}
        redirects: list[str] = []
        while True:
            target = resolve(current, self.policy.allow_private, self._getaddrinfo)
            if obey_robots:
                self._check_robots(target.url)
            fetched = self._send_with_retries(target, headers, max_bytes, truncate=not obey_robots)
            if fetched.status not in _REDIRECTS:
                return replace(fetched, redirects=redirects)
            location = fetched.headers.get("location")
            if not location:
                raise FetchError(f"HTTP {fetched.status} redirect without a Location", url=url)
            try:
                following = check_scheme(current.join(location))
            except FetchError as exc:
                raise FetchError(f"redirected to an unusable URL: {exc}", url=url) from exc
            redirects.append(str(current))
            if str(following) in seen:
                raise FetchError(f"redirect loop ({current} -> {following})", url=url)
            if len(redirects) > self.policy.max_redirects:
                raise FetchError(f"too many redirects (more than {self.policy.max_redirects})", url=url)
            seen.add(str(following))
            current = following

    def _send_with_retries(
        self, target: Target, headers: dict[str, str], max_bytes: int, truncate: bool
    ) -> Fetched:
        policy = self.policy
        for attempt in range(policy.retries + 1):
            try:
                return self._send(target, headers, max_bytes, truncate)
            except _Retry as retry:
                if attempt == policy.retries:
                    raise retry.error from None
                if retry.wait_s is not None and retry.wait_s > policy.max_retry_after_s:
                    raise FetchError(
                        f"{retry.error.reason} (the server asks to wait {retry.wait_s:g} s)",
                        url=str(target.url),
                        status=retry.error.status,
                    ) from None
                backoff = min(policy.backoff_s * 2**attempt, policy.max_retry_after_s)
                time.sleep(backoff if retry.wait_s is None else retry.wait_s)
        raise AssertionError("unreachable")  # the loop returns or raises

    def _send(self, target: Target, headers: dict[str, str], max_bytes: int, truncate: bool) -> Fetched:
        """One attempt: a request to the checked address, the body read under the caps."""
        self._wait_turn(target.url.host)
        url = str(target.url)
        request = self._client.build_request(
            "GET",
            target.pinned_url(),
            headers={
                **headers,
                "Host": target.host_header(),
                "User-Agent": self.policy.user_agent,
                "Accept": ACCEPT,
                # A pooled TLS connection keeps the SNI it was opened with; since requests go to
                # addresses, not names, two sites behind one address must not share it.
                **({"Connection": "close"} if target.url.scheme == "https" else {}),
            },
            extensions={"sni_hostname": target.url.raw_host.decode("ascii")},
            timeout=self.policy.timeout_s,
        )
        deadline = time.monotonic() + self.policy.timeout_s
        try:
            response = self._client.send(request, stream=True, follow_redirects=False)
            try:
                return self._read(response, url, max_bytes, truncate, deadline)
            finally:
                response.close()
        except httpx.TimeoutException as exc:
            error = FetchError(f"timed out after {self.policy.timeout_s:g} s", url=url)
            if isinstance(exc, httpx.ConnectTimeout):
                raise _Retry(error) from exc
            raise error from exc
        except (httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError) as exc:
            raise _Retry(FetchError(f"connection failed ({exc or type(exc).__name__})", url=url)) from exc
        except httpx.HTTPError as exc:
            raise FetchError(f"HTTP error ({exc or type(exc).__name__})", url=url) from exc

    def _read(
        self, response: httpx.Response, url: str, max_bytes: int, truncate: bool, deadline: float
    ) -> Fetched:
        status = response.status_code
        headers = response.headers
        if status == 429 or status >= 500:
            error = FetchError(f"HTTP {status} {response.reason_phrase}".strip(), url=url, status=status)
            raise _Retry(error, _retry_after(headers.get("retry-after")))
        if status >= 400:
            raise FetchError(f"HTTP {status} {response.reason_phrase}".strip(), url=url, status=status)
        body = b""
        if status not in _REDIRECTS and status != 304:
            body = _read_capped(response, url, max_bytes, truncate, deadline, self.policy.timeout_s)
        return Fetched(
            url=url,
            status=status,
            headers=headers,
            body=body,
            etag=headers.get("etag"),
            last_modified=headers.get("last-modified"),
            not_modified=status == 304,
        )

    def _wait_turn(self, host: str) -> None:
        """Sleep until this host may be sent another request; reserve the turn under the lock so
        threads fetching from one host queue up instead of all going at once."""
        with self._lock:
            now = time.monotonic()
            turn = max(now, self._next_turn.get(host, now))
            self._next_turn[host] = turn + self._delay.get(host, self.policy.per_host_delay_s)
        if turn > now:
            time.sleep(turn - now)

    def _check_robots(self, url: httpx.URL) -> None:
        origin = f"{url.scheme}://{url.netloc.decode('ascii')}"
        if origin not in self._robots:
            rules, failure = self._read_robots(origin)
            with self._lock:
                self._robots[origin] = (rules, failure)
                delay = crawl_delay(rules, self.policy.user_agent)
                if delay is not None:
                    bounded = min(delay, self.policy.max_retry_after_s)
                    self._delay[url.host] = max(self.policy.per_host_delay_s, bounded)
        rules, failure = self._robots[origin]
        if rules.can_fetch(product_token(self.policy.user_agent), str(url)):
            return
        if failure:
            reason = f"cannot read {origin}/robots.txt ({failure}), so not crawling the site"
            raise FetchError(reason, url=str(url))
        raise FetchError(f"robots.txt disallows {url}", url=str(url))

    def _read_robots(self, origin: str) -> tuple[RobotFileParser, str | None]:
        """The site's rules, and why they could not be read when that is why all is disallowed."""
        try:
            fetched = self._follow(origin + "/robots.txt", {}, obey_robots=False, max_bytes=ROBOTS_MAX_BYTES)
        except FetchError as exc:
            # A 4xx means "no robots.txt"; anything else (5xx, 429, unreachable) means "stay away".
            rules = rules_from_response(exc.status, b"")
            return rules, None if rules.can_fetch("*", origin + "/") else exc.reason
        return rules_from_response(fetched.status, fetched.body), None


def _read_capped(
    response: httpx.Response, url: str, max_bytes: int, truncate: bool, deadline: float, timeout_s: float
) -> bytes:
    """The decoded body, refused past ``max_bytes`` (or cut there when ``truncate``) and past the
    deadline: httpx's timeout bounds each read, so a server dripping bytes could stall forever."""
    declared = response.headers.get("content-length", "")
    if not truncate and declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(f"larger than {max_bytes} bytes ({declared} bytes announced)", url=url)
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > max_bytes:
            if truncate:
                return b"".join(chunks)[:max_bytes]
            raise FetchError(f"larger than {max_bytes} bytes", url=url)
        if time.monotonic() > deadline:
            raise FetchError(f"timed out after {timeout_s:g} s", url=url)
    return b"".join(chunks)


def _retry_after(value: str | None) -> float | None:
    """Seconds asked for by a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
