"""Which event each state accepts, which it treats as already handled, and which it ignores
(registry.decide asking the guards of core.phases), and the states the steps leave."""

from __future__ import annotations

import pytest

from chalicelib.core import phases
from chalicelib.core.events import Event, EventName, make_event
from chalicelib.core.models import CourseState, PartPlan, PartResult, SectionPlan, Status, TokenUsage
from chalicelib.core.phases import Verdict
from chalicelib.core.registry import BY_EVENT, decide
from chalicelib.errors import NoBooksFound, PlanningError
from tests.support.factories import a_hit, a_state

E = EventName


def ev(name: EventName, part_index: int | None = None) -> Event:
    fields: dict[str, int] = {} if part_index is None else {"part_index": part_index}
    return make_event(name, "c-1", **fields)


def test_an_event_for_an_unknown_course_is_ignored() -> None:
    assert decide(None, ev(E.EMBEDDING_GENERATED)).verdict is Verdict.IGNORE


@pytest.mark.parametrize(
    ("state", "event"),
    [
        (a_state(Status.QUEUED), ev(E.EMBEDDING_GENERATED)),
        (a_state(Status.SEARCHING), ev(E.EMBEDDING_GENERATED)),  # a crash after "searching" was saved
        (a_state(Status.PLANNING), ev(E.BOOK_SUMMARIES_FOUND)),
        (a_state(Status.GENERATING_SECTIONS, parts=3), ev(E.PARTS_GENERATED)),
        (a_state(Status.GENERATING_SECTIONS, parts=3, parts_done=1), ev(E.PART_SECTIONS_GENERATED, 0)),
        (a_state(Status.GENERATING_SECTIONS, parts=3, parts_done=3), ev(E.PART_SECTIONS_GENERATED, 2)),
        (a_state(Status.REVIEWING, parts=2, parts_done=2), ev(E.ALL_PARTS_COMPLETE)),
        (a_state(Status.STORING, parts=2, parts_done=2), ev(E.OUTLINE_REVIEW)),
    ],
)
def test_the_event_a_state_expects_runs_its_step(state: CourseState, event: Event) -> None:
    assert decide(state, event).verdict is Verdict.RUN


@pytest.mark.parametrize(
    ("state", "event", "republished"),
    [
        (a_state(Status.PLANNING), ev(E.EMBEDDING_GENERATED), ev(E.BOOK_SUMMARIES_FOUND)),
        (a_state(Status.GENERATING_SECTIONS, parts=2), ev(E.BOOK_SUMMARIES_FOUND), ev(E.PARTS_GENERATED)),
        (
            a_state(Status.GENERATING_SECTIONS, parts=2, parts_done=1),
            ev(E.PARTS_GENERATED),
            ev(E.PART_SECTIONS_GENERATED, 0),
        ),
        (
            a_state(Status.GENERATING_SECTIONS, parts=3, parts_done=2),
            ev(E.PART_SECTIONS_GENERATED, 0),
            ev(E.PART_SECTIONS_GENERATED, 1),
        ),
        (
            a_state(Status.REVIEWING, parts=2, parts_done=2),
            ev(E.PART_SECTIONS_GENERATED, 1),
            ev(E.ALL_PARTS_COMPLETE),
        ),
        (a_state(Status.STORING, parts=2, parts_done=2), ev(E.ALL_PARTS_COMPLETE), ev(E.OUTLINE_REVIEW)),
        # Stored, then a crash before CourseStored left: the redelivery announces it.
        (a_state(Status.COMPLETE, parts=2, parts_done=2), ev(E.OUTLINE_REVIEW), ev(E.COURSE_STORED)),
    ],
)
def test_a_redelivered_event_whose_step_ran_publishes_the_next_event_again(
    state: CourseState, event: Event, republished: Event
) -> None:
    decision = decide(state, event)
    assert decision.verdict is Verdict.REPUBLISH
    assert decision.event == republished
    assert republished.name in BY_EVENT[event.name].publishes


