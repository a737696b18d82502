"""Reading one sentence: its words (with offsets), content stems, the values a reader can check
(numbers, dates, names, places), its negations; and whether it states anything checkable.

The same reading serves the claim and every evidence sentence, so a claim's "5 sources" and an
evidence sentence's "five sources" meet as one value. Names are runs of capitalised words: text
written lower-case (some summarisers' output) has none, and the checker then leans on its words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rag.text import MONTHS as MONTH_NAMES
from rag.text import WEEKDAYS as WEEKDAY_NAMES
from rag.text import function_words, stems

# A number (with its separators and a percent sign or a unit: "9pm", "20th"), or a word
# (apostrophes inside kept: "didn't").
TOKEN = re.compile(r"\d+(?:[.,:]\d+)*(?:%|[^\W\d_]+)?|[^\W_]+(?:['’][^\W_]+)*")
NEGATIONS = frozenset({"not", "no", "never", "none", "nobody", "nothing", "neither", "nor", "cannot"})
# Month (full names first) and weekday names as a reading's lower-cased words hold them.
MONTHS = tuple(name.lower() for name in MONTH_NAMES.split("|"))
WEEKDAYS = tuple(name.lower() for name in WEEKDAY_NAMES.split("|"))
# fmt: off
_COUNTS = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty",
)
NUMBER_WORDS = {word: str(i) for i, word in enumerate(_COUNTS)} | {
    "thirty": "30", "forty": "40", "fifty": "50", "hundred": "100", "dozen": "12",
    "first": "1", "second": "2",
}
# A month's name after these is a date ("in March"), not a name ("Stephanie March").
_DATE_CUES = frozenset({
    "in", "on", "since", "until", "by", "from", "of", "last", "next", "early", "late", "mid", "this", "that",
    "during", "before", "after",
})
# fmt: on
_MONTH_WORDS = frozenset(MONTHS)
# Words between two capitalised words that keep them one name ("Bank of America").
_NAME_JOINERS = frozenset({"of", "de", "del", "van", "von", "da", "al", "bin", "la", "le", "the", "and", "&"})
# A capitalised run after these is a place ("in Gaza", "from Ohio").
_PLACE_CUES = frozenset({"in", "at", "from", "near", "across", "throughout", "outside", "inside", "into"})
# Reporting words a paraphrase adds or drops freely: not content to check.
_LIGHT = frozenset({"said", "says", "say", "also", "according", "told", "would", "could", "may", "might"})
_YEAR = re.compile(r"(?:1[89]|20)\d\d")
_NUMBER_PART = re.compile(r"\d+(?:[.,:]\d+)*")
_possessive = re.compile(r"'s$")
_HEADING_MARK = re.compile(r"^\s*(?:#+|[-*•]|\d+[.)])\s*")


@dataclass(frozen=True)
class Value:
    """A checkable value in a sentence: ``kind`` is number, date, name or place; ``key`` the
    normalised value ("1200", "march", "joe biden"); start/end its offsets in the sentence."""

    kind: str
    key: str
    start: int
    end: int
    first: int  # index of its first token
    last: int  # index of its last token


@dataclass
class Reading:
    """One sentence read: tokens in order with their offsets, which are content words, their
    stems, its values and how many negations it holds."""

    text: str
    words: list[str]  # lower-cased tokens
    spans: list[tuple[int, int]]
    stems: list[str]  # per token (numbers normalised, number words as digits)
    content: list[int]  # indexes of content tokens
    values: list[Value] = field(default_factory=list)
    negations: int = 0

    @property
    def content_stems(self) -> list[str]:
        return [self.stems[i] for i in self.content]

    def value_keys(self, kind: str | None = None) -> set[str]:
        return {v.key for v in self.values if kind is None or v.kind == kind}


def negates(word: str) -> bool:
    """Whether a (lower-cased) word negates: "not", "never", "didn't"."""
    return word in NEGATIONS or word.endswith("n't")


def _normal_number(token: str) -> str:
    value = _NUMBER_PART.match(token).group().replace(",", "")  # type: ignore[union-attr]
    if "." in value and value.replace(".", "").isdigit():
        value = value.rstrip("0").rstrip(".") if value.count(".") == 1 else value
    return value


def read(text: str) -> Reading:
    """Read ``text`` (one sentence)."""
    matches = list(TOKEN.finditer(text))
    raw = [m.group() for m in matches]
    lower = [_possessive.sub("", w.lower().replace("’", "'")) for w in raw]
    stemmed = stems(lower)
    stop = function_words()
    out_stems: list[str] = []
    content: list[int] = []
    negations = 0
    for i, (word, stem) in enumerate(zip(lower, stemmed, strict=True)):
        if word[0].isdigit():
            stem = _normal_number(word)
        elif word in NUMBER_WORDS:
            stem = NUMBER_WORDS[word]
        out_stems.append(stem)
        if negates(word):
            negations += 1
        elif word not in stop and word not in _LIGHT and (len(word) > 1 or word[0].isdigit()):
            content.append(i)
    reading = Reading(text, lower, [m.span() for m in matches], out_stems, content, negations=negations)
    reading.values = _values(reading, raw)
    return reading


def _values(reading: Reading, raw: list[str]) -> list[Value]:
    values: list[Value] = []
    words, spans = reading.words, reading.spans
    for i, word in enumerate(words):
        if i and _in_a_model_name(reading.text, spans[i]):
            # "Su-24", "F-16": one value, the model, not a count or a day ("Su-24 ... 24 November")
            values.append(Value("number", f"{words[i - 1]}-{word}", spans[i - 1][0], spans[i][1], i - 1, i))
            continue
        if word[0].isdigit() or (word in NUMBER_WORDS and word not in ("first", "second", "one")):
            near_month = any(words[j] in _MONTH_WORDS for j in (i - 1, i + 1) if 0 <= j < len(words))
            kind = "date" if _YEAR.fullmatch(word) or near_month else "number"
            values.append(Value(kind, reading.stems[i], *spans[i], i, i))
        elif word in WEEKDAYS or (word in _MONTH_WORDS and _month(words, i)):
            values.append(Value("date", word[:3], *spans[i], i, i))
    values.extend(_names(reading, raw))
    return sorted(values, key=lambda v: v.start)


def _in_a_model_name(text: str, span: tuple[int, int]) -> bool:
    """Whether the digits at ``span`` are joined by a hyphen to the letters before them."""
    start = span[0]
    joined = start >= 2 and text[start - 1] == "-" and text[start - 2].isalpha()
    # "mid-2020", "Jan-2021", "pre-1990": a year, still a date
    return joined and text[start : start + 1].isdigit() and not _YEAR.fullmatch(text[start : span[1]])


def _month(words: list[str], i: int) -> bool:
    """Whether a month's name is a date here: next to a number or after a word that introduces a
    date ("in March"), not a name ("Stephanie March") or a verb ("may")."""
    beside = [words[j] for j in (i - 1, i + 1) if 0 <= j < len(words)]
    return any(w[0].isdigit() for w in beside) or (i > 0 and words[i - 1] in _DATE_CUES)


def _capitalised(raw: list[str], words: list[str], i: int) -> bool:
    word = words[i]
    is_date = word in WEEKDAYS or (word in _MONTH_WORDS and _month(words, i))
    return raw[i][0].isupper() and not is_date and not raw[i][0].isdigit()


def _names(reading: Reading, raw: list[str]) -> list[Value]:
    """Runs of capitalised words; one that opens the sentence counts only when longer than a
    word or not a function word, since every sentence starts with a capital."""
    words, spans, stop = reading.words, reading.spans, function_words()
    out: list[Value] = []
    i = 0
    while i < len(raw):
        if not _capitalised(raw, words, i):
            i += 1
            continue
        j = i
        while j + 1 < len(raw) and (
            _capitalised(raw, words, j + 1)
            or (words[j + 1] in _NAME_JOINERS and j + 2 < len(raw) and _capitalised(raw, words, j + 2))
        ):
            j += 1
        opening = i == 0 or reading.text[: spans[i][0]].rstrip()[-1:] in ('"', "“", ":", "(")
        trim = i
        while trim <= j and words[trim] in stop:
            trim += 1
        if trim <= j and not (opening and trim == j and (words[trim] in _LIGHT or trim == i)):
            kind = "place" if i > 0 and words[i - 1] in _PLACE_CUES else "name"
            key = " ".join(w for w in words[trim : j + 1] if w not in _NAME_JOINERS)
            out.append(Value(kind, key, spans[trim][0], spans[j][1], trim, j))
        i = j + 1
    return out


def checkable(text: str) -> bool:
    """Whether ``text`` states something a reader could check against evidence: False for a
    question, a heading or label ("Key points", "In short:"), a list number, a fragment."""
    body = _HEADING_MARK.sub("", text).strip()
    if not body or body.endswith(("?", ":")) or text.lstrip().startswith("#"):
        return False
    reading = read(body)
    if not reading.values and len(reading.content) < 2:
        return False
    if body[-1] in ".!\"'”)" or len(reading.words) > 10:
        return True
    # No closing punctuation and short: a heading when most of its words are capitalised.
    capitals = sum(1 for a, b in reading.spans if body[a].isupper())
    return capitals * 2 < len(reading.spans)
