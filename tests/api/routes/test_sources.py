"""``/v1/sources`` over real HTTP (uvicorn), with the API-key rules every ``/v1`` route follows,
and Slack's ``/ask subscribe`` through ``POST /slack/events`` with the digest a poll then posts
to the Slack stand-in (tests/servers/slack_server.py)."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterator
from urllib.parse import urlencode

import httpx
import pytest
from pydantic import SecretStr

from api.slack.bot import digest_poster
from rag.feeds import Feeds, SourceInfo
from tests.api.conftest import Serve
from tests.servers.slack_server import TEAM_ID, running_slack
from tests.sources.news_site import NewsSite

EXAMPLE = "https://news.example.invalid/feed.xml"  # never resolves: following it is still allowed
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TOKEN = "xoxb-0000-test-token"


@pytest.fixture
def site() -> Iterator[NewsSite]:
    server = NewsSite().start()
    yield server
    server.stop()


def test_sources_are_added_listed_and_removed_with_an_api_key(serve: Serve, site: NewsSite) -> None:
    with serve(api_keys=["k1"]) as running, running.client() as anonymous, running.client("k1") as c:
        assert anonymous.get("/v1/sources").status_code == 401
        assert anonymous.post("/v1/sources", json={"url": EXAMPLE}).status_code == 401

        r = c.post("/v1/sources", json={"url": EXAMPLE, "every": "2h", "name": "Example"})
        assert r.status_code == 201, r.text
        added = SourceInfo.model_validate(r.json())
        assert (added.url, added.every, added.name, added.last_polled) == (EXAMPLE, "2h", "Example", None)
        again = c.post("/v1/sources", json={"url": EXAMPLE, "every": "30m"})
        assert again.status_code == 201 and again.json()["id"] == added.id and again.json()["every"] == "30m"
        listed = [SourceInfo.model_validate(s) for s in c.get("/v1/sources").json()]
        assert [s.id for s in listed] == [added.id]

        assert anonymous.delete(f"/v1/sources/{added.id}").status_code == 401
        assert c.delete(f"/v1/sources/{added.id}").status_code == 204
        gone = c.delete(f"/v1/sources/{added.id}")
        assert gone.status_code == 404 and gone.json()["error"]["type"] == "not_found"
        assert c.get("/v1/sources").json() == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"url": "ftp://example.org/feed.xml"}, "only http and https"),
        ({"url": "/etc/passwd"}, "Cannot follow"),
        ({"url": EXAMPLE, "every": "soon"}, "Cannot read the interval"),
        ({"url": EXAMPLE, "every": "5s"}, "too short"),
    ],
)
def test_unusable_sources_are_refused(client: httpx.Client, body: dict[str, str], message: str) -> None:
    r = client.post("/v1/sources", json=body)
    assert r.status_code == 400 and r.json()["error"]["type"] == "bad_request"
    assert message in r.json()["error"]["message"]


def test_a_private_address_is_refused_unless_allowed(client: httpx.Client, site: NewsSite) -> None:
    r = client.post("/v1/sources", json={"url": site.url("/feed.rss")})
    assert r.status_code == 400 and "RAG_FETCH_ALLOW_PRIVATE" in r.json()["error"]["message"]


def _signed_form(fields: dict[str, str]) -> tuple[str, dict[str, str]]:
    body = urlencode(fields)
    ts = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    headers = {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": "application/x-www-form-urlencoded",
    }
    return body, headers


@pytest.mark.slow
def test_a_slack_channel_subscribes_and_gets_a_cited_digest(serve: Serve, site: NewsSite) -> None:
    with running_slack(TOKEN) as slack:
        secrets = {"slack_bot_token": SecretStr(TOKEN), "slack_signing_secret": SecretStr(SECRET)}
        overrides = {**secrets, "slack_api_url": slack.api_url}
        with serve(**overrides) as running, running.client() as c:

            def ask(text: str) -> str:
                fields = {"command": "/ask", "text": text, "user_id": "U1", "channel_id": "C0000009"}
                body, headers = _signed_form({**fields, "team_id": TEAM_ID, "trigger_id": "1"})
                r = c.post("/slack/events", content=body, headers=headers)
                assert r.status_code == 200
                return str(r.json()["text"])

            assert "now follows “storm in Kessling”" in ask("subscribe storm in Kessling")
            assert "“storm in Kessling”" in ask("subscriptions")
            settings = running.engine.settings
            with Feeds(
                running.engine, notify=digest_poster(settings), allow_private=True, per_host_delay_s=0
            ) as f:
                f.add_source(site.url("/feed.rss"))
                f.poll(force=True)
            (post,) = slack.wait_for("chat.postMessage")
            assert post.args["channel"] == "C0000009" and "storm in Kessling" in post.args["text"]
            shown = "\n".join(b["text"]["text"] for b in post.args["blocks"] if b["type"] == "section")
            assert f"<{site.url('/news/plain')}|Storm batters the northern coast>" in shown
            assert "*[1]*" in shown and "“" in shown  # each article cited with a quoted sentence
            assert "no longer follows" in ask("unsubscribe storm in kessling")
            assert "follows no topic" in ask("subscriptions")