@pytest.mark.parametrize(
    ("state", "event"),
    [
        # far behind the state: the next step already acted, so nothing is stalled
        (a_state(Status.GENERATING_SECTIONS, parts=3, parts_done=2), ev(E.EMBEDDING_GENERATED)),
        (a_state(Status.COMPLETE, parts=2, parts_done=2), ev(E.ALL_PARTS_COMPLETE)),
        (a_state(Status.GENERATING_SECTIONS, parts=4, parts_done=3), ev(E.PART_SECTIONS_GENERATED, 0)),
        # ahead of the state (out of order): part 3 announced before part 2 exists
        (a_state(Status.GENERATING_SECTIONS, parts=4, parts_done=1), ev(E.PART_SECTIONS_GENERATED, 2)),
        (a_state(Status.QUEUED), ev(E.ALL_PARTS_COMPLETE)),
        (a_state(Status.PLANNING), ev(E.OUTLINE_REVIEW)),
        (a_state(Status.GENERATING_SECTIONS, parts=2, parts_done=1), ev(E.ALL_PARTS_COMPLETE)),
        # a failed course takes nothing more
        (a_state(Status.FAILED), ev(E.EMBEDDING_GENERATED)),
        (a_state(Status.FAILED, parts=2, parts_done=2), ev(E.OUTLINE_REVIEW)),
    ],
)
def test_a_duplicate_stale_or_out_of_order_event_is_ignored(state: CourseState, event: Event) -> None:
    assert decide(state, event).verdict is Verdict.IGNORE


def test_no_search_hits_is_a_permanent_failure_with_a_readable_reason() -> None:
    with pytest.raises(NoBooksFound, match="no chapter in the library"):
        phases.record_hits(a_state(Status.SEARCHING), [], "t")


def test_search_hits_move_the_course_to_planning_and_announce_book_summaries() -> None:
    state, event = phases.record_hits(a_state(Status.SEARCHING), [a_hit()], "t1")
    assert state.status is Status.PLANNING and state.updated_at == "t1"
    assert event == ev(E.BOOK_SUMMARIES_FOUND)


def test_sections_are_recorded_only_for_the_next_part_in_order() -> None:
    state = a_state(Status.GENERATING_SECTIONS, parts=3, parts_done=1)
    with pytest.raises(PlanningError, match="out of order"):
        phases.record_sections(state, 2, list(state.sections[0]), "t")
    new, event = phases.record_sections(state, 1, list(state.sections[0]), "t")
    assert new.parts_done == 2 and event == ev(E.PART_SECTIONS_GENERATED, 1)


def test_a_failure_records_phase_and_reason_and_announces_course_failed() -> None:
    state, event = phases.record_failure(a_state(Status.PLANNING), "parts", "model said no", "t")
    assert state.status is Status.FAILED
    assert state.error is not None and (state.error.phase, state.error.reason) == ("parts", "model said no")
    assert event.name is E.COURSE_FAILED
    assert event.detail_json() == {"course_id": "c-1", "phase": "parts", "reason": "model said no"}


def test_events_carry_ids_not_data() -> None:
    for name in EventName:
        fields: dict[str, object] = {"part_index": 3} if name is E.PART_SECTIONS_GENERATED else {}
        if name is E.COURSE_FAILED:
            fields = {"phase": "review", "reason": "x" * 1000}
        detail = make_event(name, "c" * 32, **fields).detail_json()
        assert len(str(detail).encode()) < 1200


# --- parallel sections: one delivery per part, and a fan-in --------------------------------------


def a_section(title: str) -> SectionPlan:
    return SectionPlan(title=title, minutes=60, objectives=["Explain x", "Apply y"])


def fanned(
    status: Status = Status.GENERATING_SECTIONS, planned: tuple[int, ...] = (), parts: int = 3
) -> CourseState:
    """A course whose parts' sections are planned in parallel, with the parts in `planned` written."""
    state = a_state(status, parts=parts, parts_done=parts if status is not Status.GENERATING_SECTIONS else 0)
    results = {k: PartResult(sections=[a_section(f"part {k}")]) for k in planned}
    return state.model_copy(update={"fan_out": True, "planned": results})


def test_the_parts_step_asks_for_every_part_at_once_when_sections_are_planned_in_parallel() -> None:
    state = a_state(Status.PLANNING)
    parts = [PartPlan(title=f"Part {k}", minutes=60) for k in range(3)]

    _, sequential = phases.record_parts(state, "T", parts, "t")
    fanned_out, parallel = phases.record_parts(state, "T", parts, "t", fan_out=True)

    assert sequential == (ev(E.PARTS_GENERATED),)
    assert parallel == tuple(ev(E.PARTS_GENERATED, k) for k in range(3)) and fanned_out.fan_out
    assert decide(fanned_out, ev(E.BOOK_SUMMARIES_FOUND)).events == parallel  # republished alike


