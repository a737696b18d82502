"""The Slack bot: a thin slack-bolt adapter over the engine.

- ``app_mention`` in a channel -> the answer in the mention's thread; the thread is the
  conversation (``slack:{channel}:{thread_ts}``), so a later mention there is a follow-up.
- a direct message -> the answer in the DM (in the thread when the user wrote in one); a
  reply in the thread of a question or of its answer is a follow-up.
- ``/ask <question>`` -> acknowledged at once, the answer delivered through ``response_url``.
- ``/ask subscribe TOPIC`` / ``unsubscribe TOPIC`` / ``subscriptions`` -> the channel follows a
  topic: when a poll of the followed sources (``rag watch``, ``rag serve --watch``) brings new
  articles on it, ``digest_poster`` posts a short cited digest there (at most one per
  ``RAG_SLACK_DIGEST_MINUTES``).
- 👍 / 👎 buttons under every answer -> ``rag.feedback.FeedbackStore``.

``mount_slack`` adds ``POST /slack/events`` to a FastAPI app (signed requests only: bolt
verifies the v0 signature and the 5-minute timestamp window, 401 otherwise);
``run_socket_mode`` serves the same bot over Socket Mode for hosts without a public URL.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from slack_bolt import Ack, App, BoltResponse, Respond
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_sdk import WebClient
from starlette.concurrency import run_in_threadpool

from api.errors import error_body
from api.slack.ledger import Ledger
from api.slack.render import (
    FEEDBACK_ACTIONS,
    RATING_EMOJI,
    escape,
    render_answer,
    render_notice,
    source_line,
)
from rag.config import Settings
from rag.engine import Engine
from rag.errors import BadInput, NotFound, RagError
from rag.feedback import Rating
from rag.models import Answer, Citation

if TYPE_CHECKING:
    from rag.feeds import Digest

log = logging.getLogger(__name__)

HINT = "Ask me about the news corpus, e.g. “What is China providing Russia?”"
USAGE = "Usage: `/ask <question>`, e.g. `/ask What is China providing Russia?`"
# Message subtypes that are a person writing; edits, joins, bot posts etc. are not questions.
HUMAN_SUBTYPES = {None, "thread_broadcast", "file_share"}
RATINGS: dict[str, Rating] = {action: rating for rating, action in FEEDBACK_ACTIONS.items()}

# "/ask subscribe TOPIC", "/ask unsubscribe TOPIC", "/ask subscriptions": the rest are questions.
_FOLLOW = re.compile(r"^(?:(subscribe|unsubscribe)\s+(\S.*)|(subscriptions))$", re.I | re.S)
_USER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|([^>]*))?>")
_REF = re.compile(r"<([^<>|]+)(?:\|([^<>]*))?>")


def plain_text(text: str, bot_user_id: str | None = None) -> str:
    """A Slack message's text as the user meant it: no bot mention, links as their labels.

    Slack sends ``<@U123>``, ``<https://x|label>``, ``<#C1|general>`` and escapes ``& < >``;
    slack_sdk has no parser for incoming mrkdwn, so this undoes just those forms.
    """

    def user(m: re.Match[str]) -> str:
        return "" if m.group(1) == bot_user_id else f"@{m.group(2) or m.group(1)}"

    def ref(m: re.Match[str]) -> str:
        target, label = m.group(1), m.group(2)
        if target.startswith("!"):  # <!here>, <!channel>
            return ""
        if target.startswith("#"):
            return f"#{label or target[1:]}"
        return label or target

    text = _REF.sub(ref, _USER.sub(user, text))
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return " ".join(text.split())


class SlackBot:
    """Turns Slack events into engine calls and answers into Slack messages.

    Listeners only acknowledge and hand the answering to ``workers``: bolt acks commands and
    button clicks from its own thread pool, which must never be busy answering when a new
    request needs its ack within Slack's 3 seconds. Two workers keep two CPU cores busy
    without starving the server thread that sends the acks.
    """

    def __init__(self, engine: Engine, settings: Settings, workers: int = 2) -> None:
        self.engine = engine
        self.settings = settings
        self.feedback = engine.feedback
        self.ledger = Ledger(engine.database)
        self.workers = ThreadPoolExecutor(workers, thread_name_prefix="slack-answer")

    def _later(self, fn: Callable[..., None], *args: Any) -> None:
        def run() -> None:
            try:
                fn(*args)
            except Exception:  # a failed post to Slack; nobody else would see it
                log.exception("delivering a Slack answer failed")

        self.workers.submit(run)

    def _answer(self, question: str, conversation_id: str | None) -> Answer:
        if conversation_id is None:
            return self.engine.ask(question)
        return self.engine.chat(question, conversation_id=conversation_id, create=True).answer

    def reply(
        self, question: str, channel: str, conversation_id: str | None
    ) -> tuple[str, list[dict[str, Any]]]:
        """The message answering ``question``: the rendered answer, or what went wrong."""
        try:
            answer = self._answer(question, conversation_id)
        except BadInput as exc:
            return render_notice(str(exc))
        except RagError as exc:
            return render_notice(f":warning: {exc}")
        except Exception:
            log.exception("answering a Slack question failed")
            return render_notice(":warning: Something went wrong while answering; please try again.")
        feedback_id = self.feedback.remember(answer, f"slack:{channel}", conversation_id, question)
        return render_answer(answer, feedback_id)

    # --- listeners --------------------------------------------------------------------
    def on_mention(self, event: dict[str, Any], client: WebClient, context: dict[str, Any]) -> None:
        if event.get("bot_id"):
            return
        # Answered in the mention's thread, which is the conversation.
        channel, thread_ts = event["channel"], event.get("thread_ts") or event["ts"]
        question = plain_text(event.get("text", ""), context.get("bot_user_id"))
        self._later(self._post, client, channel, thread_ts, question, f"slack:{channel}:{thread_ts}")

    def on_message(self, event: dict[str, Any], client: WebClient, context: dict[str, Any]) -> None:
        if (
            event.get("channel_type") != "im"
            or event.get("bot_id")
            or event.get("subtype") not in HUMAN_SUBTYPES
        ):
            return
        channel, thread_ts = event["channel"], event.get("thread_ts")
        question = plain_text(event.get("text", ""), context.get("bot_user_id"))
        # A top-level DM starts a conversation (answered at the top level); a thread reply
        # continues the conversation of the thread's root, the user's question or our answer.
        key = self.ledger.conversation(channel, thread_ts or event["ts"])
        self._later(self._post, client, channel, thread_ts, question, key)

    def _post(self, client: WebClient, channel: str, thread_ts: str | None, question: str, key: str) -> None:
        text, blocks = self.reply(question, channel, key) if question else render_notice(HINT)
        # No unfurling: every source link would unfold into a preview card under the answer.
        posted = client.chat_postMessage(
            channel=channel,
            thread_ts=thread_ts,
            text=text,
            blocks=blocks,
            unfurl_links=False,
            unfurl_media=False,
        )
        if thread_ts is None:
            self.ledger.link(channel, posted["ts"], key)

    def on_ask(self, ack: Ack, command: dict[str, Any], respond: Respond) -> None:
        question = plain_text(command.get("text", ""))
        if not question:
            ack(response_type="ephemeral", text=USAGE)
            return
        follow = _FOLLOW.match(question)
        if follow:
            verb = (follow.group(1) or follow.group(3)).lower()
            ack(
                response_type="ephemeral",
                text=self.follow(command.get("channel_id", "?"), verb, follow.group(2)),
            )
            return
        # Slack wants the acknowledgement within 3 s; the answer follows via response_url.
        ack(response_type="ephemeral", text=f"Searching the corpus for “{escape(question)}”…")
        self._later(self._respond, question, command.get("channel_id", "?"), respond)

    def _respond(self, question: str, channel: str, respond: Respond) -> None:
        text, blocks = self.reply(question, channel, None)
        respond(
            text=text,
            blocks=blocks,
            response_type=self.settings.slack_ask_visibility,
            replace_original=False,
            unfurl_links=False,
            unfurl_media=False,
        )

    def follow(self, channel: str, verb: str, topic: str | None) -> str:
        """Subscribe the channel to a topic, unsubscribe it, or list its topics: the reply."""
        from rag.feeds import FeedOptions, Subscriptions

        subscriptions = Subscriptions(self.engine.database)
        every = int(FeedOptions.from_settings(self.settings).digest_every.total_seconds() // 60)
        try:
            if verb == "subscribe":
                followed = subscriptions.subscribe(channel, topic or "", datetime.now(UTC))
                return (
                    f"This channel now follows “{escape(followed.topic)}”: new articles on it are posted "
                    f"here as a digest, at most one every {every} minutes. `/ask unsubscribe "
                    f"{escape(followed.topic)}` stops it."
                )
            if verb == "unsubscribe":
                dropped = subscriptions.unsubscribe(channel, topic or "")
                return f"This channel no longer follows “{escape(dropped.topic)}”."
        except RagError as exc:
            return escape(str(exc))
        topics = [f"• “{escape(s.topic)}”" for s in subscriptions.of(channel)]
        if not topics:
            return "This channel follows no topic; `/ask subscribe TOPIC` starts one."
        return "This channel follows:\n" + "\n".join(topics)

    def on_feedback(self, ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        ack()
        rating = RATINGS[action["action_id"]]
        try:
            self.feedback.rate(action["value"], body["user"]["id"], rating)
        except NotFound:
            message = "That answer is no longer on record, so the rating was not saved."
        else:
            message = f"Thanks, your {RATING_EMOJI[rating]} is recorded."
        respond(text=message, response_type="ephemeral", replace_original=False)


def render_digest(digest: Digest) -> tuple[str, list[dict[str, Any]]]:
    """A subscription's digest: the topic, then each new article with a quoted sentence."""
    count = len(digest.items) + digest.more
    head = f"*New on “{escape(digest.topic)}”*: {count} article{'' if count == 1 else 's'}"
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": head}}]
    for n, item in enumerate(digest.items, 1):
        cited = Citation(id=n, score=1.0, source=item.outlet, **item.model_dump(exclude={"outlet"}))
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": source_line(cited)}})
    if digest.more:
        more = f"…and {digest.more} more; `/ask {escape(digest.topic)}` to ask about them."
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": more}]})
    return f"New on “{escape(digest.topic)}”: {count} article{'' if count == 1 else 's'}", blocks


