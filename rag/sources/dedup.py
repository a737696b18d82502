"""Near-duplicate stories: one wire story carried by several outlets, or a page re-published
under a new headline, is recognised so it can be stored once.

Each text becomes a set of word shingles (lower-cased words, punctuation dropped, ``SHINGLE_WORDS``
in a row), summarised by a datasketch ``MinHash``; a ``MinHashLSH`` index finds candidates
and each is verified by its estimated Jaccard similarity, or, for a copy cut short, by the share
of the new text that the stored one holds. Measured with ``benchmarks/dedup.py`` (copies of
MultiHop-RAG articles; other articles, some on the same event, as negatives): 5-word shingles
and these thresholds find 97-100% of edited copies with no false match, while weekly columns
that share a template intro reach a Jaccard of 0.39 at wire-story length: folding a different
story loses it, so the thresholds keep a margin above that rather than chase the last copies.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from datasketch import LeanMinHash, MinHash, MinHashLSH

from rag.errors import BadInput
from rag.text import words

SHINGLE_WORDS = 5
NUM_PERM = 128
THRESHOLD = 0.5  # estimated Jaccard similarity at and above which two texts are one story
CONTAINMENT = 0.7  # or: this share of the new text's shingles is in the stored one (a cut copy)
MIN_SHINGLES = 20  # texts shorter than this are never called duplicates: too little evidence
_SEED = 1
_SCHEME = "affine32"  # named, so a datasketch release with a new default cannot change stored sigs
_FORMAT = 1
_HEADER = struct.Struct("<BBI")  # format version, shingle size, number of distinct shingles


@dataclass(frozen=True)
class Signature:
    """The MinHash of one text, plus what is needed to compare and store it."""

    minhash: LeanMinHash
    shingles: int  # distinct shingles in the text
    shingle_words: int = SHINGLE_WORDS

    def jaccard(self, other: Signature) -> float:
        return float(self.minhash.jaccard(other.minhash))

    def containment(self, other: Signature) -> float:
        """Estimated share of this text's shingles that ``other`` also has. From the Jaccard
        estimate and the two set sizes: |A ∩ B| = J (|A| + |B|) / (1 + J)."""
        if not self.shingles:
            return 0.0
        jaccard = self.jaccard(other)
        return min(1.0, jaccard * (self.shingles + other.shingles) / (1 + jaccard) / self.shingles)

    def to_bytes(self) -> bytes:
        """A compact, portable form (little-endian; about 530 bytes) for a database column."""
        buffer = bytearray(self.minhash.bytesize(byteorder="<"))
        self.minhash.serialize(buffer, byteorder="<")
        return _HEADER.pack(_FORMAT, self.shingle_words, self.shingles) + bytes(buffer)

    @classmethod
    def from_bytes(cls, data: bytes) -> Signature:
        try:
            version, shingle_words, shingles = _HEADER.unpack_from(data)
            minhash = LeanMinHash.deserialize(data[_HEADER.size :], byteorder="<")
        except (struct.error, ValueError) as exc:
            raise BadInput(f"not a stored duplicate signature ({exc})") from exc
        if version != _FORMAT:
            raise BadInput(f"duplicate signature format {version} is not {_FORMAT}; recompute it")
        return cls(minhash=minhash, shingles=shingles, shingle_words=shingle_words)

    def to_json(self) -> str:
        return base64.b64encode(self.to_bytes()).decode("ascii")

    @classmethod
    def from_json(cls, text: str) -> Signature:
        try:
            return cls.from_bytes(base64.b64decode(text, validate=True))
        except ValueError as exc:
            raise BadInput(f"not a stored duplicate signature ({exc})") from exc


def shingles(text: str, size: int = SHINGLE_WORDS) -> set[bytes]:
    """The text's runs of ``size`` words (``rag.text.words``: lower-case, no punctuation)."""
    tokens = words(text)
    if len(tokens) <= size:
        return {" ".join(tokens).encode()} if tokens else set()
    return {" ".join(tokens[i : i + size]).encode() for i in range(len(tokens) - size + 1)}


@lru_cache(maxsize=4)
def _template(num_perm: int) -> MinHash:
    # Drawing the permutations is a good share of a MinHash's cost; every one shares them.
    return MinHash(num_perm=num_perm, seed=_SEED, scheme=_SCHEME)


