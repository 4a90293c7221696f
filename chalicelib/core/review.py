"""The review step: deterministic checks first, a planner revision only if one fails, then the
deterministic fixes and repairs that make the outline keep every rule whatever the planner
returned. An outline that still fails a check is never passed on: the course fails."""

from __future__ import annotations

from collections.abc import Callable

from ..errors import PlanningError
from .checks import check_outline
from .fixes import FIX_ROUNDS, WriteObjectives, apply_fixes, repair_sections
from .models import ChapterHit, CourseRequest, PlannedPart, ReviewNotes

Revise = Callable[[list[PlannedPart], list[str]], list[PlannedPart]]

SHOWN_FAILURES = 3  # the checks a failed review names in its reason; the rest are counted


def review_outline(
    request: CourseRequest,
    chapters: list[ChapterHit],
    outline: list[PlannedPart],
    revise: Revise,
    write: WriteObjectives,
) -> tuple[list[PlannedPart], ReviewNotes]:
    """The reviewed outline, which passes every check, and what the review found and changed.
    `write` supplies objectives for a section whose own cannot be repaired by cutting them.
    Raises PlanningError, naming the failing checks, when no repair makes the outline pass."""
    failed = check_outline(request, chapters, outline)
    revision: list[str] = []
    if failed:
        revised = revise(outline, failed)
        revision = [describe_revision(outline, revised)]
        outline = revised
    if not any(part.sections for part in outline):
        raise PlanningError("the reviewed outline has no sections")
    # Repair before the fixes, so merges and splits copy sound sections, and again after them,
    # since a merge of two sound sections can hold objectives that no longer keep the depth rule.
    outline, changes = repair_sections(request, chapters, outline, write)
    for _ in range(FIX_ROUNDS):
        outline, fixed = apply_fixes(request, chapters, outline)
        outline, repaired = repair_sections(request, chapters, outline, write)
        changes += fixed + repaired
        if not repaired:
            break
    remaining = check_outline(request, chapters, outline)
    if remaining:
        raise PlanningError(describe_failure(remaining))
    notes = ReviewNotes(failed_checks=failed, changes=revision + changes, revised=bool(failed))
    return outline, notes


def describe_failure(remaining: list[str]) -> str:
    """Why the review refuses an outline: the checks it still fails, the first few by name."""
    shown = "; ".join(remaining[:SHOWN_FAILURES])
    more = len(remaining) - SHOWN_FAILURES
    return f"the outline still fails {len(remaining)} check(s) after review and repair: {shown}" + (
        f"; and {more} more" if more > 0 else ""
    )


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
