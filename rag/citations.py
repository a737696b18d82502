"""Citation verification: an answer text with ``[n]`` markers + the passages shown -> a checked ``Answer``.

Input: the text a model (or the extractive answerer) wrote, where ``[n]`` refers to the n-th
passage it was shown, and those passages (exact article spans). Output: an ``Answer`` whose
sentences each carry the claim checker's verdict on the passages they cite (``supported``,
``unsupported`` or ``contradicted``, with a calibrated score and, for a contradiction, what
conflicts), whose citations quote the evidence sentences the checker found (exact article
offsets), numbered 1..N in order of first use, and which lists the numbers that pointed at no
passage shown (``removed_citations``). An uncited sentence that states a fact is unsupported;
with ``drop_unsupported`` such sentences are removed from the answer instead of flagged.
The judging itself is ``rag.verification``'s.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rag.judge import Verifier
from rag.models import Answer, Citation, Conflict, Passage, Sentence, Verdict
from rag.text import sentence_spans
from rag.verification import Evidence, Judgement, checkable

REFUSAL = "The corpus has insufficient information to answer this question."

_NUMBERS = r"\d+(?:\s*(?:,|;|-|–|and)\s*\d+)*"
_BRACKET = r"\[\s*(?:passages?\s*)?{}\s*\]"
ONE_MARKER = re.compile(_BRACKET.format(f"({_NUMBERS})"), re.IGNORECASE)
# "[1], [2] and [3]" is one group: renumbered as a whole, so no stray commas are left behind.
_ANY = _BRACKET.format(_NUMBERS)
MARKER = re.compile(rf"{_ANY}(?:\s*(?:,|;|and)?\s*{_ANY})*", re.IGNORECASE)
# A sentence that says the passages do not answer: about the passages (not "the report did not
# say", which is news), and nothing else in it (no ", but ..." carrying a claim past the check).
_REFUSAL_LIKE = re.compile(
    r"^(?:(?:the|these|those|this|provided|available|given)\s+)*"
    r"(?:corpus|passages?|sources?|articles?|documents?|context|excerpts?|information|texts?)\b[^,;]*?"
    r"(?:insufficient information|not enough information|"
    r"(?:do|does|did) not (?:contain|provide|include|mention|state|specify|say|answer))[^,;]*$"
    r"|^there (?:is|was) (?:insufficient|not enough) information\b[^,;]*$",
    re.IGNORECASE,
)


def is_refusal(text: str) -> bool:
    """Whether a sentence an LLM wrote is a refusal (checked for nothing), not a claim."""
    return bool(_REFUSAL_LIKE.match(MARKER.sub("", text).strip()))


def marker_numbers(body: str) -> list[int]:
    """The numbers inside one marker: "1, 3" -> [1, 3]; "2-4" -> [2, 3, 4]."""
    out: list[int] = []
    for part in re.split(r"\s*(?:,|;|and)\s*", body):
        bounds = re.split(r"\s*[-–]\s*", part.strip())
        if len(bounds) == 2 and bounds[0].isdigit() and bounds[1].isdigit():
            lo, hi = int(bounds[0]), int(bounds[1])
            out.extend(range(lo, hi + 1) if 0 < hi - lo < 20 else [lo, hi])
        elif part.strip().isdigit():
            out.append(int(part))
    return out


def citation(passage: Passage, number: int, start: int, end: int, quote: str, score: float) -> Citation:
    """A citation of ``quote`` == article.text[start:end] within ``passage``."""
    return Citation(
        id=number,
        document_id=passage.document_id,
        title=passage.title,
        source=passage.source,
        author=passage.author,
        published_at=passage.published_at,
        url=passage.url,
        quote=quote,
        start=start,
        end=end,
        score=round(float(score), 4),
    )


@dataclass
class Claim:
    """One sentence of the answer, with where it sits in the text, what it cites and the verdict."""

    start: int
    end: int
    text: str  # markers removed, whitespace collapsed
    cited: list[int] = field(default_factory=list)  # shown-passage numbers, in order
    markers: list[re.Match[str]] = field(default_factory=list)
    verdict: Verdict = "unsupported"
    score: float | None = None
    quotes: dict[int, list[tuple[int, int]]] = field(default_factory=dict)  # shown number -> spans
    conflict: tuple[int, tuple[int, int], dict[str, object]] | None = None  # shown, span, Conflict fields
    removed: list[int] = field(default_factory=list)


class CitationChecker:
    """Verifies an answer's citations against the passages it was written from."""

    def __init__(self, verifier: Verifier) -> None:
        self.verifier = verifier

    def verify(
        self,
        text: str,
        shown: list[Passage],
        *,
        question: str,
        mode: str = "llm",
        drop_unsupported: bool = False,
    ) -> Answer:
        claims = self._claims(text)
        if not claims:
            return Answer(answer=text.strip(), mode=mode, question=question)  # type: ignore[arg-type]
        degraded = self._judge(claims, shown)
        refused = all(is_refusal(c.text) for c in claims)
        kept = [c for c in claims if c.verdict == "supported" or not drop_unsupported]
        if not kept:
            return refusal(question, mode)
        answer = self._assemble(text, claims, kept, shown, question, mode, refused)
        if degraded:
            answer = answer.model_copy(update={"degraded": True, "degraded_reason": degraded})
        return answer

    # --- parsing ------------------------------------------------------------------------
    def _claims(self, text: str) -> list[Claim]:
        claims: list[Claim] = []
        for a, b in sentence_spans(text):
            claims.append(Claim(a, b, ""))
        for match in MARKER.finditer(text):
            owner = next((c for c in claims if c.start <= match.start() < c.end), None)
            if owner is None:
                owner = max((c for c in claims if c.end <= match.start()), key=lambda c: c.end, default=None)
            if owner is None:
                continue
            # "...Russia. [1] The news..." splits with the marker opening the next sentence:
            # a marker before any word of its sentence belongs to the sentence before.
            index = claims.index(owner)
            before = MARKER.sub("", text[owner.start : match.start()])
            if index > 0 and not re.search(r"\w", before):
                owner = claims[index - 1]
            owner.markers.append(match)
            for one in ONE_MARKER.finditer(match.group()):
                owner.cited.extend(n for n in marker_numbers(one.group(1)) if n not in owner.cited)
        out: list[Claim] = []
        for claim in claims:
            body = MARKER.sub("", text[claim.start : claim.end])
            claim.text = re.sub(r"\s+", " ", body).strip()
            claim.text = re.sub(r"\s+([.,;:!?])", r"\1", claim.text)
            if re.search(r"\w", claim.text):
                out.append(claim)
            elif out:  # a sentence made only of markers ("[1].") belongs to the one before
                out[-1].markers.extend(claim.markers)
                out[-1].cited.extend(n for n in claim.cited if n not in out[-1].cited)
        return out

    # --- checking -----------------------------------------------------------------------
    def _judge(self, claims: list[Claim], shown: list[Passage]) -> str | None:
        """Each claim's verdict: a quote of what it cites is supported as it stands; the rest go
        to the verifier together (one embedding run, one LLM call). Returns why the verdicts are
        only the local checker's, when an LLM judge was wanted and failed."""
        asked: list[Claim] = []
        for claim in claims:
            valid = [n for n in claim.cited if 1 <= n <= len(shown)]
            claim.removed = [n for n in claim.cited if n not in valid]
            claim.cited = valid
            if is_refusal(claim.text) or not checkable(claim.text):
                claim.verdict = "supported"  # no checkable fact: a refusal or a connective phrase
            elif not valid:
                claim.verdict = "unsupported"  # a fact that cites nothing
            elif not _quoted(claim, shown):
                asked.append(claim)
        evidence = [[Evidence(shown[n - 1].text, shown[n - 1].start) for n in c.cited] for c in asked]
        checked = self.verifier.check([c.text for c in asked], evidence)
        for claim, judgement in zip(asked, checked.judgements, strict=True):
            _apply_judgement(claim, judgement)
        return checked.degraded_reason

    # --- output -------------------------------------------------------------------------
    def _assemble(
        self,
        text: str,
        claims: list[Claim],
        kept: list[Claim],
        shown: list[Passage],
        question: str,
        mode: str,
        refused: bool,
    ) -> Answer:
        numbering = _Numbering(shown)
        sentences: list[Sentence] = []
        removed: list[int] = []
        replace: list[tuple[int, int, str]] = []  # (start, end, new text) edits of ``text``
        kept_ids = {id(c) for c in kept}
        for claim in claims:
            removed.extend(n for n in claim.removed if n not in removed)
            if id(claim) not in kept_ids:
                # From after any marker the sentence before owns ("use. [1] Dropped...").
                owned = [m.end() for c in claims if c is not claim for m in c.markers]
                start = max([claim.start] + [e for e in owned if claim.start < e <= claim.end])
                replace.append((start, claim.end, ""))
                replace.extend((m.start(), m.end(), "") for m in claim.markers if m.start() >= claim.end)
                continue
            sentences.append(numbering.sentence(claim))
            # All of a sentence's citations are written once, where its first marker was.
            for i, m in enumerate(claim.markers):
                new = "".join(f"[{k}]" for k in sentences[-1].citations) if i == 0 else ""
                replace.append((m.start(), m.end(), new))
        return Answer(
            answer=_apply(text, replace),
            refused=refused,
            mode=mode,  # type: ignore[arg-type]
            sentences=sentences,
            citations=numbering.citations,
            removed_citations=removed,
            question=question,
        )


