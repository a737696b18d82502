"""Sentence spans: text -> [(start, end)] character offsets, one per sentence.

Uses NLTK's Punkt English model from the copy LlamaIndex ships (so it works offline); lines
are always sentence boundaries because scraped articles put one paragraph per line.
"""

from __future__ import annotations

import re
from functools import lru_cache

from llama_index.core.utils import GlobalsHelper
from nltk.tokenize.punkt import PunktTokenizer

_LINE = re.compile(r"[^\n]+")


@lru_cache(maxsize=1)
def _punkt() -> PunktTokenizer:
    GlobalsHelper().wait_for_nltk_check()  # puts LlamaIndex's bundled NLTK data on the path
    return PunktTokenizer("english")


def sentence_spans(text: str, offset: int = 0) -> list[tuple[int, int]]:
    """Spans of the sentences in ``text``, shifted by ``offset``; whitespace trimmed."""
    spans: list[tuple[int, int]] = []
    tokenizer = _punkt()
    for line in _LINE.finditer(text):
        for start, end in tokenizer.span_tokenize(line.group()):
            a, b = line.start() + start, line.start() + end
            piece = text[a:b]
            lead = len(piece) - len(piece.lstrip())
            trail = len(piece) - len(piece.rstrip())
            if b - trail > a + lead:
                spans.append((offset + a + lead, offset + b - trail))
    return spans


def split_sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in sentence_spans(text)]
