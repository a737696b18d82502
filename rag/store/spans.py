"""Passage spans: what a search returns for a chunk, the chunk grown by whole sentences to the
chunk size, counted in tokens of text.

A chunk is what the index matches a question against; its passage is what a reader, the
answerer and the citations get. SentenceSplitter counts an article's title and outlet against the
chunk size and cuts at sentence ends, so a 256-token chunk holds ~200 tokens of text. Its passage
adds the sentences around it, one on each side in turn, while the text stays within the chunk
size (by the splitter's own tokenizer). With the same chunks chosen, this finds more of the
evidence in the top 10 (docs/retrieval-log.md, "Passages").

LlamaIndex's sentence-window retrieval (SentenceWindowNodeParser with a
MetadataReplacementPostProcessor) does the same by a fixed count of sentences, keeping the
surrounding text in each node's metadata; a count cannot hold a passage to a token budget, and
the text would be stored twice (SQLite and Chroma), so a passage here is two offsets.

Input: an article's text, its chunks' (start, end) offsets, the budget and a token counter.
Output: one (start, end) per chunk, containing it and ending on the sentence boundaries it added.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence

from rag.text import sentence_spans


def token_count(text: str) -> int:
    """Tokens in ``text`` as LlamaIndex's SentenceSplitter counts them (tiktoken cl100k);
    LlamaIndex is imported here, at the first write, not by every reader of the store."""
    from llama_index.core.utils import get_tokenizer

    return len(get_tokenizer()(text))


def passage_spans(
    text: str,
    chunks: Sequence[tuple[int, int]],
    budget: int,
    count: Callable[[str], int] | None = None,
    sentences: Sequence[tuple[int, int]] | None = None,
) -> list[tuple[int, int]]:
    """One (start, end) per chunk of ``text``: it grown by whole sentences (``sentences``, else
    split here) within ``budget`` tokens (``count``: a token counter; default the one
    SentenceSplitter counts with)."""
    count = count or token_count
    spans = sentence_spans(text) if sentences is None else sentences
    starts = [a for a, _ in spans]
    ends = [b for _, b in spans]
    out = []
    for lo, hi in chunks:
        # The nearest sentence beginning before the chunk (one the chunk cuts into comes first,
        # completing it) and the nearest ending after it; a side closes once its next sentence
        # would pass the budget.
        i, j = bisect.bisect_left(starts, lo) - 1, bisect.bisect_right(ends, hi)
        left, right = i >= 0, j < len(ends)
        while left or right:
            if left:
                left = count(text[starts[i] : hi]) <= budget
                if left:
                    lo, i = starts[i], i - 1
                    left = i >= 0
            if right:
                right = count(text[lo : ends[j]]) <= budget
                if right:
                    hi, j = ends[j], j + 1
                    right = j < len(ends)
        out.append((lo, hi))
    return out
