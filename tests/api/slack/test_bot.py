"""The Slack bot end to end: signed requests over HTTP to uvicorn, Slack's Web API played by a
local recording server (tests/servers/slack_server.py), the real engine over the seed article."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import yaml
from typer.testing import CliRunner

from api.cli import app as cli
from rag.config import Settings
from rag.embeddings import OnnxEmbedding
from rag.engine import Engine
from tests.api.conftest import serving
from tests.api.slack.helpers import NUMBER, QUESTION, TOKEN, mention, texts
from tests.conftest import ROOT, SEED
from tests.servers.slack_server import BOT_ID, BOT_USER_ID, TEAM_ID, SlackServer, running_slack

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


def sign(body: str, timestamp: int | None = None, secret: str = SECRET) -> dict[str, str]:
    """Headers exactly as Slack signs a request: v0= HMAC-SHA256 of ``v0:{ts}:{body}``."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


@dataclass
class Bot:
    url: str
    slack: SlackServer
    engine: Engine
    settings: Settings

    def post(self, body: str, content_type: str, headers: dict[str, str] | None = None) -> httpx.Response:
        return httpx.post(
            f"{self.url}/slack/events",
            content=body,
            headers={"Content-Type": content_type, **(headers if headers is not None else sign(body))},
            timeout=10,
        )

    def event(
        self, event: dict[str, Any], event_id: str, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        body = json.dumps(
            {
                "token": "legacy",
                "team_id": TEAM_ID,
                "api_app_id": "A0000001",
                "event": {"event_ts": event.get("ts"), **event},
                "type": "event_callback",
                "event_id": event_id,
                "event_time": int(time.time()),
                "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}],
            }
        )
        extra = headers or {}
        return self.post(body, "application/json", {**sign(body), **extra})

    def form(self, fields: dict[str, str]) -> httpx.Response:
        body = urlencode(fields)
        return self.post(body, "application/x-www-form-urlencoded")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, embed: OnnxEmbedding) -> Iterator[Bot]:
    """The whole app (``create_app`` mounts the bot when the signing secret is set) over the
    seed article, with the Slack stand-in, shared by the module's tests."""
    data_dir = tmp_path_factory.mktemp("slack") / "data"
    with pytest.MonkeyPatch.context() as env, running_slack(TOKEN) as slack:
        for key in [k for k in os.environ if k.startswith(("RAG_", "OPENAI_", "SLACK_"))]:
            env.delenv(key)
        settings = Settings(
            data_dir=data_dir,
            slack_bot_token=TOKEN,
            slack_signing_secret=SECRET,
            slack_api_url=slack.api_url,
        )
        seeding = Engine(settings, embed=embed)
        seeding.ingest([SEED])
        seeding.close()
        with serving(settings, embed) as running:
            yield Bot(running.url, slack, running.engine, settings)


@pytest.fixture
def bot(served: Bot) -> Bot:
    served.slack.calls.clear()
    return served


def settle() -> None:
    """Give a wrongly triggered answer time to arrive before asserting there is none."""
    time.sleep(0.5)


@pytest.mark.slow
def test_mention_is_answered_in_its_thread_with_matching_sources(bot: Bot) -> None:
    r = bot.event(mention(f"<@{BOT_USER_ID}> {QUESTION}", "1700000100.000100"), "Ev001")
    assert r.status_code == 200

    (post,) = bot.slack.wait_for("chat.postMessage")
    assert post.args["channel"] == "C0000001"
    assert post.args["thread_ts"] == "1700000100.000100"
    blocks = post.args["blocks"]
    answer, sources = texts(blocks, "section"), texts(blocks, "context")
    cited = {int(n) for n in NUMBER.findall(answer)}
    listed = [int(n) for n in re.findall(r"^\*\[(\d+)\]\*", sources, re.M)]
    assert cited and sorted(listed) == sorted(cited) == list(range(1, len(cited) + 1))
    assert sources.startswith("*Sources*")
    # Every quoted sentence is the article's own text.
    article = " ".join(SEED.read_text().split())
    for quote in re.findall(r"“(.+?)”", sources):
        assert quote.replace("&amp;", "&") in article
    assert {b["type"] for b in blocks} >= {"section", "context", "actions"}
    assert post.args["unfurl_links"] is False  # no preview card per source link
    settle()
    assert len(bot.slack.of("chat.postMessage")) == 1


@pytest.mark.slow
def test_a_mention_in_the_thread_is_a_follow_up(bot: Bot) -> None:
    root = "1700000200.000100"
    bot.event(mention(f"<@{BOT_USER_ID}> {QUESTION}", root), "Ev010")
    bot.slack.wait_for("chat.postMessage")
    bot.event(mention(f"<@{BOT_USER_ID}> and when was that?", "1700000201.000100", thread_ts=root), "Ev011")

    first, second = bot.slack.wait_for("chat.postMessage", 2)
    assert second.args["thread_ts"] == root
    turns = bot.engine.conversations.get(f"slack:C0000001:{root}").turns
    assert [t.message for t in turns] == [QUESTION, "and when was that?"]
    # The follow-up was condensed with the thread's history before retrieval.
    assert "China" in turns[1].question and "Russia" in turns[1].question
    assert turns[1].answer.citations and not turns[1].answer.refused
    assert NUMBER.search(texts(second.args["blocks"], "section"))


