"""What the Slack tests share: the bot's token, a question the seed article answers, and how
to read Slack's payloads."""

from __future__ import annotations

import re
from typing import Any

TOKEN = "xoxb-0000-test-token"
QUESTION = "What is China providing Russia?"
NUMBER = re.compile(r"\[(\d+)\]")  # a citation marker in an answer's text


def mention(text: str, ts: str, thread_ts: str | None = None, channel: str = "C0000001") -> dict[str, Any]:
    event = {"type": "app_mention", "user": "U0000001", "text": text, "ts": ts, "channel": channel}
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def texts(blocks: list[dict[str, Any]], kind: str) -> str:
    """All mrkdwn text of the blocks of one type ("section" or "context")."""
    out = []
    for b in blocks:
        if b["type"] == kind:
            out += [b["text"]["text"]] if kind == "section" else [e["text"] for e in b["elements"]]
    return "\n".join(out)
