"""Builders of course states for pure-logic tests."""

from __future__ import annotations

from chalicelib.core.models import (
    ChapterHit,
    ChapterRef,
    CourseRequest,
    CourseState,
    PartPlan,
    SectionPlan,
    Status,
)


def a_state(
    status: Status = Status.QUEUED, parts: int = 0, parts_done: int = 0, **changes: object
) -> CourseState:
    part_plans = [PartPlan(title=f"Part {i + 1}", minutes=60, chapters=[]) for i in range(parts)]
    sections = [
        [SectionPlan(title=f"Section {i + 1}", minutes=60, objectives=["Explain x", "Apply y"])]
        for i in range(parts_done)
    ]
    state = CourseState(
        course_id="c-1",
        user_id="u-1",
        request=CourseRequest(query="Learn DCF valuation", hours=parts or 1),
        status=status,
        created_at="2026-01-01T00:00:00.000Z",
        updated_at="2026-01-01T00:00:00.000Z",
        parts=part_plans,
        sections=sections,
    )
    return state.model_copy(update=changes)


def a_hit(book: str = "b1", number: int = 1, similarity: float = 0.8) -> ChapterHit:
    return ChapterHit(
        book_id=book,
        book_title=f"Book {book}",
        chapter_number=number,
        chapter_title=f"Chapter {number}",
        summary="A chapter.",
        topics=["topic"],
        key_concepts=["concept"],
        similarity=similarity,
    )


def a_ref(book: str = "b1", number: int = 1) -> ChapterRef:
    return ChapterRef(book_id=book, chapter_number=number)
