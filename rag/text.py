"""The one text toolkit: words, stems, stop-words, numbers and sentences.

Every module that cuts text into words or sentences uses these, so the words a question is
searched with are the words the index holds, and a sentence is the same sentence everywhere.

- ``content_words`` / ``keyword_tokens``: bm25s' own tokenisation (its token pattern, Lucene's
  English stop-words, Snowball stems), reproduced so a question's tokens match the index's.
- ``topic_words``: words that carry a topic, keeping their case (names matter), with the
  broader NLTK stop-word list: for deciding what a message is *about*, not for matching.
- ``sentence_spans``: NLTK's Punkt English model from the copy LlamaIndex ships (offline);
  every line break is a sentence boundary, since scraped articles put a paragraph per line.
- ``TokenMemo``: what a tokenizer made of each text at an index's last build, so a rebuild
  tokenizes only new texts.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Generic, TypeVar

import bm25s.stopwords
import Stemmer

T = TypeVar("T")
# bm25s' default token pattern: words of two or more word characters.
TOKEN = re.compile(r"(?u)\b\w\w+\b")
# The stop-words bm25s removes at indexing ("en": Lucene's 33-word list). Searching with any
# other list would look for words the index never held.
STOPWORDS = frozenset(bm25s.stopwords.STOPWORDS_EN)
# Month and weekday names as regular-expression alternatives (full names first), for the
# modules that read dates in text: pages, questions, periods.
MONTHS = (
    "January|February|March|April|May|June|July|August|September|October|November|December|"
    "Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec"
)
WEEKDAYS = "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_LINE = re.compile(r"[^\n]+")
_local = threading.local()  # PyStemmer objects keep state per call: one per thread


def _stemmer() -> Stemmer.Stemmer:
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = _local.stemmer = Stemmer.Stemmer("english")
    return stemmer


def words(text: str) -> list[str]:
    """Every token of ``text``, lower-cased, in order (stop-words included)."""
    return TOKEN.findall(text.lower())


def content_words(text: str) -> list[str]:
    """The words keyword search matches on: tokens without the index's stop-words."""
    return [w for w in TOKEN.findall(text.lower()) if w not in STOPWORDS]


def stems(tokens: list[str]) -> list[str]:
    """Snowball (English) stems of ``tokens``, as the index stores them."""
    return list(_stemmer().stemWords(tokens)) if tokens else []


def keyword_tokens(text: str) -> list[str]:
    """The tokens BM25 indexed for ``text``. Inlined rather than ``bm25s.tokenize``, whose set-up
    costs more per call than the work: that adds up over the sentences an answer checks."""
    return stems(content_words(text))


def terms(text: str) -> set[str]:
    """The distinct stemmed content words of ``text``."""
    return set(keyword_tokens(text))


def numbers(text: str) -> set[str]:
    """Numbers written in ``text``, normalised ("1,200" -> "1200", "3." -> "3")."""
    return {m.group().replace(",", "").rstrip(".") for m in _NUMBER.finditer(text)}


@lru_cache(maxsize=1)
def _nltk_data() -> None:
    """Put the NLTK data LlamaIndex ships (Punkt, stop-words) on NLTK's path, found without
    importing LlamaIndex itself (seconds at start-up that answering a question does not need)."""
    import importlib.util

    import nltk.data

    spec = importlib.util.find_spec("llama_index.core")
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        cache = str(Path(folder) / "_static" / "nltk_cache")
        if cache not in nltk.data.path:
            nltk.data.path.append(cache)


@lru_cache(maxsize=1)
def function_words() -> frozenset[str]:
    """NLTK's English stop-words (the copy LlamaIndex ships): the broader list, for telling what
    a message is about rather than for matching it against the index."""
    from nltk.corpus import stopwords

    _nltk_data()
    return frozenset(stopwords.words("english"))


_TOPIC_WORD = re.compile(r"[\w][\w'’.-]*[\w]|[\w]")


