"""Turns a reviewed course state into the stable outline format (docs/formats.md#the-outline)."""

from __future__ import annotations

from .models import (
    CourseState,
    Outline,
    OutlinePart,
    OutlineSection,
    SectionPlan,
    SourceCitation,
)


def _citations(state: CourseState, section: SectionPlan) -> list[SourceCitation]:
    citations = []
    for ref in section.sources:
        hit = state.chapter(ref)
        if hit is not None:  # the reviewer already dropped unknown ids; never invent a source
            citations.append(
                SourceCitation(
                    book_id=hit.book_id,
                    book_title=hit.book_title,
                    chapter_number=hit.chapter_number,
                    chapter_title=hit.chapter_title,
                )
            )
    return citations


def build_outline(state: CourseState) -> Outline:
    parts = [
        OutlinePart(
            title=part.title,
            minutes=part.minutes,
            sections=[
                OutlineSection(
                    title=section.title,
                    minutes=section.minutes,
                    objectives=list(section.objectives),
                    sources=_citations(state, section),
                )
                for section in part.sections
            ],
        )
        for part in state.reviewed
    ]
    return Outline(
        course_id=state.course_id,
        title=state.title or state.request.query,
        query=state.request.query,
        hours=float(state.request.hours),
        preferences=state.request.preferences,
        total_minutes=sum(section.minutes for part in parts for section in part.sections),
        parts=parts,
        usage=state.usage,
    )