def digest_poster(settings: Settings) -> Callable[[Digest], None]:
    """What posts subscription digests to their channels (``Feeds(engine, notify=...)``)."""
    assert settings.slack_bot_token is not None
    client = WebClient(token=settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url)

    def post(digest: Digest) -> None:
        text, blocks = render_digest(digest)
        client.chat_postMessage(
            channel=digest.channel, text=text, blocks=blocks, unfurl_links=False, unfurl_media=False
        )

    return post


def check_settings(settings: Settings, socket_mode: bool = False) -> None:
    """Fail fast, before any model loads, when a token the chosen mode needs is missing."""
    if settings.slack_bot_token is None:
        raise BadInput("Set RAG_SLACK_BOT_TOKEN (the xoxb- token from your Slack app) to run the bot.")
    if socket_mode and settings.slack_app_token is None:
        raise BadInput("Set RAG_SLACK_APP_TOKEN (an xapp- token with connections:write) to use Socket Mode.")
    if not socket_mode and settings.slack_signing_secret is None:
        raise BadInput("Set RAG_SLACK_SIGNING_SECRET (Basic Information page of your Slack app).")


def build_app(engine: Engine, settings: Settings, socket_mode: bool = False) -> App:
    """The bolt App with the bot's listeners."""
    check_settings(settings, socket_mode)
    assert settings.slack_bot_token is not None
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    bolt = App(
        client=WebClient(token=settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url),
        signing_secret=secret,
        # Socket Mode frames come over an authenticated websocket, not signed HTTP requests.
        request_verification_enabled=not socket_mode,
        # No network call at start-up; bolt runs auth.test on the first event instead.
        token_verification_enabled=False,
        # Ack first (Slack allows 3 s); the listeners hand the answering to SlackBot.workers.
        process_before_response=False,
        logger=log,
    )
    bot = SlackBot(engine, settings)

    @bolt.middleware
    def skip_redelivered(body: dict[str, Any], next: Callable[[], None]) -> BoltResponse | None:
        event_id = body.get("event_id")
        if event_id and not bot.ledger.first_time(event_id):
            return BoltResponse(status=200, body="")
        next()
        return None

    bolt.event("app_mention")(bot.on_mention)
    bolt.event("message")(bot.on_message)
    bolt.command("/ask")(bot.on_ask)
    bolt.action(re.compile("|".join(FEEDBACK_ACTIONS.values())))(bot.on_feedback)
    return bolt


def mount_slack(app: FastAPI, engine: Engine, settings: Settings) -> None:
    """Add ``POST /slack/events`` (Events API, slash commands and button clicks) to ``app``."""
    bolt = build_app(engine, settings)

    @app.post("/slack/events", include_in_schema=False)
    async def slack_events(request: Request) -> Response:
        body = await request.body()
        # bolt's sync dispatch blocks until the listener acks; keep it off the event loop.
        response = await run_in_threadpool(bolt.dispatch, to_bolt_request(request, body))
        if response.status == 401:  # bolt's own body; the API's error shape, as on every route
            message = "The request is not signed with this app's Slack signing secret (or is too old)."
            return JSONResponse(error_body("unauthorized", message), status_code=401)
        return to_starlette_response(response)


def run_socket_mode(engine: Engine, settings: Settings) -> None:
    """Serve the bot over Socket Mode until interrupted (no public URL needed)."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    bolt = build_app(engine, settings, socket_mode=True)
    assert settings.slack_app_token is not None
    SocketModeHandler(bolt, settings.slack_app_token.get_secret_value()).start()
