"""Signs in a question that the corpus cannot answer it: an outlet it credits that the corpus
holds nothing from ("according to Bloomberg", a misspelt outlet filter), or a name the corpus
never uses. Part of question analysis (``query.analyze`` fills ``QueryPlan`` with them), in a
module of its own so each stays short.
"""

from __future__ import annotations

import re
from difflib import get_close_matches
from typing import TYPE_CHECKING

from rag.store.vectors import source_key
from rag.text import MONTHS, WEEKDAYS, plain_words

if TYPE_CHECKING:
    from rag.models import Filters
    from rag.retrieval.query import DateMention, Mention, OutletIndex

# "an article by X", "a report from X", "a X article": the X a question attributes reporting to.
_NAME = r"((?:The |the )?[A-Z][\w.&'’-]*(?: (?:of |&amp; |& )?[A-Z][\w.&'’-]*){0,4})"
_ATTRIBUTED = [
    re.compile(rf"\b(?:article|report|piece|story|coverage|analysis|review)s? (?:by|from|in) {_NAME}"),
    re.compile(  # lower case: "According to the CDC, ..." opening a question is rarely an outlet
        rf"\b(?:according to|another (?:one )?(?:by|from|in)|(?:reported|published|discussed|"
        rf"highlighted|covered|detailed|presented|noted|mentioned|written) (?:by|in)) {_NAME}"
    ),
    re.compile(rf"\b[Aa]n? {_NAME}(?:'s)? (?:article|report|piece|story|review|analysis)"),
]


# Words of a newspaper's or a channel's name, which tell "in Business Standard" from "in New York".
_MASTHEAD = re.compile(
    r"News|Times|Post|Journal|Herald|Guardian|Daily|Tribune|Gazette|Magazine|Weekly|Press|"
    r"Telegraph|Independent|Mail|Express|Chronicle|Observer|Standard|Insider|Wire|Review|Reporter|"
    r"Today|Mirror|Inquirer|Courier|Examiner|Register|Dispatch|Monitor|Record|Sentinel|Globe|Star|"
    r"Sun|Line|Week|Economist|Business|Radio|TV|Network|Online|Digest|Bulletin"
)
# A month or a weekday is a date the question names, not someone the corpus must know.
_CALENDAR = re.compile(f"{MONTHS}|{WEEKDAYS}", re.I)

# A capitalised run not at a sentence start: a name ("Sam Bankman-Fried", "Bank of England").
_PROPER = re.compile(r"(?<=[a-z0-9,;:'‘“(]\s)([A-Z][\w'’.-]*(?:\s+(?:of\s+|the\s+)?[A-Z][\w'’.-]*)*)")


def unfiltered_outlets(filters: Filters | None, outlets: OutletIndex) -> list[str]:
    """The outlets a filter asks for that the corpus holds no article from, each with the
    nearest outlet it does hold, as a misspelt filter most likely meant."""
    out = []
    for wanted in (filters.source or []) if filters else []:
        if source_key(wanted) in outlets.names:
            continue
        near = [key for key in outlets.names if _words_within(key, source_key(wanted))][:1] or (
            get_close_matches(source_key(wanted), list(outlets.names), n=1, cutoff=0.6)
        )
        out.append(f"“{wanted}”" + (f" (did you mean “{outlets.names[near[0]]}”?)" if near else ""))
    return out


def _words_within(a: str, b: str) -> bool:
    """One name's words are all in the other's: "BBC" and "BBC News"."""
    x, y = set(a.split()), set(b.split())
    return bool(x and y) and (x <= y or y <= x)


def unknown_outlets(
    text: str, outlets: OutletIndex, mentions: list[Mention], dates: list[DateMention]
) -> list[str]:
    """Names the question attributes reporting to that are not outlets of the corpus (its outlet
    ``mentions`` and ``dates`` aside)."""
    covered = [(m.start, m.end) for m in mentions]
    dated = {d.start for d in dates}
    out: list[str] = []
    for pattern in _ATTRIBUTED:
        for m in pattern.finditer(text):
            name = m.group(1).strip()
            start = m.start(1)
            if any(a <= start < b for a, b in covered) or start in dated:
                continue
            if name.split()[-1].lower() in {"the", "an", "a"} or outlets.known(name):
                continue
            if _place_or_time(text, m.start(1), name, outlets):
                continue
            if name not in out:
                out.append(name)
    return out


def _place_or_time(text: str, start: int, name: str, outlets: OutletIndex) -> bool:
    """ "reported in Italy", "published in March": after "in", a lone capitalised word is a place
    or a month far more often than an outlet, which a question names "in the BBC", "in The
    Economist", "in Business Standard"; a near spelling of a corpus outlet still counts."""
    if not re.search(r"\bin\s+$", text[max(0, start - 4) : start]):
        return False
    words = name.split()
    if words[0].lower() == "the" or get_close_matches(source_key(name), list(outlets.names), cutoff=0.8):
        return False
    if re.fullmatch(MONTHS, words[0]):
        return True
    if len(words) == 1:
        return not name.isupper()  # "in Italy", not "in NPR"
    return not any(_MASTHEAD.fullmatch(w) for w in words)  # "in New York", not "in Business Standard"


def absent_names(text: str, mentions: list[Mention], words: frozenset[str]) -> list[str]:
    """Proper names in ``text`` with a word the corpus never uses (outlet mentions aside)."""
    for mention in mentions:
        text = text[: mention.start] + " " * (mention.end - mention.start) + text[mention.end :]
    out: list[str] = []
    for m in _PROPER.finditer(text):
        name = m.group(1)
        tokens = [t for t in plain_words(name) if t != "s" and not _CALENDAR.fullmatch(t)]
        if any(t not in words for t in tokens) and name not in out:
            out.append(name)
    return out
