"""The claim checker: does the evidence support each sentence of a text, contradict it, or
neither? ``ClaimChecker.check`` judges claims against evidence texts; ``checkable`` says whether a
sentence states anything to check. How it works and how well: docs/verification.md."""

from rag.verification.checker import ClaimChecker
from rag.verification.claims import checkable
from rag.verification.types import Conflict, Evidence, Judgement, Span, Verdict

__all__ = ["ClaimChecker", "Conflict", "Evidence", "Judgement", "Span", "Verdict", "checkable"]
