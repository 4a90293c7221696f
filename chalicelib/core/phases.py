"""Phase transitions: which event each state expects, and the state each step leaves behind.

Pure functions. The workflow service loads the state, asks `decide` what to do with an event,
runs the step's I/O, then calls one `record_*` function to get the new state and next event.
"""

from __future__ import annotations

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

# The phase name each event's handler reports in logs and failures.
PHASE_OF: dict[EventName, str] = {
    EventName.EMBEDDING_GENERATED: "search",
    EventName.BOOK_SUMMARIES_FOUND: "parts",
    EventName.PARTS_GENERATED: "sections",
    EventName.PART_SECTIONS_GENERATED: "sections",
    EventName.ALL_PARTS_COMPLETE: "review",
    EventName.OUTLINE_REVIEW: "storage",
}


class Verdict(StrEnum):
    RUN = "run"
    REPUBLISH = "republish"
    IGNORE = "ignore"


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str
    event: Event | None = None  # the event to publish again when verdict is REPUBLISH


def _run(reason: str) -> Decision:
    return Decision(Verdict.RUN, reason)


def _ignore(reason: str) -> Decision:
    return Decision(Verdict.IGNORE, reason)


def _republish(reason: str, event: Event) -> Decision:
    return Decision(Verdict.REPUBLISH, reason, event)


def decide(state: CourseState | None, event: Event) -> Decision:
    """Whether `event` is the one `state` expects (RUN), announces a step that already ran but
    whose successor may not have been published (REPUBLISH), or is a duplicate/stale (IGNORE)."""
    if state is None:
        return _ignore("unknown course")
    if state.status is Status.FAILED:
        return _ignore("course already failed")
    course_id, status, done = state.course_id, state.status, state.parts_done
    name = event.name

    if name is EventName.EMBEDDING_GENERATED:
        if status in (Status.QUEUED, Status.SEARCHING):
            return _run("search pending")
        if status is Status.PLANNING:
            return _republish("search already done", make_event(EventName.BOOK_SUMMARIES_FOUND, course_id))
    elif name is EventName.BOOK_SUMMARIES_FOUND:
        if status is Status.PLANNING:
            return _run("parts pending")
        if status is Status.GENERATING_SECTIONS and done == 0:
            return _republish("parts already planned", make_event(EventName.PARTS_GENERATED, course_id))
    elif name is EventName.PARTS_GENERATED:
        if status is Status.GENERATING_SECTIONS and done == 0:
            return _run("first part pending")
        if status is Status.GENERATING_SECTIONS and done == 1:
            return _republish("first part already planned", _sections_event(course_id, 0))
    elif name is EventName.PART_SECTIONS_GENERATED:
        assert isinstance(event.detail, PartDetail)
        k = event.detail.part_index
        if status is Status.GENERATING_SECTIONS and done == k + 1:
            return _run(f"part {k + 1} of {state.parts_total} done, next step pending")
        if status is Status.GENERATING_SECTIONS and done == k + 2:
            return _republish(f"part {k + 2} already planned", _sections_event(course_id, k + 1))
        if status is Status.REVIEWING and k + 1 == state.parts_total:
            return _republish(
                "all parts already complete", make_event(EventName.ALL_PARTS_COMPLETE, course_id)
            )
    elif name is EventName.ALL_PARTS_COMPLETE:
        if status is Status.REVIEWING:
            return _run("review pending")
        if status is Status.STORING:
            return _republish("review already done", make_event(EventName.OUTLINE_REVIEW, course_id))
    elif name is EventName.OUTLINE_REVIEW:
        if status is Status.STORING:
            return _run("storage pending")
        if status is Status.COMPLETE:
            return _republish("course already stored", make_event(EventName.COURSE_STORED, course_id))
    return _ignore(f"duplicate or stale: course is {status.value} with {done}/{state.parts_total} parts")


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
