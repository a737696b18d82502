"""Syndicated copies in a summary. A wire story run by several outlets is stored once, with
every outlet that carried it (``rag.feeds``); a summary names those outlets beside each source,
counts them beside each key point and in its coverage, and keeps them apart from independent
reporting: five outlets running one wire story confirm it once.
"""

from __future__ import annotations

from collections import Counter

from rag.summary.models import Summary


def add_copies(summary: Summary, carriers: dict[str, list[str]]) -> None:
    """Fill in the outlets that ran copies of each source (``carriers``: article id -> every
    outlet that carried it), of each point's articles, and the coverage's count of copies."""
    others: dict[str, list[str]] = {}
    for ref in summary.sources:
        own = (ref.source or "").lower()
        others[ref.document_id] = sorted({o for o in carriers.get(ref.document_id, []) if o.lower() != own})
        ref.carried_by = others[ref.document_id]
    doc_of = {c.id: c.document_id for c in summary.citations}
    for point in summary.key_points:
        ran = {o for n in point.citations for o in others.get(doc_of.get(n, ""), [])}
        point.support.copies = len(ran - set(point.outlets))
    summary.coverage.copies = dict(Counter(o for names in others.values() for o in names).most_common())


def one_outlet_gap(outlet: str, summary: Summary) -> str:
    """The gap of coverage from one outlet, naming the outlets that only ran its copies."""
    gap = f"All coverage comes from one outlet ({outlet}); no other outlet confirms it."
    copies = [o for o in summary.coverage.copies if o != outlet]
    if copies:
        gap = (
            f"All coverage comes from one outlet ({outlet}); {', '.join(copies)} only ran copies of "
            "its stories, which confirm nothing on their own."
        )
    return gap
