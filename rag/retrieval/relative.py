"""Relative time in questions ("what happened this week", "the latest on X", "since Monday"): the
period it names, resolved against the day the question is asked "as of" (``Filters.as_of``,
default today), becomes a publication-date filter.

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

_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_RELATIVE = re.compile(
    r"\b(?:(?P<day>today|tonight|this morning|yesterday|last night)"
    rf"|since (?:last )?(?P<weekday>{'|'.join(_DAYS)})"
    r"|(?P<which>this|last|past) (?P<unit>week|month|year)"
    r"|(?:the )?(?:past|last) (?P<n>\d{1,3}) (?P<units>day|week|month)s?"
    r"|(?P<recent>recent(?:ly)?|latest|lately|most recent))\b",
    re.I,
)
DAYS_IN = {"day": 1, "week": 7, "month": 30, "year": 365}
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
      month", "last year": the whole previous one.
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
    """Where the question names a relative time (its first, outside a name), if it does."""
    return next((m for m in _RELATIVE.finditer(question) if not _in_a_name(question, m.start())), None)


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
