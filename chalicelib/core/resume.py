"""Resuming a failed course: the status it goes back to and the event that runs its failed
phase again, read from what the state already holds (pure; the workflow saves and publishes)."""

from __future__ import annotations

from .events import Event, EventName, make_event
from .models import CourseState, Status
from .phases import parts_events

# How many past failures a state keeps: enough to see a pattern, small enough for the item.
KEPT_FAILURES = 5


def resume_point(state: CourseState) -> tuple[Status, tuple[Event, ...]]:
    """The status and events of the first phase whose work the state lacks. A step saves its
    work only when it succeeds, so that is the phase that failed, whatever it reported."""
    course_id = state.course_id
    if state.reviewed:
        return Status.STORING, (make_event(EventName.OUTLINE_REVIEW, course_id),)
    if state.parts and len(state.sections) >= len(state.parts):
        return Status.REVIEWING, (make_event(EventName.ALL_PARTS_COMPLETE, course_id),)
    if state.parts and state.fan_out:
        # Parts planned at once: announce every part again; a part whose result is written
        # announces itself planned, the others are planned, and the fan-in gathers them.
        return Status.GENERATING_SECTIONS, parts_events(state)
    if state.parts and state.sections:
        part_index = len(state.sections) - 1  # the event announcing the last part planned
        return Status.GENERATING_SECTIONS, (
            make_event(EventName.PART_SECTIONS_GENERATED, course_id, part_index=part_index),
        )
    if state.parts:
        return Status.GENERATING_SECTIONS, (make_event(EventName.PARTS_GENERATED, course_id),)
    if state.chapters:
        return Status.PLANNING, (make_event(EventName.BOOK_SUMMARIES_FOUND, course_id),)
    return Status.QUEUED, (make_event(EventName.EMBEDDING_GENERATED, course_id),)


def resume_failed(state: CourseState, now: str) -> tuple[CourseState, tuple[Event, ...]]:
    """The failed `state` back at the phase that failed, its failure recorded, and the events
    that phase's handler consumes. ValueError if the course has not failed."""
    if state.status is not Status.FAILED:
        raise ValueError(f"course {state.course_id} is {state.status.value}, not failed")
    status, events = resume_point(state)
    past = [*state.past_failures, state.error] if state.error else list(state.past_failures)
    resumed = state.model_copy(
        update={
            "status": status,
            "error": None,
            "updated_at": now,
            "retries": state.retries + 1,
            "past_failures": past[-KEPT_FAILURES:],
        }
    )
    return resumed, events
