"""Following the news with the `rag` command as a user runs it (real subprocesses) against the
local news site: `rag ingest` of a feed and a folder at once, `rag sources add|list|remove`,
`rag watch --once` twice (the second costs one 304 and embeds nothing)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.config import Settings
from tests.conftest import RAG
from tests.sources.news_site import NewsSite

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        "fetch_allow_private" not in Settings.model_fields,
        reason="rag/config.py does not declare RAG_FETCH_ALLOW_PRIVATE yet (the site is on 127.0.0.1)",
    ),
]


@pytest.fixture
def site() -> Iterator[NewsSite]:
    server = NewsSite().start()
    yield server
    server.stop()


def rag(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RAG_FETCH_ALLOW_PRIVATE": "true", "RAG_FETCH_DELAY": "0"}
    done = subprocess.run([*RAG, *args], cwd=cwd, capture_output=True, text=True, timeout=240, env=env)
    assert done.returncode == 0, done.stderr
    return done


def test_ingest_a_feed_then_follow_and_watch_it(site: NewsSite, corpus_dir: Path, tmp_path: Path) -> None:
    feed = site.url("/feed.rss")
    ingested = json.loads(rag("ingest", feed, str(corpus_dir), "--json", cwd=tmp_path).stdout)
    assert len(ingested["added"]) == 5 + 3  # the seed file's articles and the feed's
    assert [s["path"] for s in ingested["skipped"]] == [site.url("/news/paywall")]
    assert "paywalled" in ingested["skipped"][0]["reason"]

    added = json.loads(
        rag("sources", "add", feed, "--every", "30m", "--name", "Courier", "--json", cwd=tmp_path).stdout
    )
    assert (added["url"], added["every"], added["name"]) == (feed, "30m", "Courier")
    (listed,) = json.loads(rag("sources", "list", "--json", cwd=tmp_path).stdout)
    assert listed["id"] == added["id"] and listed["last_polled"] is None

    before = len(site.requests)
    first = json.loads(rag("watch", "--once", "--json", cwd=tmp_path).stdout)
    # The feed is read; its articles are known, so none is fetched or embedded again.
    assert [s["status"] for s in first["sources"]] == ["read"]
    assert first["added"] == [] and first["chunks_embedded"] == 0 and len(first["unchanged"]) == 3
    assert [r.path for r in site.requests[before:]] == ["/robots.txt", "/feed.rss"]

    before = len(site.requests)
    second = json.loads(rag("watch", "--once", "--json", cwd=tmp_path).stdout)
    assert [s["status"] for s in second["sources"]] == ["not_modified"]
    assert second["chunks_embedded"] == 0 and not (second["added"] or second["updated"] or second["skipped"])
    # A new process reads robots.txt once; the feed itself costs one 304.
    assert [(r.path, r.status) for r in site.requests[before:]] == [("/robots.txt", 200), ("/feed.rss", 304)]

    rag("sources", "remove", added["id"], cwd=tmp_path)
    assert json.loads(rag("sources", "list", "--json", cwd=tmp_path).stdout) == []
    listed_docs = json.loads(rag("documents", "--json", cwd=tmp_path).stdout)
    assert len(listed_docs) == 8  # what a source brought stays
