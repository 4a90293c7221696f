"""The review step: deterministic checks first, a planner revision only if one fails, then the
deterministic fixes (citations, duplicates, rebalance) that guarantee the budget whatever the
planner returned."""

from __future__ import annotations

from collections.abc import Callable

from chalicelib.core import rules
from chalicelib.core.models import ChapterHit, CourseRequest, PlannedPart, ReviewNotes
from chalicelib.errors import PlanningError

Revise = Callable[[list[PlannedPart], list[str]], list[PlannedPart]]


def review_outline(
    request: CourseRequest, chapters: list[ChapterHit], outline: list[PlannedPart], revise: Revise
) -> tuple[list[PlannedPart], ReviewNotes]:
    failed = rules.check_outline(request, chapters, outline)
    if failed:
        outline = revise(outline, failed)
    if not any(part.sections for part in outline):
        raise PlanningError("the reviewed outline has no sections")
    outline, changes = rules.apply_fixes(request, chapters, outline)
    remaining = rules.check_outline(request, chapters, outline)
    notes = ReviewNotes(failed_checks=failed, changes=changes, revised=bool(failed), remaining=remaining)
    return outline, notes