class _Numbering:
    """Citations numbered 1..N in order of first use; one number per quoted span."""

    def __init__(self, shown: list[Passage]) -> None:
        self.shown = shown
        self.citations: list[Citation] = []
        self._ids: dict[tuple[int, int, int], int] = {}

    def number(self, n: int, start: int, end: int) -> int:
        key = (n, start, end)
        if key not in self._ids:
            self._ids[key] = len(self._ids) + 1
            p = self.shown[n - 1]
            self.citations.append(citation(p, self._ids[key], start, end, _text(p, start, end), p.score))
        return self._ids[key]

    def sentence(self, claim: Claim) -> Sentence:
        numbers: list[int] = []
        for n in claim.cited:
            p = self.shown[n - 1]
            # A cited passage the checker quoted nothing from is quoted whole (shown windows
            # are a sentence or two).
            for start, end in claim.quotes.get(n) or [(p.start, p.end)]:
                k = self.number(n, start, end)
                if k not in numbers:
                    numbers.append(k)
        conflict = None
        if claim.conflict is not None:
            n, (start, end), fields = claim.conflict
            k = self.number(n, start, end)
            numbers += [] if k in numbers else [k]
            conflict = Conflict(**fields, citation=k)  # type: ignore[arg-type]
        score = None if claim.score is None else round(claim.score, 4)
        verdict = claim.verdict
        return Sentence(
            text=claim.text,
            citations=numbers,
            supported=verdict == "supported",
            verdict=verdict,
            score=score,
            conflict=conflict,
        )


