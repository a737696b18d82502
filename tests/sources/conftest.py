"""The local news site, and fetch policies quick enough for tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rag.sources import Fetcher, FetchPolicy
from tests.sources.news_site import NewsSite

# The site is on 127.0.0.1, so tests allow private addresses (one test checks the refusal);
# small delays and timeouts keep the suite fast.
QUICK = FetchPolicy(timeout_s=0.5, retries=2, backoff_s=0.01, per_host_delay_s=0.0, allow_private=True)


@pytest.fixture
def site() -> Iterator[NewsSite]:
    server = NewsSite().start()
    yield server
    server.stop()


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    with Fetcher(QUICK) as client:
        yield client