def topic_words(text: str, extra_stopwords: frozenset[str] = frozenset()) -> list[str]:
    """Words of ``text`` that carry its topic, case kept ("Starlink", "2023"), in order, each
    once; function words and ``extra_stopwords`` left out."""
    seen: set[str] = set()
    out: list[str] = []
    stop = function_words()
    for word in _TOPIC_WORD.findall(text):
        key = word.lower()
        if key in stop or key in extra_stopwords or key in seen:
            continue
        seen.add(key)
        out.append(word)
    return out


@lru_cache(maxsize=1)
def _punkt() -> object:
    from nltk.tokenize.punkt import PunktTokenizer

    _nltk_data()
    return PunktTokenizer("english")


# A sentence end with no space after it, as scraped pages join paragraphs ("damage.Italy is",
# "in the UK.The", "in 2018.The"), which Punkt does not split: a paragraph read as one sentence
# is too long to quote. Two small letters, two capitals or digits before the stop, so "U.S.Army",
# "Mt.Everest" and "No.Ten" stay whole.
_JOINED = re.compile(r"(?:(?<=(?:[a-z0-9%]{2}|[A-Z]{2})[.!?])|(?<=[a-z][\"”’)][.!?]))(?=[”’)\"]?[A-Z][a-z])")


# Not a sentence end: a web address ("www.Forbes.com", "Amazon.Com") or a title ("Mrs.Smith").
_ADDRESS = re.compile(r"\S*(?:www\.|https?:)\S*|\S+\.(?:com|org|net|gov|edu|io|co|uk)\b\S*", re.I)
_TITLES = frozenset({"mr", "mrs", "ms", "dr", "st", "prof", "gen", "gov", "sen", "rep", "jr", "sr", "capt"})


def _not_an_end(text: str, cut: int) -> bool:
    start = text.rfind(" ", 0, cut) + 1
    word = _ADDRESS.match(text, start)
    if word and word.end() > cut:
        return True
    return text[start : cut - 1].lower() in _TITLES


def _unjoined(text: str, a: int, b: int) -> Iterator[tuple[int, int]]:
    for m in _JOINED.finditer(text, a, b):
        if m.start() <= a or _not_an_end(text, m.start()):  # the lookbehind sees the previous end
            continue
        cut = m.start()
        # A closing quote stays with its sentence: curly by its shape, straight by count.
        if text[cut] in "”’)" or (text[cut] == '"' and text.count('"', a, cut) % 2 == 1):
            cut += 1
        yield a, cut
        a = cut
    yield a, b


def sentence_spans(text: str, offset: int = 0) -> list[tuple[int, int]]:
    """(start, end) of each sentence of ``text``, shifted by ``offset``; whitespace trimmed."""
    spans: list[tuple[int, int]] = []
    tokenizer = _punkt()
    for line in _LINE.finditer(text):
        pieces = [
            piece
            for start, end in tokenizer.span_tokenize(line.group())  # type: ignore[attr-defined]
            for piece in _unjoined(text, line.start() + start, line.start() + end)
        ]
        for i in range(1, len(pieces)):  # Punkt cuts 'said "yes.' | '"Then': the quote closes
            (pa, pb), (a, b) = pieces[i - 1], pieces[i]
            if pb == a < b and text[a] == '"' and text.count('"', pa, pb) % 2 == 1:
                pieces[i - 1], pieces[i] = (pa, pb + 1), (a + 1, b)
        for a, b in pieces:
            _trimmed(text, a, b, offset, spans)
    return spans


