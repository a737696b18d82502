"""robots.txt rules for one site, read the way RFC 9309 says.

``urllib.robotparser`` does the parsing and matching; this module decides what a robots.txt
answer means: 2xx is parsed, 4xx (no file) allows everything, 5xx, 429 (which asks to slow
down, not "absent") or an unreachable site disallows everything for the rest of the run.
Known limit of the stdlib parser: it applies the first matching rule in file order, where the
RFC wants the longest match; sites rarely depend on the difference.
"""

from __future__ import annotations

from urllib.robotparser import RobotFileParser

# RFC 9309 §2.5: crawlers must parse at least the first 500 KiB; the rest may be ignored.
ROBOTS_MAX_BYTES = 512 * 1024


def rules_from_response(status: int | None, body: bytes) -> RobotFileParser:
    """Rules for a robots.txt answer: ``status`` None means the site could not be reached."""
    rules = RobotFileParser()
    if status is not None and 200 <= status < 300:
        rules.parse(body.decode("utf-8", errors="replace").splitlines())
    elif status is not None and 400 <= status < 500 and status != 429:
        rules.parse([])  # no rules: everything allowed
    else:
        rules.parse(["User-agent: *", "Disallow: /"])
    return rules


def product_token(user_agent: str) -> str:
    """The name robots.txt groups match against: ``rag-news`` of ``rag-news/0.1 (+...)``."""
    return user_agent.split("/", 1)[0].split(" ", 1)[0].strip() or user_agent


def crawl_delay(rules: RobotFileParser, user_agent: str) -> float | None:
    """The site's ``Crawl-delay`` for us, in seconds (a widespread extension the RFC omits)."""
    delay = rules.crawl_delay(product_token(user_agent))
    try:
        return float(delay) if delay is not None else None
    except (TypeError, ValueError):
        return None
