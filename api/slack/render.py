"""Slack rendering: an ``Answer`` -> (fallback text, Block Kit blocks as dicts).

The answer text keeps its ``[n]`` markers; the Sources block lists exactly the answer's
citations under the same numbers (``Citation.id``), so footer and text cannot drift apart.
Everything stays within Slack's limits: 3000 characters per text, 50 blocks per message.
"""

from __future__ import annotations

import re
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from rag.feedback import Rating
from rag.models import Answer, Citation, explain

TEXT_LIMIT = 3000  # characters per section / context text
BLOCK_LIMIT = 50  # blocks per message
FALLBACK_LIMIT = 3000  # the notification text; the blocks carry the full answer
QUOTE_LIMIT = 500
FEEDBACK_ACTIONS: dict[Rating, str] = {"up": "rag_feedback_up", "down": "rag_feedback_down"}
RATING_EMOJI: dict[Rating, str] = {"up": ":+1:", "down": ":-1:"}


def escape(text: str) -> str:
    """Slack mrkdwn escaping: only these three characters are control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# The start of an escape ("&am") left at a cut: Slack would show it as it stands.
_PARTIAL_ESCAPE = re.compile(r"&[a-z]{0,3}$")
# The [n] markers (and the spaces before them) right after a sentence.
_MARKERS_AFTER = re.compile(r"(?:\s*\[\d+\])*")


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return _PARTIAL_ESCAPE.sub("", text[: limit - 1]).rstrip() + "…"


def _split(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Cut text into pieces of at most ``limit`` characters, at whitespace where possible."""
    pieces = []
    while len(text) > limit:
        cut = max(text.rfind("\n", 0, limit), text.rfind(" ", 0, limit))
        if cut <= 0:
            partial = _PARTIAL_ESCAPE.search(text[:limit])
            cut = limit - (len(partial.group()) if partial else 0)
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        pieces.append(text)
    return pieces


def _link(c: Citation) -> str:
    title = escape(c.title).replace("|", "¦")  # a "|" would end Slack's link label early
    if not c.url:
        return f"*{title}*"
    url = c.url.replace("|", "%7C").replace(">", "%3E").replace("<", "%3C")
    return f"<{url}|{title}>"


def source_line(c: Citation) -> str:
    """``[n] <url|title> — outlet, date`` and the quoted sentence below it."""
    when = c.published_at.date().isoformat() if c.published_at else "undated"
    outlet = escape(c.source or "unknown outlet")
    quote = escape(_shorten(" ".join(c.quote.split()), QUOTE_LIMIT))
    return f"*[{c.id}]* {_link(c)} — {outlet}, {when}\n“{quote}”"


def _pack(lines: list[str], limit: int = TEXT_LIMIT) -> list[str]:
    """Join lines into as few texts of at most ``limit`` characters as possible."""
    texts: list[str] = []
    for line in lines:
        line = _shorten(line, limit)
        if texts and len(texts[-1]) + 1 + len(line) <= limit:
            texts[-1] += "\n" + line
        else:
            texts.append(line)
    return texts


def answer_text(answer: Answer) -> str:
    """The answer as plain Slack mrkdwn (a refusal names what was asked); a sentence the checker
    did not find supported carries a marker (⚠ unsupported, ✖ contradicted) after it."""
    if answer.refused:
        about = f"“{escape(answer.question)}”" if answer.question else "this question"
        return f"The corpus has insufficient information about {about}."
    text = escape(answer.answer)
    for sentence in answer.sentences:
        marker = MARKERS.get(sentence.verdict)
        # The answer text holds each sentence followed by its [n] markers.
        at = text.find(escape(sentence.text)) if marker else -1
        if at >= 0:
            end = _MARKERS_AFTER.match(text, at + len(escape(sentence.text))).end()  # type: ignore[union-attr]
            text = text[:end].rstrip() + f" {marker} " + text[end:].lstrip()
    return text.strip()


MARKERS = {"unsupported": "⚠", "contradicted": "✖"}


def checks(answer: Answer) -> str | None:
    """Under the answer: each flagged sentence's marker and why (None when all are supported)."""
    lines = []
    for sentence in answer.sentences:
        why = explain(sentence)
        if why:
            quote = escape(_shorten(sentence.text, 200))
            lines.append(f"{MARKERS.get(sentence.verdict, '⚠')} _{quote}_ — {escape(why)}")
    return "\n".join(lines) or None


def render_answer(answer: Answer, feedback_id: str | None = None) -> tuple[str, list[dict[str, Any]]]:
    """Fallback text and blocks for one answer; ``feedback_id`` adds the 👍 / 👎 buttons."""
    text = answer_text(answer)
    tail: list[Block] = []
    doubts = checks(answer)
    if doubts:
        tail.append(ContextBlock(elements=[MarkdownTextObject(text=_shorten(doubts, TEXT_LIMIT))]))
    if answer.degraded:
        reason = escape(answer.degraded_reason or "the language model was unavailable")
        tail.append(ContextBlock(elements=[MarkdownTextObject(text=f"_Fallback answer: {reason}_")]))
    if feedback_id is not None:
        tail.append(
            ActionsBlock(
                block_id="rag_feedback",
                elements=[
                    ButtonElement(
                        text=PlainTextObject(text=RATING_EMOJI[rating], emoji=True),
                        action_id=action_id,
                        value=feedback_id,
                    )
                    for rating, action_id in FEEDBACK_ACTIONS.items()
                ],
            )
        )

    sources = [source_line(c) for c in sorted(answer.citations, key=lambda c: c.id)]
    if sources:
        sources[0] = "*Sources*\n" + sources[0]
    # Sources are packed into few texts; beyond 25 blocks of them (~75,000 characters, far more
    # than any answer cites) the rest is dropped rather than the answer text.
    source_texts = _pack(sources)[: BLOCK_LIMIT // 2]
    room = BLOCK_LIMIT - len(tail) - len(source_texts)
    sections = _split(text)
    if len(sections) > room:
        sections = sections[:room]
        sections[-1] = _shorten(sections[-1], TEXT_LIMIT - 2) + " …"

    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=s)) for s in sections]
    blocks += [ContextBlock(elements=[MarkdownTextObject(text=t)]) for t in source_texts]
    blocks += tail
    return _shorten(text, FALLBACK_LIMIT), [b.to_dict() for b in blocks]


def render_notice(message: str) -> tuple[str, list[dict[str, Any]]]:
    """A short message (an error, a hint) as fallback text and one section."""
    text = _shorten(escape(message), TEXT_LIMIT)
    return text, [SectionBlock(text=MarkdownTextObject(text=text)).to_dict()]
