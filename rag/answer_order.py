"""Which sentence leads an extractive answer.

The answerer ranks sentences by how closely they match the question, so a question asking for an
entity ("Who is the founder accused of ...?", "Which company ...?") often led with a sentence
that matches its description and names the entity in passing ("... Bankman-Fried said"), while
a later sentence names it in full. When the chosen sentences keep returning to one name the
question does not hold, that name is the likely answer, and the sentence naming it most fully
leads (docs/performance-log.md, "The sentence that answers first"). Only the order changes:
the same sentences, each citing itself.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from rag.text import name_runs, name_tokens

# A question whose answer is an entity: who/which, or "what <kind>" naming a kind of entity.
_SEEKS_ENTITY = re.compile(
    r"^\W*(?:who|whom|whose|which)\b|^\W*what\s+(?:[\w-]+\s+){0,2}?"
    r"(?:company|companies|organi[sz]ation|entity|country|person|individual|team|firm|"
    r"institution|group|player|brand|platform|city|agency|nation|figure|outlet|network|club)\b",
    re.IGNORECASE,
)


def seeks_entity(question: str) -> bool:
    return bool(_SEEKS_ENTITY.search(question))


def lead_index(question: str, sentences: Sequence[str]) -> int:
    """The index of the sentence to put first (0 keeps the answerer's order)."""
    if len(sentences) < 2 or not seeks_entity(question):
        return 0
    # A word also written in lower case ("police said") is a common word opening a sentence.
    asked = name_tokens(question)
    common = {w for s in sentences for w in re.findall(r"\b[a-z][\w'-]*", s)}
    runs = [[run for run in name_runs(s) if any(w not in asked for w in run)] for s in sentences]
    mentions = Counter(w for found in runs for w in {w for run in found for w in run} - asked - common)
    if not mentions:
        return 0
    answer, count = mentions.most_common(1)[0]
    if count < 2:  # a name only one sentence holds is no sign of what is asked for
        return 0
    fullest = [max((len(run) for run in found if answer in run), default=0) for found in runs]
    return max(range(len(sentences)), key=lambda i: (fullest[i], -i))
