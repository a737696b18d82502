"""Question analysis: which outlets and dates a question names, and the sub-queries they imply.

Input: the question and the outlet names in the corpus. Output: a ``QueryPlan`` holding the
outlet mentions (each mapped to the corpus sources it means), the dates (with "on" / "before" /
"after"), one ``SubQuery`` per (outlet, date) pair for multi-hop retrieval, the outlets the
question attributes reporting to that the corpus does not hold (a refusal signal), and the
question's clauses (``clauses``), each usually asking about one sentence of one article, and
credited with the outlet it names.

News questions name their sources ("as reported by TechCrunch and The Verge", "the Sporting
News article published on October 5, 2023"); each named outlet usually contributes one piece
of the evidence, so retrieval runs one sub-query per outlet besides the plain question.
Hand-written rather than an NER model: no such model installs offline here, and outlet names
come from the corpus itself, so matching them is a lookup, not a recognition problem.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from dateutil import parser as dateparser

from rag.models import Filters
from rag.retrieval.params import CLAUSE_MIN_WORDS, DATE_SLACK
from rag.retrieval.unanswerable import absent_names, unfiltered_outlets, unknown_outlets
from rag.store.vectors import source_key
from rag.text import MONTHS, content_words

Relation = Literal["on", "before", "after"]


_SMALL_WORDS = {"the", "of", "and", "&", "for", "in", "on", "a", "an", "|", "-", ":"}
# "October 5, 2023", "Oct. 5th 2023", and ISO "2023-10-05" (with or without its time).
_DATE = re.compile(
    rf"\b(?:(?:{MONTHS})\.? \d{{1,2}}(?:st|nd|rd|th)?,? \d{{4}}\b|"
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?(?![\d:]))"
)
_BEFORE = re.compile(r"\b(?:before|prior to|by|until|earlier than)\s+(?:the\s+)?$", re.I)
_AFTER = re.compile(r"\b(?:after|since|following|later than)\s+(?:the\s+)?$", re.I)
# Where a multi-part question turns to its next part: "Which company, reported by X for ...,
# and by Y for ..., while also ...?" (not the comma of "2,000"). Over-splitting is harmless:
# short pieces are re-joined.
_CLAUSE_BREAK = re.compile(
    r",(?!\d)\s*|;\s*|\?\s*|\s+(?:and|while|but|whereas|both|also|as well as|which|that|who)\s+", re.I
)
# The words a question uses to point at its sources rather than at what they say ("Does the
# article from X suggest", "while the report indicates", "Which company, reported by"). A piece
# made only of these is scaffolding, joined to the next piece instead of matched on its own.
# fmt: off
SCAFFOLD = frozenset((
    "does", "did", "do", "has", "have", "had", "which", "who", "what", "whom", "whose", "between",
    "after", "before", "from", "while", "also", "same", "according", "article", "articles",
    "report", "reports", "reported", "reporting", "story", "stories", "piece", "coverage",
    "covered", "publication", "published", "source", "sources", "outlet", "news", "suggest",
    "suggests", "suggested", "suggesting", "indicate", "indicates", "indicated", "indicating",
    "imply", "implies", "implied", "implying", "claim", "claims", "claimed", "claiming", "state",
    "states", "stated", "stating", "mention", "mentions", "mentioned", "say", "says", "said",
    "company", "individual", "person", "entity", "organization",
))
# fmt: on
# A source named after what it reported ("..., according to Fortune", "..., as reported by X").
_TRAILING = re.compile(r"\b(?:according to|by|from|in|per)\s*['‘“\"]?\s*$", re.I)


@dataclass(frozen=True)
class Mention:
    """A span of the question that names an outlet, and the corpus sources it stands for."""

    start: int
    end: int
    sources: tuple[str, ...]


@dataclass(frozen=True)
class DateMention:
    start: int
    end: int
    day: date
    relation: Relation

    def window(self) -> tuple[date | None, date | None]:
        if self.relation == "before":
            return None, self.day + DATE_SLACK
        if self.relation == "after":
            return self.day - DATE_SLACK, None
        return self.day - DATE_SLACK, self.day + DATE_SLACK


@dataclass(frozen=True)
class Clause:
    """One part of a question, and the sub-queries (their outlets and dates) it names: the part
    asks about a sentence of an article those filters hold. None named: any article."""

    text: str
    subqueries: tuple[int, ...] = ()


@dataclass(frozen=True)
class SubQuery:
    """Search the question (``keyword_text``) inside ``filters``: what one named outlet holds."""

    filters: Filters


@dataclass
class QueryPlan:
    question: str
    mentions: list[Mention] = field(default_factory=list)
    dates: list[DateMention] = field(default_factory=list)
    subqueries: list[SubQuery] = field(default_factory=list)
    clauses: list[Clause] = field(default_factory=list)  # of the question, outlets and dates left out
    unknown_outlets: list[str] = field(default_factory=list)
    absent_names: list[str] = field(default_factory=list)

    def unanswerable(self) -> str | None:
        """Why the corpus cannot hold the answer, when the question itself shows it."""
        if self.unknown_outlets:
            return "The corpus holds no articles from " + " or ".join(self.unknown_outlets) + "."
        if self.absent_names:
            return "The corpus never mentions " + " or ".join(self.absent_names) + "."
        return None


def _capitalised(text: str) -> bool:
    """True when every significant word starts upper-case ("The Age", not "the age of")."""
    words = [w for w in re.split(r"[\s|:\-]+", text) if w and w.lower() not in _SMALL_WORDS]
    return bool(words) and all(w[0].isupper() or w[0].isdigit() for w in words)


def aliases(source: str) -> set[str]:
    """The ways a question may name an outlet: "Cnbc | World Business News Leader" -> "Cnbc"."""
    name = " ".join(source.split())
    out = {name}
    for sep in (" | ", " - ", ": "):
        if sep in name:
            out.add(name.split(sep, 1)[0].strip())
    for alias in list(out):
        if re.search(r"\.(?:com|net|org|co\.uk)$", alias, re.I):
            out.add(re.sub(r"\.(?:com|net|org|co\.uk)$", "", alias, flags=re.I))
        # "The New York Times" is also "a New York Times article"; "The Age" stays "The Age".
        if alias.lower().startswith("the ") and len(alias.split()) > 2:
            out.add(alias[4:])
    return {a for a in out if len(a) >= 3}


class OutletIndex:
    """Finds corpus outlets named in free text; built once per set of sources."""

    def __init__(self, sources: list[str]) -> None:
        self.names = {source_key(source): source for source in sources}  # as filters match them
        self.by_alias: dict[str, set[str]] = {}
        for source in sources:
            for alias in aliases(source):
                self.by_alias.setdefault(alias.lower(), set()).add(source)
        names = sorted(self.by_alias, key=len, reverse=True)  # longest first: "FOX News - Health"
        self.pattern = (
            re.compile(r"(?<![\w])(?:" + "|".join(re.escape(n) for n in names) + r")(?![\w])", re.I)
            if names
            else None
        )

    def known(self, name: str) -> bool:
        key = re.sub(r"^the ", "", name.strip().lower())
        return any(key in (alias, re.sub(r"^the ", "", alias)) for alias in self.by_alias)

    def find(self, text: str) -> list[Mention]:
        if self.pattern is None:
            return []
        found = []
        for m in self.pattern.finditer(text):
            if _capitalised(m.group()):
                found.append(Mention(m.start(), m.end(), tuple(sorted(self.by_alias[m.group().lower()]))))
        return found


def find_dates(text: str) -> list[DateMention]:
    out = []
    for m in _DATE.finditer(text):
        try:
            day = dateparser.parse(m.group().replace(",", "")).date()
        except (ValueError, OverflowError):
            continue
        before = text[max(0, m.start() - 30) : m.start()]
        relation: Relation = "on"
        if _BEFORE.search(before):
            relation = "before"
        elif _AFTER.search(before):
            relation = "after"
        out.append(DateMention(m.start(), m.end(), day, relation))
    return out


def keyword_text(plan: QueryPlan) -> str:
    """The question without the outlet names and dates that sub-queries filter on instead
    (measured: matching them as words as well only adds noise)."""
    spans = sorted([(m.start, m.end) for m in plan.mentions] + [(d.start, d.end) for d in plan.dates])
    text = plan.question
    out, pos = [], 0
    for a, b in spans:
        if a >= pos:
            out.append(text[pos:a])
            pos = b
    out.append(text[pos:])
    return " ".join("".join(out).split())


def clauses(text: str, credits: Sequence[tuple[int, int, tuple[int, ...]]] = ()) -> list[Clause]:
    """``text`` cut into its parts, each with at least CLAUSE_MIN_WORDS content words besides
    the scaffolding.

    A multi-hop question is written from one sentence of each article it spans, one part per
    sentence, so each part is matched against sentences on its own (``Retriever``). ``credits``
    are (start, end, sub-queries) spans of ``text`` that name a source: they are left out of the
    parts' text, and each part is credited with the sub-queries named inside it ("..., according
    to Fortune" credits the part before it).
    """
    blank = list(text)
    for start, end, _ in credits:
        # Blanked rather than cut, so offsets stay valid; with a character that is neither a
        # word nor a space, so no clause break takes it in.
        blank[start:end] = "\0" * (end - start)
    plain = "".join(blank)
    bounds = [0] + [i for m in _CLAUSE_BREAK.finditer(plain) for i in m.span()] + [len(plain)]
    pieces = list(zip(bounds[::2], bounds[1::2], strict=True))
    groups: list[list[tuple[int, int]]] = []
    pending: list[tuple[int, int]] = []
    for piece in pieces:
        pending.append(piece)
        if _substance(" ".join(plain[a:b] for a, b in pending)) >= CLAUSE_MIN_WORDS:
            groups.append(pending)
            pending = []
    if pending and groups:
        groups[-1] += pending
    elif pending:
        groups.append(pending)
    credited: list[set[int]] = [set() for _ in groups]
    for start, _, subqueries in credits:
        # The piece holding the span: the last to start at or before it (breaks never take it in).
        g, p = [(g, p) for g, group in enumerate(groups) for p, (a, _) in enumerate(group) if a <= start][-1]
        a, b = groups[g][p]
        # "..., according to Fortune, and ...": a piece that only names the source of the part before.
        trailing = _TRAILING.search(plain[a:start]) and _substance(plain[a:b]) < CLAUSE_MIN_WORDS
        if trailing and g > 0 and p == 0:
            g -= 1
        credited[g].update(subqueries)
    texts = [" ".join(" ".join(plain[a:b] for a, b in group).replace("\0", "").split()) for group in groups]
    return [Clause(t, tuple(sorted(c))) for t, c in zip(texts, credited, strict=True) if t]


def _substance(text: str) -> int:
    return sum(w not in SCAFFOLD for w in content_words(text))


def _merge(base: Filters | None, sources: tuple[str, ...], when: DateMention | None) -> Filters:
    since, until = when.window() if when else (None, None)
    if base is not None:
        since = max(filter(None, (since, base.since)), default=None)
        until = min(filter(None, (until, base.until)), default=None)
        if base.source:
            wanted = {s.lower() for s in base.source}
            sources = tuple(s for s in sources if s.lower() in wanted)
    if since and until and since > until:
        since, until = until, since
    return Filters(
        source=list(sources) or None,
        since=since,
        until=until,
        category=base.category if base else None,
    )


def analyze(
    question: str,
    outlets: OutletIndex,
    filters: Filters | None = None,
    words: frozenset[str] | None = None,
) -> QueryPlan:
    """Outlets and dates named in ``question`` -> sub-queries (one per outlet, and date).

    ``words`` (every word of the corpus, lower-cased) enables the absent-name check.
    """
    mentions = outlets.find(question)
    dates = find_dates(question)
    plan = QueryPlan(
        question,
        mentions,
        dates,
        unknown_outlets=unfiltered_outlets(filters, outlets)
        + unknown_outlets(question, outlets, mentions, dates),
        absent_names=absent_names(question, mentions, words) if words else [],
    )
    seen: dict[tuple[tuple[str, ...], DateMention | None], int] = {}
    credits: list[tuple[int, int, tuple[int, ...]]] = [(d.start, d.end, ()) for d in dates]
    for i, mention in enumerate(mentions):
        if filters is not None and filters.source and not _merge(filters, mention.sources, None).source:
            credits.append((mention.start, mention.end, ()))
            continue  # the caller's own outlet filter rules this outlet out
        # A date belongs to the outlet named just before it ("the TechCrunch report ...
        # published on October 6, 2023"), up to the next outlet mention.
        stop = mentions[i + 1].start if i + 1 < len(mentions) else len(question)
        own: list[DateMention | None] = [d for d in dates if mention.end <= d.start < stop] or [None]
        for when in own:
            key = (mention.sources, when)
            if key not in seen:
                seen[key] = len(plan.subqueries)
                plan.subqueries.append(SubQuery(_merge(filters, mention.sources, when)))
        credits.append((mention.start, mention.end, tuple(seen[(mention.sources, when)] for when in own)))
    plan.clauses = clauses(question, credits)
    return plan
