"""The review step: deterministic checks first, a planner revision only if one fails, then the
final rebalance that guarantees the budget whatever the planner returned."""

from __future__ import annotations

from collections.abc import Callable

from chalicelib.core import rules
from chalicelib.core.models import ChapterHit, CourseRequest, PlannedPart, ReviewNotes
from chalicelib.errors import PlanningError

Revise = Callable[[list[PlannedPart], list[str]], list[PlannedPart]]


def review_outline(
    request: CourseRequest, chapters: list[ChapterHit], outline: list[PlannedPart], revise: Revise
) -> tuple[list[PlannedPart], ReviewNotes]:
    changes: list[str] = []
    outline, dropped = rules.drop_unknown_citations(chapters, outline)
    changes += dropped
    failed = rules.check_outline(request, chapters, outline)
    if failed:
        outline = revise(outline, failed)
        outline, dropped = rules.drop_unknown_citations(chapters, outline)
        changes += dropped
        outline, merged = rules.merge_near_duplicates(outline)
        changes += merged
    if not any(part.sections for part in outline):
        raise PlanningError("the reviewed outline has no sections")
    outline, rebalanced = rules.rebalance(request, outline)
    changes += rebalanced
    remaining = rules.check_outline(request, chapters, outline)
    notes = ReviewNotes(failed_checks=failed, changes=changes, revised=bool(failed), remaining=remaining)
    return outline, notes