@pytest.mark.parametrize(
    ("state", "event", "verdict", "republished"),
    [
        (fanned(), ev(E.PARTS_GENERATED, 1), Verdict.RUN, None),
        (fanned(planned=(1,)), ev(E.PARTS_GENERATED, 1), Verdict.REPUBLISH, ev(E.PART_SECTIONS_GENERATED, 1)),
        (
            fanned(planned=(0, 1, 2)),
            ev(E.PARTS_GENERATED, 2),
            Verdict.REPUBLISH,
            ev(E.PART_SECTIONS_GENERATED, 2),
        ),
        (fanned(), ev(E.PARTS_GENERATED), Verdict.IGNORE, None),  # no index: not this course's event
        (fanned(), ev(E.PARTS_GENERATED, 3), Verdict.IGNORE, None),  # no such part
        (
            fanned(planned=(0, 2)),
            ev(E.PART_SECTIONS_GENERATED, 2),
            Verdict.IGNORE,
            None,
        ),  # part 2 still planned
        (fanned(planned=(0, 1, 2)), ev(E.PART_SECTIONS_GENERATED, 0), Verdict.RUN, None),  # the fan-in
        (fanned(planned=(0, 1, 2)), ev(E.PART_SECTIONS_GENERATED, 2), Verdict.RUN, None),  # whoever finds it
        (fanned(Status.REVIEWING), ev(E.PARTS_GENERATED, 0), Verdict.IGNORE, None),
        (
            fanned(Status.REVIEWING).model_copy(update={"fan_in_part": 1}),
            ev(E.PART_SECTIONS_GENERATED, 1),
            Verdict.REPUBLISH,
            ev(E.ALL_PARTS_COMPLETE),
        ),
        (
            fanned(Status.REVIEWING).model_copy(update={"fan_in_part": 1}),
            ev(E.PART_SECTIONS_GENERATED, 2),
            Verdict.IGNORE,
            None,
        ),
        (
            fanned(Status.STORING).model_copy(update={"fan_in_part": 1}),
            ev(E.PART_SECTIONS_GENERATED, 1),
            Verdict.IGNORE,
            None,
        ),
    ],
)
def test_each_part_is_planned_once_and_the_fan_in_runs_when_every_part_is_written(
    state: CourseState, event: Event, verdict: Verdict, republished: Event | None
) -> None:
    decision = decide(state, event)
    assert decision.verdict is verdict, decision.reason
    assert decision.event == republished


def test_the_fan_in_gathers_the_parts_in_order_with_their_tokens() -> None:
    state = fanned(planned=(0, 1, 2))
    spent = TokenUsage().add("sections", 100, 20)
    state = state.model_copy(
        update={"planned": {k: r.model_copy(update={"usage": spent}) for k, r in state.planned.items()}}
    )

    new, event = phases.fan_in(state, 1, "t")

    assert event == ev(E.ALL_PARTS_COMPLETE)
    assert new.status is Status.REVIEWING and new.fan_in_part == 1 and new.planned == {}
    assert [[s.title for s in sections] for sections in new.sections] == [["part 0"], ["part 1"], ["part 2"]]
    assert new.usage.sections.calls == 3 and new.usage.sections.prompt_tokens == 300
    with pytest.raises(PlanningError):
        phases.fan_in(fanned(planned=(0, 2)), 2, "t")


def test_a_part_result_needs_sections_and_a_part_that_exists() -> None:
    state = fanned()
    written = phases.record_part(state, 2, [a_section("x")], TokenUsage())
    assert written.event == ev(E.PART_SECTIONS_GENERATED, 2) and written.part_index == 2
    with pytest.raises(PlanningError):
        phases.record_part(state, 1, [], TokenUsage())
    with pytest.raises(PlanningError):
        phases.record_part(state, 3, [a_section("x")], TokenUsage())


def test_the_parts_a_delivery_loaded_are_never_stored_with_the_state() -> None:
    state = fanned(planned=(0,))
    assert "planned" not in state.model_dump_json()
    assert CourseState.model_validate_json(state.model_dump_json()).planned == {}
