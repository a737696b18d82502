"""Synthetic claims for fitting and checking the claim checker: real sentences of news articles,
kept faithful (as written, words dropped, clauses reordered or cut, two sentences joined) or
corrupted (a number, date, name or place swapped for another of its kind from the same article,
a negation added or removed, a sentence of another article on the same topic).

Used by benchmarks/verify_fit.py and verify_eval.py only; the swaps read values the way the
checker does (``claims.read``), so a corruption is a value the checker can see.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from rag.text import sentence_spans
from rag.verification.claims import MONTHS, WEEKDAYS, Reading, read

FAITHFUL = ("verbatim", "dropped", "reordered", "cut", "joined")
CORRUPTED = ("number", "date", "name", "place", "negation", "other_article")
_AUXILIARIES = re.compile(
    r"\b(is|are|was|were|has|have|had|will|would|can|could|should|does|did|do|may|might|must)\b(?! not)"
)
_NEGATED = re.compile(r"\b(\w+)n['’]t\b|\b(not|never) ")


@dataclass
class Example:
    """A synthetic claim about ``article`` (an index into the corpus): faithful or not."""

    article: int
    kind: str
    claim: str
    supported: bool
    source: str  # the sentence it was made from
    distractor: int  # another article on the topic, given as evidence beside the article


def claims_of(body: str) -> list[str]:
    """The sentences of an article that make claims: 10 to 45 words, some content."""
    out = []
    for a, b in sentence_spans(body):
        text = body[a:b]
        n = len(text.split())
        if 10 <= n <= 45 and text[-1] in '.!"”' and len(read(text).content) >= 5:
            out.append(text)
    return out


def _replace(text: str, start: int, end: int, new: str) -> str:
    return text[:start] + new + text[end:]


def swap_value(
    sentence: str, kind: str, article_values: dict[str, list[str]], rng: random.Random
) -> str | None:
    """``sentence`` with one of its values of ``kind`` swapped for another of the article's."""
    reading = read(sentence)
    mine = [v for v in reading.values if v.kind == kind]
    if not mine:
        return None
    value = rng.choice(mine)
    written = sentence[value.start : value.end]
    pool = [
        w
        for w in article_values.get(kind, [])
        if read(w).value_keys() != {value.key}
        and not set(w.lower().split()) & set(value.key.split())
        and _shape(w) == _shape(written)
    ]
    if not pool:
        pool = _fallback(kind, written, rng)
    if not pool:
        return None
    return _replace(sentence, value.start, value.end, rng.choice(pool))


def _shape(written: str) -> str:
    """What a value looks like, so a month is swapped for a month and a year for a year."""
    lower = written.lower()
    if lower in WEEKDAYS or lower in MONTHS:
        return "weekday" if lower in WEEKDAYS else "month"
    if written.isdigit() and len(written) == 4:
        return "year"
    return "number" if written[:1].isdigit() else "word"


def _fallback(kind: str, written: str, rng: random.Random) -> list[str]:
    if kind == "number" and written.replace(",", "").isdigit():
        n = int(written.replace(",", ""))
        return [f"{n + rng.choice([1, 2, 3, 5, 10]):,}", f"{max(2 * n, n + 2):,}"]
    if kind == "date" and written.lower() in WEEKDAYS:
        return [d.title() for d in WEEKDAYS if d != written.lower()]
    if kind == "date" and written.lower() in MONTHS[:12]:
        return [m.title() for m in MONTHS[:12] if m != written.lower()]
    if kind == "date" and written.isdigit() and len(written) == 4:
        return [str(int(written) + d) for d in (-3, -2, -1, 1, 2)]
    return []


def article_values(body: str) -> dict[str, list[str]]:
    """The values an article writes, by kind, as written."""
    out: dict[str, list[str]] = {}
    for a, b in sentence_spans(body):
        text = body[a:b]
        for value in read(text).values:
            written = text[value.start : value.end]
            if written not in out.setdefault(value.kind, []):
                out[value.kind].append(written)
    return out


def flip_negation(sentence: str) -> str | None:
    """``sentence`` with its first negation removed, or one added after its first auxiliary."""
    negated = _NEGATED.search(sentence)
    if negated:
        if negated.group(1):  # "didn't" -> "did", "isn't" -> "is", "can't" -> "can"
            stem = {"ca": "can", "wo": "will", "sha": "shall"}.get(negated.group(1), negated.group(1))
            return _replace(sentence, negated.start(), negated.end(), stem)
        return _replace(sentence, negated.start(), negated.end(), "")
    auxiliary = _AUXILIARIES.search(sentence)
    if not auxiliary:
        return None
    return _replace(sentence, auxiliary.end(), auxiliary.end(), " not")


_LIGHT_WORDS = frozenset(
    [
        "also",
        "just",
        "still",
        "very",
        "really",
        "already",
        "recently",
        "currently",
        "now",
        "even",
        "reportedly",
    ]
)
_PARENTHESIS = re.compile(r", (?:who|which|whose|one of|a |an |the )[^,]{3,60},")
_FRONTED = re.compile(
    r"^((?:In|On|At|After|Before|During|Since|Last|Earlier|Later|Over|Under) [^,]{3,40}), (.+)\.$"
)
_ATTRIBUTION = re.compile(r"^(.{20,}), ((?:[\w’'-]+ ){0,4}(?:said|says|told [\w ]{1,20}))\.$")


