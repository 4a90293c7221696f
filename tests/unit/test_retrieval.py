"""The query text that gets embedded, and the relevance cut after vector search."""

from __future__ import annotations

import pytest

from chalicelib.core.retrieval import search_text, select_relevant
from tests.support.factories import a_hit


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Learn DCF valuation", "DCF valuation"),
        ("learn about the CAPM", "the CAPM"),
        ("Teach me SQL joins", "SQL joins"),
        ("Please help me understand bond pricing", "bond pricing"),
        ("An introduction to serverless design", "serverless design"),
        ("Crash course on negotiation", "negotiation"),
        ("Machine learning basics", "Machine learning basics"),  # "learning" here is the subject
        ("Learn", "Learn"),  # nothing would be left: keep the query as it is
    ],
)
def test_the_request_wording_is_stripped_and_the_subject_kept(query: str, expected: str) -> None:
    assert search_text(query) == expected


def test_hits_far_below_the_best_one_are_dropped_in_order() -> None:
    hits = [a_hit("b", 1, 0.5), a_hit("b", 2, 0.2), a_hit("c", 1, 0.36), a_hit("c", 2, 0.34)]
    kept = select_relevant(hits, relative_floor=0.7)
    assert [(h.book_id, h.chapter_number) for h in kept] == [("b", 1), ("c", 1)]


def test_a_floor_of_zero_keeps_everything_and_no_hits_stay_no_hits() -> None:
    hits = [a_hit("b", 1, 0.5), a_hit("b", 2, 0.01)]
    assert select_relevant(hits, 0.0) == hits
    assert select_relevant([], 0.7) == []