def _quoted(claim: Claim, shown: list[Passage]) -> bool:
    """A claim that is word for word in a passage it cites is supported by it as it stands (the
    extractive answer's sentences are): marked so, with that exact quote, and no model run."""
    wanted = " ".join(claim.text.split())
    for n in claim.cited:
        p = shown[n - 1]
        for a, b in sentence_spans(p.text, offset=p.start) or [(p.start, p.end)]:
            if " ".join(_text(p, a, b).split()) == wanted:
                claim.verdict, claim.score, claim.quotes = "supported", 1.0, {n: [(a, b)]}
                return True
    return False


def _apply_judgement(claim: Claim, judgement: Judgement) -> None:
    claim.verdict = judgement.verdict.value  # type: ignore[assignment]
    claim.score = judgement.score
    for span in judgement.spans:
        claim.quotes.setdefault(claim.cited[span.evidence], []).append((span.start, span.end))
    found = judgement.conflict
    if found is not None:
        n = claim.cited[found.evidence.evidence]
        fields = {
            "kind": found.kind,
            "claim_text": found.claim_text,
            "claim_start": found.claim_start,
            "claim_end": found.claim_end,
            "evidence_text": found.evidence_text,
        }
        claim.conflict = (n, (found.evidence.start, found.evidence.end), fields)


def _text(p: Passage, start: int, end: int) -> str:
    return p.text[start - p.start : end - p.start]


def _apply(text: str, edits: list[tuple[int, int, str]]) -> str:
    out, pos = [], 0
    for start, end, new in sorted(edits):
        if start < pos:  # a marker inside a dropped sentence was removed with it
            continue
        out.append(text[pos:start])
        out.append(new)
        pos = end
    out.append(text[pos:])
    joined = "".join(out)
    joined = re.sub(r"[ \t]+([.,;:!?])", r"\1", joined)  # "Russia [1] ." after an emptied marker
    joined = re.sub(r"[ \t]{2,}", " ", joined)
    return re.sub(r"\n{3,}", "\n\n", joined).strip()


def quoted_answer(shown: list[Passage], question: str) -> Answer:
    """An answer made of passage sentences quoted as they are (the extractive answer): each
    sentence cites itself, ``[n]`` for the n-th, and is supported by the quote it is."""
    citations = [citation(p, n, p.start, p.end, p.text, p.score) for n, p in enumerate(shown, start=1)]
    sentences = [
        Sentence(text=" ".join(p.text.split()), citations=[n], supported=True, verdict="supported", score=1.0)
        for n, p in enumerate(shown, start=1)
    ]
    return Answer(
        answer=" ".join(f"{p.text} [{n}]" for n, p in enumerate(shown, start=1)),
        refused=False,  # quotes of articles: a "did not say" in one is news, not a refusal
        mode="extractive",
        sentences=sentences,
        citations=citations,
        question=question,
    )


def refusal(question: str, mode: str = "extractive", reason: str | None = None, **extra: object) -> Answer:
    """The answer given when the passages do not answer the question (and why, when known)."""
    return Answer(
        answer=f"{REFUSAL} {reason}" if reason else REFUSAL,
        refused=True,
        mode=mode,  # type: ignore[arg-type]
        sentences=[Sentence(text=REFUSAL, citations=[], supported=True)],
        question=question,
        **extra,  # type: ignore[arg-type]
    )
