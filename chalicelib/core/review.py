"""The review step: deterministic checks first, a planner revision only if one fails, then the
deterministic fixes (citations, duplicates, rebalance) that guarantee the budget whatever the
planner returned."""

from __future__ import annotations

from collections.abc import Callable

from chalicelib.core.checks import check_outline
from chalicelib.core.fixes import apply_fixes
from chalicelib.core.models import ChapterHit, CourseRequest, PlannedPart, ReviewNotes
from chalicelib.errors import PlanningError

Revise = Callable[[list[PlannedPart], list[str]], list[PlannedPart]]


def review_outline(
    request: CourseRequest, chapters: list[ChapterHit], outline: list[PlannedPart], revise: Revise
) -> tuple[list[PlannedPart], ReviewNotes]:
    failed = check_outline(request, chapters, outline)
    revision: list[str] = []
    if failed:
        revised = revise(outline, failed)
        revision = [describe_revision(outline, revised)]
        outline = revised
    if not any(part.sections for part in outline):
        raise PlanningError("the reviewed outline has no sections")
    outline, changes = apply_fixes(request, chapters, outline)
    changes = revision + changes
    remaining = check_outline(request, chapters, outline)
    notes = ReviewNotes(failed_checks=failed, changes=changes, revised=bool(failed), remaining=remaining)
    return outline, notes


def describe_revision(before: list[PlannedPart], after: list[PlannedPart]) -> str:
    """One line on what the planner's revision changed, for the review notes."""

    def shape(outline: list[PlannedPart]) -> tuple[int, int, int]:
        sections = [s for part in outline for s in part.sections]
        return len(outline), len(sections), sum(s.minutes for s in sections)

    titles_before = {s.title for part in before for s in part.sections}
    titles_after = {s.title for part in after for s in part.sections}
    (p0, s0, m0), (p1, s1, m1) = shape(before), shape(after)
    return (
        f"revision: parts {p0} → {p1}, sections {s0} → {s1}, minutes {m0} → {m1}; "
        f"{len(titles_before - titles_after)} section titles dropped, "
        f"{len(titles_after - titles_before)} new"
    )