@pytest.mark.slow
def test_direct_messages_are_answered_in_the_dm(bot: Bot) -> None:
    dm = {"type": "message", "channel_type": "im", "channel": "D0000001", "user": "U0000001"}
    bot.event({**dm, "text": QUESTION, "ts": "1700000300.000100"}, "Ev020")
    (top,) = bot.slack.wait_for("chat.postMessage")
    assert top.args["channel"] == "D0000001"
    assert top.args.get("thread_ts") is None  # a top-level DM gets a top-level answer

    # The user replies in the thread of the bot's answer: a threaded follow-up.
    answer_ts = top.reply["ts"]
    bot.event(
        {**dm, "text": "and when was that?", "ts": "1700000302.000100", "thread_ts": answer_ts}, "Ev021"
    )
    _, threaded = bot.slack.wait_for("chat.postMessage", 2)
    assert threaded.args["channel"] == "D0000001" and threaded.args["thread_ts"] == answer_ts
    turns = bot.engine.conversations.get("slack:D0000001:1700000300.000100").turns
    assert [t.message for t in turns] == [QUESTION, "and when was that?"]
    assert "China" in turns[1].question and not turns[1].answer.refused


@pytest.mark.slow
def test_ask_command_acks_at_once_and_answers_via_response_url(bot: Bot) -> None:
    r = bot.form(
        {
            "command": "/ask",
            "text": QUESTION,
            "user_id": "U0000001",
            "channel_id": "C0000001",
            "team_id": TEAM_ID,
            "response_url": bot.slack.response_url("ask1"),
            "trigger_id": "1.2.3",
        }
    )
    assert r.status_code == 200
    ack = r.json()
    assert ack["response_type"] == "ephemeral" and "Searching" in ack["text"]

    (delivered,) = bot.slack.wait_for("response_url")
    assert delivered.path.endswith("/ask1")
    assert delivered.args["response_type"] == "ephemeral"  # the default visibility
    assert NUMBER.search(texts(delivered.args["blocks"], "section"))
    assert bot.slack.of("chat.postMessage") == []


@pytest.mark.slow
def test_ask_answers_can_be_visible_to_the_channel(bot: Bot, embed: OnnxEmbedding) -> None:
    with serving(bot.settings.model_copy(update={"slack_ask_visibility": "in_channel"}), embed) as running:
        public = Bot(running.url, bot.slack, running.engine, bot.settings)
        # Slack escapes what the user typed; the echo in the ack must stay escaped.
        r = public.form(
            {
                "command": "/ask",
                "text": f"{QUESTION} &lt;!channel&gt;",
                "user_id": "U1",
                "channel_id": "C1",
                "team_id": TEAM_ID,
                "response_url": bot.slack.response_url("ask3"),
                "trigger_id": "1",
            }
        )
        assert r.status_code == 200 and r.json()["response_type"] == "ephemeral"
        assert "&lt;!channel&gt;" in r.json()["text"] and "<!channel>" not in r.json()["text"]
        (delivered,) = bot.slack.wait_for("response_url")
    assert delivered.args["response_type"] == "in_channel"


@pytest.mark.slow
def test_ask_without_a_question_explains_usage(bot: Bot) -> None:
    r = bot.form(
        {
            "command": "/ask",
            "text": " ",
            "user_id": "U1",
            "channel_id": "C1",
            "team_id": TEAM_ID,
            "response_url": bot.slack.response_url("ask2"),
            "trigger_id": "1",
        }
    )
    assert r.status_code == 200 and "/ask" in r.json()["text"]
    settle()
    assert bot.slack.of("response_url") == []


@pytest.mark.slow
@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(lambda body: sign(body, secret="not-the-secret"), id="forged"),
        pytest.param(lambda body: sign(body, timestamp=int(time.time()) - 6 * 60), id="stale"),
        pytest.param(lambda body: {}, id="missing"),
    ],
)
def test_unsigned_requests_are_rejected_and_ignored(bot: Bot, headers: Any) -> None:
    body = json.dumps(
        {
            "type": "event_callback",
            "team_id": TEAM_ID,
            "event_id": "Ev030",
            "event": mention(f"<@{BOT_USER_ID}> {QUESTION}", "1700000400.000100"),
        }
    )
    r = bot.post(body, "application/json", headers(body))
    assert r.status_code == 401 and r.json()["error"]["type"] == "unauthorized"  # the API's one shape
    settle()
    assert bot.slack.calls == []


