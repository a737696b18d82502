"""Which URLs the fetcher may reach: http(s) only, and no private addresses unless allowed.

The check is made on the address the host name resolves to, at every hop, and the request is
then sent to that very address (the host name travels in the ``Host`` header and TLS SNI).
Resolving twice (once to check, once to connect) would let a DNS answer that changes in
between (DNS rebinding) point the second lookup at an internal service.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from rag.sources.errors import FetchError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# getaddrinfo's signature, so tests can map names to addresses without a DNS server.
Resolver = Callable[..., list]


@dataclass(frozen=True)
class Target:
    """A URL that passed the checks, with the address its host resolved to."""

    url: httpx.URL
    address: IPAddress

    def pinned_url(self) -> httpx.URL:
        """The URL with its host replaced by the checked address (what is connected to)."""
        return self.url.copy_with(host=str(self.address))

    def host_header(self) -> str:
        return self.url.netloc.decode("ascii")


def is_public(address: IPAddress) -> bool:
    """False for loopback, private, link-local, shared (CGNAT), reserved and multicast addresses."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        # ::ffff:127.0.0.1 reaches 127.0.0.1; judge the IPv4 address it wraps.
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def check_scheme(url: str | httpx.URL) -> httpx.URL:
    """Parse ``url`` and refuse anything but an absolute http or https URL."""
    try:
        parsed = httpx.URL(str(url))
    except (httpx.InvalidURL, ValueError) as exc:
        raise FetchError(f"not a valid URL ({exc})", url=str(url)) from exc
    if parsed.scheme not in ("http", "https"):
        raise FetchError(f"only http and https URLs can be fetched, not {parsed.scheme or 'this'}:", str(url))
    if not parsed.host:
        raise FetchError("the URL has no host name", url=str(url))
    return parsed


def resolve(url: httpx.URL, allow_private: bool, getaddrinfo: Resolver = socket.getaddrinfo) -> Target:
    """Resolve the URL's host and check every address it resolves to.

    A name with both public and private addresses is refused (more likely a trap than a news
    site); otherwise the first address is the one the request will be sent to.
    """
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        # raw_host: the IDNA (punycode) form, as DNS knows the name.
        infos = getaddrinfo(url.raw_host.decode("ascii"), port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError(f"cannot resolve host {url.host} ({exc})", url=str(url)) from exc
    addresses = [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]
    if not addresses:
        raise FetchError(f"cannot resolve host {url.host}", url=str(url))
    if not allow_private:
        for address in addresses:
            if not is_public(address):
                raise FetchError(
                    f"refusing to fetch private address {address} "
                    "(set RAG_FETCH_ALLOW_PRIVATE=true to allow)",
                    url=str(url),
                )
    return Target(url=url, address=addresses[0])


def check_url(url: str, allow_private: bool, getaddrinfo: Resolver = socket.getaddrinfo) -> str:
    """``url`` when the fetcher may fetch it (http or https, a host resolving to addresses it may
    reach); raises ``FetchError`` saying why not."""
    return str(resolve(check_scheme(url), allow_private, getaddrinfo).url)
