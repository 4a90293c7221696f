"""Phase transitions: when each handler's event runs its step, and the state each step leaves.

Pure functions. The registry names one guard per handler; `registry.decide` asks it what to do
with a delivered event, the workflow runs the step's I/O, then calls one `record_*` function to
get the new state and next event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from ..errors import NoBooksFound, PlanningError
from .events import Event, EventName, PartDetail, make_event
from .models import (
    ChapterHit,
    CourseState,
    Failure,
    PartPlan,
    PartResult,
    PlannedPart,
    ReviewNotes,
    SectionPlan,
    Status,
    TokenUsage,
)


class Verdict(StrEnum):
    RUN = "run"
    REPUBLISH = "republish"
    IGNORE = "ignore"


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str
    events: tuple[Event, ...] = ()  # the events to publish again when verdict is REPUBLISH

    @property
    def event(self) -> Event | None:
        """The first event to publish again (most steps publish one)."""
        return self.events[0] if self.events else None


def run(reason: str) -> Decision:
    return Decision(Verdict.RUN, reason)


def ignore(reason: str) -> Decision:
    return Decision(Verdict.IGNORE, reason)


def republish(reason: str, *events: Event) -> Decision:
    return Decision(Verdict.REPUBLISH, reason, events)


@dataclass(frozen=True)
class PartWritten:
    """What the step of one part leaves when sections are planned in parallel: the part's result,
    written beside the course state (never over another part's), and the event announcing it."""

    course_id: str
    part_index: int
    result: PartResult
    event: Event


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
        return republish("parts already planned", *parts_events(state))
    return None


def parts_events(state: CourseState) -> tuple[Event, ...]:
    """What the parts step announces: PartsGenerated, or one PartsGenerated per part (with its
    index) when the parts' sections are planned in parallel."""
    if not state.fan_out:
        return (make_event(EventName.PARTS_GENERATED, state.course_id),)
    return tuple(
        make_event(EventName.PARTS_GENERATED, state.course_id, part_index=k) for k in range(state.parts_total)
    )


def first_part_guard(state: CourseState, event: Event) -> Decision | None:
    k = event.part_index
    if state.fan_out:
        return None if k is None else _part_guard(state, k)
    if k is not None:
        return None  # a parallel event for a course planned one part after another
    if state.status is Status.GENERATING_SECTIONS and state.parts_done == 0:
        return run("first part pending")
    if state.status is Status.GENERATING_SECTIONS and state.parts_done == 1:
        return republish("first part already planned", _sections_event(state.course_id, 0))
    return None


def _part_guard(state: CourseState, k: int) -> Decision | None:
    """PartsGenerated(k) of a course whose parts are planned in parallel: plan part k unless its
    result is written (then announce it again). Once the fan-in ran, nothing is left to do."""
    if state.status is not Status.GENERATING_SECTIONS or k >= state.parts_total:
        return None
    if k in state.planned:
        return republish(f"part {k + 1} already planned", _sections_event(state.course_id, k))
    return run(f"part {k + 1} of {state.parts_total} pending")


def all_planned(state: CourseState) -> bool:
    return all(k in state.planned for k in range(state.parts_total))


def _fan_in_guard(state: CourseState, k: int) -> Decision | None:
    """PartSectionsGenerated(k) of a course whose parts are planned in parallel. The delivery that
    finds every part written gathers them; when two find it at once, the conditional write of
    the state lets one win. After the fan-in, only the winner's event is answered again (its
    AllPartsComplete may have been lost), so AllPartsComplete is announced once per fan-in."""
    if state.status is Status.GENERATING_SECTIONS and all_planned(state):
        return run(f"part {k + 1} landed last: every part is planned")
    if state.status is Status.GENERATING_SECTIONS:
        waiting = state.parts_total - sum(j in state.planned for j in range(state.parts_total))
        return ignore(f"part {k + 1} landed; {waiting} of {state.parts_total} parts still planned")
    if state.status is Status.REVIEWING and state.fan_in_part == k:
        return republish(
            "all parts already complete", make_event(EventName.ALL_PARTS_COMPLETE, state.course_id)
        )
    return None


def next_part_guard(state: CourseState, event: Event) -> Decision | None:
    assert isinstance(event.detail, PartDetail)
    if state.fan_out:
        return _fan_in_guard(state, event.detail.part_index)
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
    # A step's write is progress: the watchdog's count of redrives without it starts again.
    return state.model_copy(update={**changes, "updated_at": now, "redrives": 0})


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
    state: CourseState, title: str, parts: list[PartPlan], now: str, fan_out: bool = False
) -> tuple[CourseState, tuple[Event, ...]]:
    """The parts, and the events asking for their sections: one for part 1 (then each part's
    step asks for the next), or with `fan_out` one per part, all planned at once."""
    if not parts:
        raise PlanningError("the planner returned no parts")
    new = _advance(
        state,
        now,
        status=Status.GENERATING_SECTIONS,
        title=title,
        parts=parts,
        sections=[],
        fan_out=fan_out,
        fan_in_part=None,
    )
    return new, parts_events(new)


def record_part(
    state: CourseState, part_index: int, sections: list[SectionPlan], usage: TokenUsage
) -> PartWritten:
    """Part `part_index`'s sections, planned by a delivery of its own (parallel sections)."""
    if not 0 <= part_index < state.parts_total:
        raise PlanningError(f"part {part_index + 1} is not one of the {state.parts_total} parts")
    if not sections:
        raise PlanningError(f"the planner returned no sections for part {part_index + 1}")
    result = PartResult(sections=sections, usage=usage)
    return PartWritten(state.course_id, part_index, result, _sections_event(state.course_id, part_index))


def fan_in(state: CourseState, part_index: int, now: str) -> tuple[CourseState, Event]:
    """Every part is planned: gather the parts' sections and tokens into the state, in part order,
    and hand over to review. `part_index` is the part whose delivery found them all."""
    if not all_planned(state):
        raise PlanningError("the fan-in ran before every part was planned")
    results = [state.planned[k] for k in range(state.parts_total)]
    usage = state.usage
    for result in results:
        usage = usage.plus(result.usage)
    new = _advance(
        state,
        now,
        status=Status.REVIEWING,
        sections=[result.sections for result in results],
        usage=usage,
        fan_in_part=part_index,
        planned={},
    )
    return new, make_event(EventName.ALL_PARTS_COMPLETE, state.course_id)


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
