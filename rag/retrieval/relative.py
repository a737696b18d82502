"""Periods in questions: relative time ("what happened this week", "the latest on X", "since
Monday"), resolved against the day the question is asked "as of" (``Filters.as_of``, default
today), and a named month or year the articles were published in ("reported in March 2020",
"What happened in 2019?"), become a publication-date filter.

Only where the corpus holds articles in that period: "the latest" asked of a corpus that ends
earlier (MultiHop-RAG's 2023 articles asked about today) keeps the whole corpus, so the question
is answered as before instead of from nothing. Part of question analysis (``query``), in a
module of its own so each stays short.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Protocol

import numpy as np

from rag.models import Filters
from rag.text import MONTHS, WEEKDAYS, stems, terms

_DAYS = tuple(day.lower() for day in WEEKDAYS.split("|"))
_RELATIVE = re.compile(
    r"\b(?:(?P<day>today|tonight|this morning|yesterday|last night)"
    rf"|since (?:last )?(?P<weekday>{'|'.join(_DAYS)})"
    r"|(?P<which>this|last|past) (?P<unit>week|month|year)"
    r"|(?:the )?(?:past|last) (?P<n>\d{1,3}) (?P<units>day|week|month)s?"
    r"|(?P<recent>recent(?:ly)?|latest|lately|most recent))\b",
    re.I,
)
# "mar" -> 3: a named month's number, by the first three letters of any way to write it.
_MONTH_NUMBER = {name[:3].lower(): i + 1 for i, name in enumerate(MONTHS.split("|")[:12])}
# A named month or year: "in March 2020", "during 2019", "published in Sept. 2020". A question
# dates events as often as articles ("what Google spent in 2021", reported in 2023), so such a
# period filters publication dates only after a verb of reporting, or when the question asks
# about nothing else ("What happened in March 2020?").
_ABSOLUTE = re.compile(
    r"\b(?P<reported>(?:reported|published|written|covered|posted|in the news)\s+)?"
    rf"(?:in|during|from)\s+(?:(?P<month>{MONTHS})\.?,?\s+)?(?P<year>(?:19|20)\d{{2}})\b",
    re.I,
)
DAYS_IN = {"day": 1, "week": 7, "month": 30, "year": 365}
# Words that ask for news without naming a topic, stemmed as ``terms`` stems the question's.
GENERIC = set(
    stems(
        """what whats which any anything happen happened happening going go on new news newest latest
        recent recently headline headlines story stories top update updates event events there been
        has have had did do does is are was were me us tell give show list summary summarize
        summarise brief briefing digest around world corpus article articles today s""".split()  # noqa: SIM905
    )
)
RECENT_DAYS = 30  # how far back "recently" and "the latest" reach


class Masks(Protocol):
    """What says which chunks a filter keeps: ``rag.store.LexicalIndex``."""

    def mask(self, filters: Filters | None) -> np.ndarray | None: ...


def relative_window(question: str, as_of: date) -> tuple[date, date] | None:
    """The first and last day of the period the question's (first) relative time names:

    - "today", "yesterday": that day; "since Monday": from the last Monday (today if Monday);
    - "this week", "the past week", "the last 3 days": that many days up to ``as_of``;
    - "recently", "latest": the RECENT_DAYS up to ``as_of``;
    - "this month", "this year": from its first day; "last week" (Monday to Sunday), "last
      month", "last year": the whole previous one;
    - "reported in March 2020", "What happened in 2019?": that month or year.
    """
    m = relative_time(question)
    if m is None:
        return None
    try:
        return _window(m, as_of)
    except OverflowError:  # a period reaching before year 1 (an as_of of 0001-01-05): none
        return None


def _window(m: re.Match[str], as_of: date) -> tuple[date, date]:
    g = {key: (value or "").lower() for key, value in m.groupdict().items()}
    if "year" in g:  # a named month or year
        year = int(g["year"])
        if not g["month"]:
            return date(year, 1, 1), date(year, 12, 31)
        first = date(year, _MONTH_NUMBER[g["month"][:3]], 1)
        return first, (first + timedelta(days=31)).replace(day=1) - timedelta(days=1)
    if g["day"]:
        day = as_of - timedelta(days=1 if g["day"] in ("yesterday", "last night") else 0)
        return day, day
    if g["weekday"]:
        return as_of - timedelta(days=(as_of.weekday() - _DAYS.index(g["weekday"])) % 7), as_of
    if g["recent"]:
        return as_of - timedelta(days=RECENT_DAYS - 1), as_of
    if g["n"] or g["which"] == "past" or (g["which"], g["unit"]) == ("this", "week"):
        days = int(g["n"] or 1) * DAYS_IN[g["units"] or g["unit"]]
        return as_of - timedelta(days=days - 1), as_of
    if g["unit"] == "week":  # last week
        monday = as_of - timedelta(days=as_of.weekday() + 7)
        return monday, monday + timedelta(days=6)
    first = _first_day(as_of, g["unit"])
    if g["which"] == "this":
        return first, as_of
    end = first - timedelta(days=1)
    return _first_day(end, g["unit"]), end


def relative_time(question: str) -> re.Match[str] | None:
    """Where the question names a period, if it does: a month or year it dates the articles by
    (which wins over "the latest": "the latest news in March 2020"), else its first relative
    time outside a name."""
    found = next((m for m in _RELATIVE.finditer(question) if not _in_a_name(question, m.start())), None)
    named = _ABSOLUTE.search(question)
    if named is not None:
        rest = question[: named.start()] + " " + question[named.end() :]
        latest = found is not None and bool(found.group("recent")) and bool(named.group("month"))
        if named.group("reported") or latest or terms(rest) <= GENERIC:
            return named
    return found


def without_named_period(question: str) -> str:
    """``question`` less the month or year ``relative_time`` read as publication dates ("Why was
    the road closed? reported in May 2020" -> "Why was the road closed?"): once a filter, the
    words only dilute how closely a sentence matches what is asked."""
    found = relative_time(question)
    if found is None or "year" not in found.groupdict():
        return question
    rest = (question[: found.start()] + " " + question[found.end() :]).strip(" ,;")
    return " ".join(rest.split()) if terms(rest) else question


def _in_a_name(question: str, start: int) -> bool:
    """Whether the words at ``start`` are capitalised inside a sentence, so part of a name
    ("Business Today | Latest Stock Market News", "USA Today"), not a time."""
    before = question[:start].rstrip(" \"'‘“(")
    return question[start].isupper() and bool(before) and before[-1] not in ".?!:"


def _first_day(day: date, unit: str) -> date:
    """The first day of the month or year holding ``day``."""
    return day.replace(month=day.month if unit == "month" else 1, day=1)


def relative_filters(question: str, filters: Filters | None, index: Masks) -> Filters | None:
    """``filters`` narrowed to the period of the question's relative time when ``index`` holds
    articles then (within the other filters); otherwise ``filters`` unchanged."""
    window = relative_window(question, getattr(filters, "as_of", None) or date.today())
    if window is None:
        return filters
    base = filters or Filters()
    since = max(window[0], base.since or window[0])
    until = min(window[1], base.until or window[1])
    if since > until:  # the caller's own dates exclude the period: theirs win
        return filters
    narrowed = base.model_copy(update={"since": since, "until": until})
    mask = index.mask(narrowed)
    return narrowed if mask is None or bool(mask.any()) else filters