def drop_words(sentence: str, rng: random.Random) -> str | None:
    """``sentence`` without a parenthesis (", who ... ,") or one or two words that add nothing
    checkable (an adverb in -ly, "also", "still")."""
    parenthesis = _PARENTHESIS.search(sentence)
    if parenthesis and rng.random() < 0.5:
        return _replace(sentence, parenthesis.start(), parenthesis.end(), "")
    reading = read(sentence)
    light = [
        i
        for i in range(1, len(reading.words) - 1)
        if reading.words[i] in _LIGHT_WORDS or (reading.words[i].endswith("ly") and len(reading.words[i]) > 4)
    ]
    if not light:
        return None
    out = sentence
    for i in sorted(rng.sample(light, min(len(light), rng.randint(1, 2))), reverse=True):
        a, b = reading.spans[i]
        out = out[:a].rstrip() + " " + out[b:].lstrip()
    return re.sub(r"\s+([,.;:])", r"\1", out)


def reorder(sentence: str) -> str | None:
    """A fronted phrase moved to the end ("In 2021, X did Y." -> "X did Y in 2021."), or the
    attribution to the front ("X, the CEO said." -> "The CEO said x.")."""
    fronted = _FRONTED.match(sentence)
    if fronted:
        head, rest = fronted.groups()
        return f"{rest[0].upper()}{rest[1:]} {head[0].lower()}{head[1:]}."
    attributed = _ATTRIBUTION.match(sentence)
    if attributed and not attributed.group(1).startswith(("“", '"')):
        claim, who = attributed.groups()
        claim = claim if _is_name(claim) else claim[0].lower() + claim[1:]
        return f"{who[0].upper()}{who[1:]} that {claim}."
    return None


def _is_name(text: str) -> bool:
    first = read(text).values
    return bool(first) and first[0].start == 0 and first[0].kind in ("name", "place")


def cut(sentence: str) -> str | None:
    """The sentence up to its first comma, semicolon or " and ", when that leaves 6+ words."""
    match = re.search(r",|;| and | but | which | who ", sentence)
    if not match or len(sentence[: match.start()].split()) < 6:
        return None
    return sentence[: match.start()].rstrip() + "."


def join(first: str, second: str) -> str | None:
    """Two adjacent sentences as one ("A, and b.")."""
    if not first.endswith(".") or len((first + second).split()) > 60 or _is_name(second):
        return None
    return f"{first[:-1]}, and {second[0].lower()}{second[1:]}"


def _overlap(a: Reading, b: Reading) -> float:
    left, right = set(a.content_stems), set(b.content_stems)
    return len(left & right) / max(len(left), 1)


def make(bodies: list[str], topics: list[str], per_article: int, seed: int) -> list[Example]:
    """Up to ``per_article`` examples per article, kinds taken in turn so each is about as
    common as the articles allow."""
    rng = random.Random(seed)
    sentences = [claims_of(b) for b in bodies]
    by_topic: dict[str, list[int]] = {}
    for k, topic in enumerate(topics):
        by_topic.setdefault(topic, []).append(k)
    counts = dict.fromkeys(FAITHFUL + CORRUPTED, 0)
    out: list[Example] = []
    for k, body in enumerate(bodies):
        others = [j for j in by_topic[topics[k]] if j != k and sentences[j]] or [(k + 1) % len(bodies)]
        values = article_values(body)
        picks = rng.sample(range(len(sentences[k])), min(per_article, len(sentences[k])))
        for p in picks:
            source = sentences[k][p]
            following = sentences[k][p + 1] if p + 1 < len(sentences[k]) else ""
            # The rarest kind this sentence allows, so that each kind is about as common.
            for kind in sorted(counts, key=lambda kind: (counts[kind], rng.random())):
                nearby = [(j, sentences[j]) for j in others[:5]]
                made = _variant(kind, source, following, values, rng, nearby)
                if made is not None:
                    claim, origin = made
                    distractor = rng.choice([j for j in others if j != origin] or [(k + 1) % len(bodies)])
                    out.append(Example(k, kind, claim, kind in FAITHFUL, source, distractor))
                    counts[kind] += 1
                    break
    return out


def _variant(
    kind: str,
    source: str,
    following: str,
    values: dict[str, list[str]],
    rng: random.Random,
    topic: list[tuple[int, list[str]]],
) -> tuple[str, int] | None:
    """A claim of ``kind`` made from ``source``, and the article it came from when not the
    source's (-1)."""
    made: str | None
    if kind == "verbatim":
        made = source
    elif kind == "dropped":
        made = drop_words(source, rng)
    elif kind == "reordered":
        made = reorder(source)
    elif kind == "cut":
        made = cut(source)
    elif kind == "joined":
        made = join(source, following) if following else None
    elif kind == "negation":
        made = flip_negation(source)
    elif kind == "other_article":
        return _nearest(source, topic)
    else:
        made = swap_value(source, kind, values, rng)
    if made is None or (made == source and kind != "verbatim"):
        return None
    return made, -1


def _nearest(source: str, topic: list[tuple[int, list[str]]]) -> tuple[str, int] | None:
    """The sentence of another article on the topic sharing most content stems with ``source``."""
    mine = read(source)
    scored = [(_overlap(mine, read(s)), j, s) for j, sentences in topic for s in sentences[:40]]
    if not scored:
        return None
    score, j, sentence = max(scored)
    return (sentence, j) if score > 0 else None
