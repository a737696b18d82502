"""A why-question's extractive answer holds the reason.

News states an event and its cause in neighbouring sentences as often as in one ("The operator
froze fares. The decision follows a rise in fuel costs."). The answerer ranks sentences by how
closely they match the question, which names the event, so it chose the event's sentence and
left the reason under its floor. When no chosen sentence states a cause, the nearest sentence
beside the best one in its article that does is added after it (docs/retrieval-log.md,
"Why-questions").
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_ASKS_WHY = re.compile(
    r"^\W*(?:why|how\s+come)\b|\bfor\s+what\s+reason\b|"
    r"\bwhat\s+(?:was|were|is|are|has\s+been)\s+(?:the\s+)?(?:main\s+)?(?:reasons?|causes?|motives?)\b|"
    r"\bwhat\s+(?:caused|prompted|led\s+to|triggered|sparked|explains)\b",
    re.IGNORECASE,
)
# "after 12 days", "following two weeks of talks": when, not why.
_NOT_A_TIME = (
    r"(?!\s+(?:\d|an?\s+(?:few|hour|day|week|month|year|decade)|(?:one|two|three|four|five|six|seven|"
    r"eight|nine|ten|several|many|few|months|years|weeks|days|hours)\b))"
)
# Words that introduce a cause or a motive in news prose.
_CAUSE = re.compile(
    r"\b(?:because|due\s+to|owing\s+to|thanks\s+to|as\s+a\s+result|result\s+of|"
    rf"after{_NOT_A_TIME}|following{_NOT_A_TIME}|"
    r"follows|followed|amid|prompted|prompting|led\s+to|leading\s+to|caused|causing|blamed|"
    r"reasons?|in\s+response\s+to|citing|cited|over\s+concerns?|concerns?\s+(?:over|about)|"
    r"so\s+that|in\s+order\s+to|triggered|sparked|fears?\s+(?:of|that|over))\b",
    re.IGNORECASE,
)
NEIGHBOURS = 2  # sentences either side of the best one in which to look for its reason


def asks_why(question: str) -> bool:
    return bool(_ASKS_WHY.search(question))


def states_cause(sentence: str) -> bool:
    return bool(_CAUSE.search(sentence))


def reason_beside(
    question: str, sentences: Sequence[tuple[str, int, str]], chosen: Sequence[int]
) -> int | None:
    """The index of the sentence to add for a why-question, or None.

    ``sentences``: each candidate's (article id, position, text), position being its offset in
    the article; ``chosen``: the indexes chosen so far, best first.
    """
    if not chosen or not asks_why(question) or any(states_cause(sentences[i][2]) for i in chosen):
        return None
    article = sentences[chosen[0]][0]
    same = sorted((pos, i) for i, (doc, pos, _) in enumerate(sentences) if doc == article)
    where = [i for _, i in same].index(chosen[0])
    nearby = [
        (abs(k - where), k > where, i)
        for k, (_, i) in enumerate(same)
        if 0 < abs(k - where) <= NEIGHBOURS and i not in chosen and states_cause(sentences[i][2])
    ]
    if not nearby:
        return None
    # The nearest first; of two as near, the one after (a reason usually follows its event).
    return min(nearby, key=lambda n: (n[0], not n[1]))[2]
