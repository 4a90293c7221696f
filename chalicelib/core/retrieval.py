"""What to embed for a request, and which retrieved chapters are relevant enough to plan from."""

from __future__ import annotations

import re

from chalicelib.core.models import ChapterHit

# Words that say "I want a course", not what the course is about. Left in, they pull the query
# towards chapters that happen to talk about learning (e.g. machine *learning*).
_REQUEST_PREFIX = re.compile(
    r"^\s*(?:please\s+)?(?:(?:i\s+want\s+to|help\s+me|teach\s+me(?:\s+about)?|learn(?:\s+about)?|"
    r"understand|master|study|explore|get\s+started\s+with|(?:an?\s+)?(?:intro(?:duction)?|"
    r"course|crash\s+course|primer)\s+(?:to|on|in))\s+)+",
    re.IGNORECASE,
)


def search_text(query: str) -> str:
    """The part of the query that names the subject: 'Learn DCF valuation' -> 'DCF valuation'."""
    stripped = _REQUEST_PREFIX.sub("", query).strip()
    return stripped if len(stripped) >= 2 else query


def select_relevant(hits: list[ChapterHit], relative_floor: float) -> list[ChapterHit]:
    """Keep the chapters whose similarity is within `relative_floor` of the best hit's. An
    absolute threshold alone lets a weakly related tail in (another field's chapter that shares
    a word); the best hit sets the scale for this query. Order is preserved."""
    if not hits:
        return []
    best = max(hit.similarity for hit in hits)
    floor = best * relative_floor
    return [hit for hit in hits if hit.similarity >= floor]