@pytest.mark.slow
def test_url_verification_challenge(bot: Bot) -> None:
    body = json.dumps({"type": "url_verification", "token": "legacy", "challenge": "3eZbrw1aBm2rZgRN"})
    r = bot.post(body, "application/json")
    assert r.status_code == 200 and r.json() == {"challenge": "3eZbrw1aBm2rZgRN"}


@pytest.mark.slow
def test_a_redelivered_event_is_not_answered_twice(bot: Bot, embed: OnnxEmbedding) -> None:
    event = mention(f"<@{BOT_USER_ID}> {QUESTION}", "1700000500.000100")
    assert bot.event(event, "Ev040").status_code == 200
    retry = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    assert bot.event(event, "Ev040", retry).status_code == 200
    # Another server process over the same data (a restart, or `rag serve --workers 2`).
    with serving(bot.settings, embed) as other:
        retry["X-Slack-Retry-Num"] = "2"
        restarted = Bot(other.url, bot.slack, other.engine, bot.settings)
        assert restarted.event(event, "Ev040", retry).status_code == 200
        bot.slack.wait_for("chat.postMessage")
        settle()
    assert len(bot.slack.of("chat.postMessage")) == 1


@pytest.mark.slow
def test_own_and_other_bots_messages_are_ignored(bot: Bot) -> None:
    dm = {"type": "message", "channel_type": "im", "channel": "D0000001", "text": QUESTION}
    bot.event({**dm, "user": BOT_USER_ID, "bot_id": BOT_ID, "ts": "1700000600.000100"}, "Ev050")
    bot.event({**dm, "subtype": "bot_message", "bot_id": "BOTHER01", "ts": "1700000601.000100"}, "Ev051")
    bot.event({**dm, "user": "U0000009", "bot_id": "BOTHER02", "ts": "1700000602.000100"}, "Ev052")
    bot.event({**mention(f"<@{BOT_USER_ID}> {QUESTION}", "1700000603.000100"), "bot_id": "BOTHER03"}, "Ev053")
    # A person's question sent last: answers to the bots' messages would have started earlier.
    bot.event({**dm, "channel": "D0000002", "user": "U0000001", "ts": "1700000604.000100"}, "Ev054")
    bot.slack.wait_for("chat.postMessage")
    settle()
    assert [c.args["channel"] for c in bot.slack.of("chat.postMessage")] == ["D0000002"]


@pytest.mark.slow
def test_feedback_click_is_recorded_and_acknowledged(bot: Bot) -> None:
    bot.event(mention(f"<@{BOT_USER_ID}> {QUESTION}", "1700000700.000100"), "Ev060")
    (post,) = bot.slack.wait_for("chat.postMessage")
    (actions,) = [b for b in post.args["blocks"] if b["type"] == "actions"]
    down = next(e for e in actions["elements"] if e["action_id"] == "rag_feedback_down")
    payload = {
        "type": "block_actions",
        "team": {"id": TEAM_ID},
        "user": {"id": "U0000042", "team_id": TEAM_ID},
        "api_app_id": "A0000001",
        "container": {"type": "message", "channel_id": "C0000001", "message_ts": "1700000000.000001"},
        "channel": {"id": "C0000001"},
        "trigger_id": "1.2.3",
        "response_url": bot.slack.response_url("click1"),
        "actions": [{**down, "block_id": actions["block_id"], "type": "button", "action_ts": "1"}],
    }
    r = bot.form({"payload": json.dumps(payload)})
    assert r.status_code == 200

    (ack,) = bot.slack.wait_for("response_url")
    assert ack.args["response_type"] == "ephemeral" and "recorded" in ack.args["text"]
    result = CliRunner().invoke(cli, ["--data-dir", str(bot.settings.data_dir), "feedback", "--json"])
    assert result.exit_code == 0, result.output
    (record,) = json.loads(result.stdout)
    assert record["rating"] == "down" and record["user"] == "U0000042"
    assert record["question"] == QUESTION and record["channel"] == "slack:C0000001"
    assert NUMBER.search(record["answer"]) and record["citations"] >= 1


def test_manifest_matches_what_the_bot_serves() -> None:
    manifest = yaml.safe_load((ROOT / "api" / "slack" / "manifest.yml").read_text())
    settings = manifest["settings"]
    assert set(settings["event_subscriptions"]["bot_events"]) == {"app_mention", "message.im"}
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == ["/ask"]
    urls = [
        settings["event_subscriptions"]["request_url"],
        settings["interactivity"]["request_url"],
        *(c["url"] for c in manifest["features"]["slash_commands"]),
    ]
    assert all(u.endswith("/slack/events") for u in urls)
    assert settings["interactivity"]["is_enabled"]  # the feedback buttons
    assert {"app_mentions:read", "chat:write", "commands", "im:history"} <= set(
        manifest["oauth_config"]["scopes"]["bot"]
    )
