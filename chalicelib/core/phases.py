"""Phase transitions: when each handler's event runs its step, and the state each step leaves.

Pure functions. The registry names one guard per handler; `registry.decide` asks it what to do
with a delivered event, the workflow runs the step's I/O, then calls one `record_*` function to
get the new state and next event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from chalicelib.core.events import Event, EventName, PartDetail, make_event
from chalicelib.core.models import (
    ChapterHit,
    CourseState,
    Failure,
    PartPlan,
    PlannedPart,
    ReviewNotes,
    SectionPlan,
    Status,
)
from chalicelib.errors import NoBooksFound, PlanningError


class Verdict(StrEnum):
    RUN = "run"
    REPUBLISH = "republish"
    IGNORE = "ignore"


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str
    event: Event | None = None  # the event to publish again when verdict is REPUBLISH


def run(reason: str) -> Decision:
    return Decision(Verdict.RUN, reason)


def ignore(reason: str) -> Decision:
    return Decision(Verdict.IGNORE, reason)


def republish(reason: str, event: Event) -> Decision:
    return Decision(Verdict.REPUBLISH, reason, event)


# A guard sees a course that exists and has not failed, and an event its handler consumes. It
# answers RUN when the event is the one the state expects, REPUBLISH (with the event the step
# published) when the step already ran, and None for anything else: a duplicate or stale event.
Guard = Callable[[CourseState, Event], Decision | None]


def search_guard(state: CourseState, event: Event) -> Decision | None:
    if state.status in (Status.QUEUED, Status.SEARCHING):
        return run("search pending")
    if state.status is Status.PLANNING:
        return republish("search already done", make_event(EventName.BOOK_SUMMARIES_FOUND, state.course_id))
    return None


def parts_guard(state: CourseState, event: Event) -> Decision | None:
    if state.status is Status.PLANNING:
        return run("parts pending")
    if state.status is Status.GENERATING_SECTIONS and state.parts_done == 0:
        return republish("parts already planned", make_event(EventName.PARTS_GENERATED, state.course_id))
    return None


def first_part_guard(state: CourseState, event: Event) -> Decision | None:
    if state.status is Status.GENERATING_SECTIONS and state.parts_done == 0:
        return run("first part pending")
    if state.status is Status.GENERATING_SECTIONS and state.parts_done == 1:
        return republish("first part already planned", _sections_event(state.course_id, 0))
    return None


def next_part_guard(state: CourseState, event: Event) -> Decision | None:
    assert isinstance(event.detail, PartDetail)
    k, done = event.detail.part_index, state.parts_done
    if state.status is Status.GENERATING_SECTIONS and done == k + 1:
        return run(f"part {k + 1} of {state.parts_total} done, next step pending")
    if state.status is Status.GENERATING_SECTIONS and done == k + 2:
        return republish(f"part {k + 2} already planned", _sections_event(state.course_id, k + 1))
    if state.status is Status.REVIEWING and k + 1 == state.parts_total:
        return republish(
            "all parts already complete", make_event(EventName.ALL_PARTS_COMPLETE, state.course_id)
        )
    return None


def review_guard(state: CourseState, event: Event) -> Decision | None:
    if state.status is Status.REVIEWING:
        return run("review pending")
    if state.status is Status.STORING:
        return republish("review already done", make_event(EventName.OUTLINE_REVIEW, state.course_id))
    return None


def storage_guard(state: CourseState, event: Event) -> Decision | None:
    if state.status is Status.STORING:
        return run("storage pending")
    if state.status is Status.COMPLETE:
        return republish("course already stored", make_event(EventName.COURSE_STORED, state.course_id))
    return None


def _sections_event(course_id: str, part_index: int) -> Event:
    return make_event(EventName.PART_SECTIONS_GENERATED, course_id, part_index=part_index)


def _advance(state: CourseState, now: str, **changes: object) -> CourseState:
    return state.model_copy(update={**changes, "updated_at": now})


def start_search(state: CourseState, now: str) -> CourseState:
    return _advance(state, now, status=Status.SEARCHING)


def record_hits(state: CourseState, hits: list[ChapterHit], now: str) -> tuple[CourseState, Event]:
    if not hits:
        raise NoBooksFound(
            "no chapter in the library is close enough to the query; load books on this "
            "subject or rephrase the request"
        )
    new = _advance(state, now, status=Status.PLANNING, chapters=hits)
    return new, make_event(EventName.BOOK_SUMMARIES_FOUND, state.course_id)


def record_parts(
    state: CourseState, title: str, parts: list[PartPlan], now: str
) -> tuple[CourseState, Event]:
    if not parts:
        raise PlanningError("the planner returned no parts")
    new = _advance(state, now, status=Status.GENERATING_SECTIONS, title=title, parts=parts, sections=[])
    return new, make_event(EventName.PARTS_GENERATED, state.course_id)


def record_sections(
    state: CourseState, part_index: int, sections: list[SectionPlan], now: str
) -> tuple[CourseState, Event]:
    """Store part `part_index`'s sections. The sections of the last part only lead to the
    announcement of AllPartsComplete by the next step; nothing here reviews or stores."""
    if part_index != state.parts_done:
        raise PlanningError(f"part {part_index} planned out of order (expected {state.parts_done})")
    if not sections:
        raise PlanningError(f"the planner returned no sections for part {part_index + 1}")
    new = _advance(state, now, sections=[*state.sections, sections])
    return new, _sections_event(state.course_id, part_index)


def finish_sections(state: CourseState, now: str) -> tuple[CourseState, Event]:
    new = _advance(state, now, status=Status.REVIEWING)
    return new, make_event(EventName.ALL_PARTS_COMPLETE, state.course_id)


def record_review(
    state: CourseState, reviewed: list[PlannedPart], notes: ReviewNotes, now: str
) -> tuple[CourseState, Event]:
    # The reviewed outline replaces the planned one rather than sitting beside it: one copy of
    # the sections keeps the largest state item (a 40-hour course) within its size target
    # (bench/RESULTS.md, "State and event size").
    new = _advance(state, now, status=Status.STORING, reviewed=reviewed, review=notes, parts=[], sections=[])
    return new, make_event(EventName.OUTLINE_REVIEW, state.course_id)


def record_stored(state: CourseState, now: str) -> tuple[CourseState, Event]:
    new = _advance(state, now, status=Status.COMPLETE)
    return new, make_event(EventName.COURSE_STORED, state.course_id)


def record_failure(state: CourseState, phase: str, reason: str, now: str) -> tuple[CourseState, Event]:
    reason = reason.encode()[:1000].decode(errors="ignore")  # 1,000 bytes keep the event small
    new = _advance(state, now, status=Status.FAILED, error=Failure(phase=phase, reason=reason))
    return new, make_event(EventName.COURSE_FAILED, state.course_id, phase=phase, reason=reason)


def assemble(state: CourseState) -> list[PlannedPart]:
    """The outline as planned so far: each part with its sections."""
    return [
        PlannedPart(title=part.title, minutes=part.minutes, sections=sections)
        for part, sections in zip(state.parts, state.sections, strict=False)
    ]