def _trimmed(text: str, a: int, b: int, offset: int, spans: list[tuple[int, int]]) -> None:
    piece = text[a:b]
    lead = len(piece) - len(piece.lstrip())
    trail = len(piece) - len(piece.rstrip())
    if b - trail > a + lead:
        spans.append((offset + a + lead, offset + b - trail))


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text`` (``sentence_spans``) as strings."""
    return [text[a:b] for a, b in sentence_spans(text)]


_PLAIN = re.compile(r"[a-z0-9]+")


def plain_words(text: str) -> list[str]:
    """Runs of ASCII letters and digits, lower-cased ("Bankman-Fried" -> bankman, fried): the
    vocabulary a question's names are looked up in, where a hyphen or accent must not hide a
    word the corpus holds."""
    return _PLAIN.findall(text.lower())


# Capitalised runs of words. No named-entity model installs offline here (spaCy's and the
# transformers' download theirs), and a capital letter finds the names that matter: a
# sentence's first word is capitalised too, but a rare-name signal drops common words by their frequency.
_NAME = re.compile(r"\b[A-Z][A-Za-z0-9&'-]+(?:\s+[A-Z][A-Za-z0-9&'-]+)*")
# The words of a name as ``name_words`` cuts them (hyphens and apostrophes kept: "bankman-fried").
_NAME_WORD = re.compile(r"[A-Za-z0-9&'-]+")


def name_tokens(text: str) -> set[str]:
    """Every word of ``text`` cut as ``name_words`` cuts a name's, lower-cased: what to leave out
    of a comparison of names because the question already says it."""
    return {w.lower() for w in _NAME_WORD.findall(text)}


# A word list reads better packed than one word a line.
# fmt: off
_NOT_NAMES = frozenset(
    {
        "The", "A", "An", "In", "On", "At", "For", "And", "But", "Or", "If", "It", "Its", "This",
        "That", "These", "Those", "He", "She", "They", "We", "I", "You", "His", "Her", "Their", "Our",
        "As", "By", "From", "With", "To", "Of", "Is", "Was", "Are", "Were", "Be", "Has", "Have", "Had",
        "Not", "No", "So", "Do", "Does", "Did", "Will", "Would", "Can", "Could", "May", "Might",
        "Should", "Also", "After", "Before", "When", "While", "Where", "What", "Who", "Which", "How",
        "Why", "Mr", "Ms", "Mrs", "Dr", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
        "Saturday", "Sunday", "January", "February", "March", "April", "June", "July", "August",
        "September", "October", "November", "December",
    }
)
# fmt: on


def name_runs(text: str) -> list[list[str]]:
    """``text``'s capitalised runs ("Sam Bankman-Fried"), each as its words lower-cased,
    function words, days and months left out."""
    runs = (
        [w.lower() for w in run.group(0).split() if len(w) > 2 and w not in _NOT_NAMES]
        for run in _NAME.finditer(text)
    )
    return [run for run in runs if run]


def name_words(text: str) -> set[str]:
    """The words of ``text``'s capitalised runs, lower-cased, function words, days and months
    left out."""
    return {w for run in name_runs(text) for w in run}


class TokenMemo(Generic[T]):
    """What a tokenizer made of each text at the last build of an index, so that the next build
    tokenizes only the texts it has not seen: after an upload, its own, not the corpus's. In a
    keyword-index rebuild the tokenizing was about half the time (docs/performance-log.md, "Keyword
    index rebuilds"). Keyed by a digest of the text (not the text: no second copy of the corpus in
    memory); a memo holds only the texts of the build that made it."""

    def __init__(self, seen: dict[bytes, T] | None = None) -> None:
        self._seen: dict[bytes, T] = seen or {}

    def __len__(self) -> int:
        return len(self._seen)

    def map(
        self, texts: Sequence[str], tokenize: Callable[[list[str]], Sequence[T]]
    ) -> tuple[list[T], TokenMemo[T]]:
        """``tokenize`` applied to ``texts`` (it is called once, with the texts not seen before),
        and the memo of this build."""
        keys = [hashlib.blake2b(t.encode("utf-8", "surrogatepass"), digest_size=16).digest() for t in texts]
        new = {k: t for k, t in zip(keys, texts, strict=True) if k not in self._seen}
        made = dict(zip(new, tokenize(list(new.values())), strict=True)) if new else {}
        out = [made[k] if k in made else self._seen[k] for k in keys]
        return out, TokenMemo(dict(zip(keys, out, strict=True)))