def signature(text: str, shingle_words: int = SHINGLE_WORDS, num_perm: int = NUM_PERM) -> Signature:
    """The signature of ``text``, to store with the article and to query the index with."""
    template = _template(num_perm)
    minhash = MinHash(num_perm=num_perm, seed=_SEED, scheme=_SCHEME, permutations=template.permutations)
    found = shingles(text, shingle_words)
    minhash.update_batch(found)
    return Signature(LeanMinHash(minhash), shingles=len(found), shingle_words=shingle_words)


@dataclass(frozen=True)
class Match:
    article_id: str
    similarity: float  # estimated Jaccard similarity
    containment: float  # estimated share of the queried text held by the stored article


class DuplicateIndex:
    """The signatures of stored articles, searchable for near-duplicates. Not thread-safe:
    use it from one thread (ingest) or under a lock."""

    def __init__(
        self,
        threshold: float = THRESHOLD,
        containment: float = CONTAINMENT,
        shingle_words: int = SHINGLE_WORDS,
        num_perm: int = NUM_PERM,
    ) -> None:
        self.threshold = threshold
        self.containment = containment
        self.shingle_words = shingle_words
        self.num_perm = num_perm
        # The LSH only proposes candidates; it is tuned lower than the verification threshold so
        # that pairs just above the threshold (and trimmed copies) are not missed.
        self._lsh = MinHashLSH(threshold=_lsh_threshold(threshold, containment), num_perm=num_perm)
        self._signatures: dict[str, Signature] = {}

    @classmethod
    def from_signatures(
        cls,
        stored: Iterable[tuple[str, Signature | bytes]],
        threshold: float = THRESHOLD,
        containment: float = CONTAINMENT,
    ) -> DuplicateIndex:
        """An index of stored ``(article_id, signature)`` pairs (``Signature`` or its bytes)."""
        index = cls(threshold, containment)
        for article_id, sig in stored:
            index.add(article_id, Signature.from_bytes(sig) if isinstance(sig, bytes) else sig)
        return index

    def __len__(self) -> int:
        return len(self._signatures)

    def __contains__(self, article_id: object) -> bool:
        return article_id in self._signatures

    def signature(self, text: str) -> Signature:
        return signature(text, self.shingle_words, self.num_perm)

    def add(self, article_id: str, text: str | Signature) -> Signature:
        """Index an article (again: an updated article replaces its earlier signature)."""
        sig = self._signature_of(text)
        self.remove(article_id)
        self._lsh.insert(article_id, sig.minhash)
        self._signatures[article_id] = sig
        return sig

    def remove(self, article_id: str) -> None:
        if self._signatures.pop(article_id, None) is not None:
            self._lsh.remove(article_id)

    def find(self, text: str | Signature) -> str | None:
        """The id of the stored article ``text`` is a near-duplicate of, or None."""
        found = self.match(text)
        return found.article_id if found else None

    def match(self, text: str | Signature, exclude: str | None = None) -> Match | None:
        """The best near-duplicate of ``text`` among stored articles (other than ``exclude``)."""
        sig = self._signature_of(text)
        if sig.shingles < MIN_SHINGLES:
            return None
        best: Match | None = None
        for candidate in self._lsh.query(sig.minhash):
            stored = self._signatures[candidate]
            if candidate == exclude or stored.shingles < MIN_SHINGLES:
                continue
            found = Match(candidate, sig.jaccard(stored), sig.containment(stored))
            if found.similarity < self.threshold and found.containment < self.containment:
                continue
            if best is None or (found.similarity, found.containment) > (best.similarity, best.containment):
                best = found
        return best

    def _signature_of(self, text: str | Signature) -> Signature:
        if isinstance(text, str):
            return self.signature(text)
        if text.shingle_words != self.shingle_words or len(text.minhash) != self.num_perm:
            raise BadInput(
                f"signature made with {text.shingle_words}-word shingles and {len(text.minhash)} "
                f"permutations, the index uses {self.shingle_words} and {self.num_perm}; recompute it"
            )
        return text


def _lsh_threshold(threshold: float, containment: float) -> float:
    """The Jaccard from which the LSH should propose candidates. A copy with ``containment`` of
    its text in an original twice its length has a Jaccard of containment / (3 - containment)
    (0.3 for 0.7); a little below that, so estimation noise does not hide it."""
    return max(0.1, min(threshold, containment / (3 - containment)) - 0.05)
