"""Follow-up condensation: a chat message + the conversation so far -> one standalone question.

Retrieval sees one question at a time, so "and what about Starlink?" or "when was that?" must
carry the topic of the earlier turns. With an LLM configured it rewrites the message (the
classic condense-question step); without one, or when it fails, a history-aware rule appends
the previous turn's topic (its names, else its content words) to a message that reads as a
follow-up.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from rag.errors import LLMUnavailable
from rag.models import MAX_QUESTION_CHARS
from rag.text import topic_words, words

log = logging.getLogger(__name__)

# Openers that only make sense as a continuation of the previous turn.
_CUE = re.compile(
    r"^\s*(and|but|also|so|then|what about|how about|what else|anything else|tell me more|more on)\b",
    re.IGNORECASE,
)
# Words that point back at something said earlier.
_ANAPHORA = frozenset(
    {"it", "its", "that", "this", "these", "those", "they", "them", "their"}
    | {"he", "him", "his", "she", "her", "there", "then", "same"}
)
# Conversational filler that carries no topic (on top of NLTK's English stopwords).
_FILLER = frozenset({"tell", "know", "say", "said", "please", "anything", "else", "happen", "happened"})
MAX_CONTEXT_WORDS = 10


class TextModel(Protocol):
    """What condensing needs of ``rag.llm.LLMClient``."""

    def known_down(self) -> str | None: ...

    def generate(self, messages: list[dict[str, str]], stream: bool = True) -> Iterator[str]: ...


@dataclass(frozen=True)
class Exchange:
    """One earlier turn: what the user wrote, its standalone form, the answer text."""

    message: str
    question: str
    answer: str


def content_words(message: str) -> list[str]:
    """Topic-bearing words of ``message`` in order, case kept, each once."""
    return topic_words(message, _FILLER)


def is_follow_up(message: str) -> bool:
    """Whether ``message`` leans on an earlier turn for its topic."""
    tokens = words(message)
    topic = content_words(message)
    if _CUE.match(message) or len(topic) <= 1:
        return True
    return bool(_ANAPHORA.intersection(tokens)) and len(topic) <= 3


def topic_of(text: str) -> list[str]:
    """Names and numbers in ``text`` (the words a follow-up refers back to), else its content words."""
    words = content_words(text)
    names = [w for w in words if w[0].isupper() or any(ch.isdigit() for ch in w)]
    return names or words


def follow_up_focus(message: str, question: str) -> str | None:
    """What the user wrote, when it was condensed into ``question`` and names something itself
    ("and what about Starlink?"): the answer should lead with that, not with the topic carried
    over for retrieval. None for a standalone message, or one naming nothing ("when was that?",
    "how much did it cost?": its subject is the carried topic)."""
    message = message.strip()
    named = any(w[0].isupper() or any(ch.isdigit() for ch in w) for w in content_words(message))
    return message if named and question.strip() != message else None


def condense_by_rule(message: str, history: Sequence[Exchange]) -> str:
    """Append the topic of the previous turn to a message that reads as a follow-up.

    The topic is what the previous message named itself ("and what about Starlink?" names
    Starlink), or, when it named nothing ("when was that?"), the topic it inherited. Only
    names are carried when there are any: extra common words would outweigh the follow-up's
    own subject when sentences are scored against the question.
    """
    if not history or not is_follow_up(message):
        return message
    previous = history[-1]
    have = {w.lower() for w in content_words(message)}
    context = [w for w in topic_of(previous.message) if w.lower() not in have]
    if not context:
        context = [w for w in topic_of(previous.question) if w.lower() not in have]
    if not context:
        return message
    rewritten = f"{message} ({' '.join(context[:MAX_CONTEXT_WORDS])})"
    return rewritten if len(rewritten) <= MAX_QUESTION_CHARS else message  # the user's words first


def _prompt(message: str, history: Sequence[Exchange]) -> str:
    lines = []
    for turn in history[-4:]:
        lines.append(f"User: {turn.message}")
        lines.append(f"Assistant: {turn.answer[:600]}")
    return (
        "Rewrite the user's last message as one standalone question that can be understood "
        "without the conversation: replace pronouns and references with the names and topics "
        "they refer to. If it is already standalone, repeat it unchanged. Reply with the "
        "question only.\n\nConversation:\n" + "\n".join(lines) + f"\n\nLast message: {message}\n"
        "Standalone question:"
    )


class Condenser:
    """Rewrites follow-ups with ``llm`` (None in extractive mode), else by rule."""

    def __init__(self, llm: TextModel | None = None) -> None:
        self.llm = llm

    def condense(self, message: str, history: Sequence[Exchange]) -> str:
        if not history:
            return message
        if self.llm is not None and self.llm.known_down() is None:
            messages = [{"role": "user", "content": _prompt(message, history)}]
            try:
                text = "".join(self.llm.generate(messages, stream=False)).strip()
            except LLMUnavailable as exc:
                log.warning("condensing by rule: %s", exc)
            else:
                question = text.splitlines()[0].strip().strip('"') if text else ""
                if question:
                    return question[:MAX_QUESTION_CHARS]
        return condense_by_rule(message, history)

    def history(self, pairs: Sequence[tuple[str, str]]) -> list[Exchange]:
        """Exchanges from (user message, assistant reply) pairs, e.g. an OpenAI messages list.

        Standalone forms are rebuilt by the rule (cheap and deterministic), not the LLM.
        """
        out: list[Exchange] = []
        for message, answer in pairs:
            out.append(Exchange(message, condense_by_rule(message, out), answer))
        return out
