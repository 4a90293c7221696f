"""Retrying, deleting and listing courses in the service layer, over in-memory fakes."""

from __future__ import annotations

import itertools
from collections import deque

import pytest

from chalicelib.adapters.memory_state import InMemoryStateStore
from chalicelib.core import registry
from chalicelib.core.events import Event, EventName
from chalicelib.core.models import CourseRequest, CourseState, Failure, Status
from chalicelib.core.paging import PageKey
from chalicelib.core.registry import Phase
from chalicelib.core.resume import KEPT_FAILURES, resume_failed
from chalicelib.errors import CourseConflict, CourseNotFound, PermanentFailure, TransientError
from chalicelib.planning.offline import OfflinePlanner
from chalicelib.workflow import STEPS, Deps, Outcome, Step, Workflow
from tests.support.factories import a_hit, a_state
from tests.support.fakes import Clock, FakeCourseStore, FakeEmbedder, FakeLibrary, RecordingPublisher

USER = "u-1"
TWO_PARTS = 2.0  # hours: the offline planner makes two parts of them


@pytest.fixture
def flow() -> Workflow:
    return a_flow(parallel_sections=False)


def a_flow(parallel_sections: bool) -> Workflow:
    ids = (f"course-{i}" for i in itertools.count(1))
    hits = [a_hit(book, n, similarity=0.9 - n / 100) for book in ("b1", "b2") for n in range(1, 9)]
    return Workflow(
        Deps(
            state_store=InMemoryStateStore(),
            publisher=RecordingPublisher(),
            library=FakeLibrary(hits),
            course_store=FakeCourseStore(),
            planner=OfflinePlanner(),
            embedder=FakeEmbedder(),
            clock=Clock(),
            new_id=lambda: next(ids),
            parallel_sections=parallel_sections,
        )
    )


def publisher(flow: Workflow) -> RecordingPublisher:
    bus = flow.deps.publisher
    assert isinstance(bus, RecordingPublisher)
    return bus


def deliver(flow: Workflow) -> list[Event]:
    """Deliver every published event, in order, until the bus is quiet."""
    queue = deque(publisher(flow).events)
    publisher(flow).events.clear()
    delivered = []
    while queue:
        event = queue.popleft()
        delivered.append(event)
        if event.name in registry.BY_EVENT:
            flow.handle(event.name, event.detail_json())
        queue.extend(publisher(flow).events)
        publisher(flow).events.clear()
    return delivered


def state_of(flow: Workflow, course_id: str) -> CourseState:
    state = flow.deps.state_store.get(course_id)
    assert state is not None
    return state


def failing_on_call(step: Step, nth: int) -> Step:
    """`step`, except that its nth run fails for good."""
    calls = itertools.count(1)

    def run(self: Workflow, state: CourseState, event: Event) -> Outcome:
        if next(calls) == nth:
            raise PermanentFailure("a planned failure")
        return step(self, state, event)

    return run


RESUMES = [
    (Phase.SEARCH, 1, Status.QUEUED, EventName.EMBEDDING_GENERATED),
    (Phase.PARTS, 1, Status.PLANNING, EventName.BOOK_SUMMARIES_FOUND),
    (Phase.SECTIONS, 1, Status.GENERATING_SECTIONS, EventName.PARTS_GENERATED),
    (Phase.SECTIONS, 2, Status.GENERATING_SECTIONS, EventName.PART_SECTIONS_GENERATED),
    (Phase.SECTIONS, 3, Status.REVIEWING, EventName.ALL_PARTS_COMPLETE),  # the step that ends the parts
    (Phase.REVIEW, 1, Status.REVIEWING, EventName.ALL_PARTS_COMPLETE),
    (Phase.STORAGE, 1, Status.STORING, EventName.OUTLINE_REVIEW),
]


@pytest.mark.parametrize(("phase", "nth", "status", "event"), RESUMES)
def test_a_failed_course_resumes_at_the_phase_that_failed_and_completes(
    flow: Workflow, monkeypatch: pytest.MonkeyPatch, phase: Phase, nth: int, status: Status, event: EventName
) -> None:
    monkeypatch.setitem(STEPS, phase, failing_on_call(STEPS[phase], nth))
    course = flow.submit(USER, CourseRequest(query="Learn DCF valuation", hours=TWO_PARTS))
    deliver(flow)
    failed = state_of(flow, course.course_id)
    assert failed.status is Status.FAILED
    assert failed.error == Failure(phase=phase.value, reason="a planned failure")

    resumed = flow.retry(USER, course.course_id)

    assert (resumed.course_id, resumed.status, resumed.retries, resumed.error) == (
        course.course_id,
        status,
        1,
        None,
    )
    assert resumed.past_failures == [failed.error]
    assert [e.name for e in publisher(flow).events] == [event]
    deliver(flow)
    done = state_of(flow, course.course_id)
    assert done.status is Status.COMPLETE
    stored = flow.deps.course_store.get(course.course_id)
    assert stored is not None and len(stored.outline.parts) == done.parts_total == 2


@pytest.mark.parametrize("nth", [1, 2, 3])  # part 1, part 2, the fan-in
def test_a_course_whose_parts_are_planned_at_once_resumes_the_parts_left_and_completes(
    monkeypatch: pytest.MonkeyPatch, nth: int
) -> None:
    flow = a_flow(parallel_sections=True)
    monkeypatch.setitem(STEPS, Phase.SECTIONS, failing_on_call(STEPS[Phase.SECTIONS], nth))
    course = flow.submit(USER, CourseRequest(query="Learn DCF valuation", hours=TWO_PARTS))
    deliver(flow)
    failed = state_of(flow, course.course_id)
    assert failed.status is Status.FAILED and failed.fan_out
    assert failed.error == Failure(phase=Phase.SECTIONS.value, reason="a planned failure")

    resumed = flow.retry(USER, course.course_id)

    assert resumed.status is Status.GENERATING_SECTIONS
    announced = publisher(flow).events
    assert [(e.name, e.part_index) for e in announced] == [
        (EventName.PARTS_GENERATED, k) for k in range(resumed.parts_total)
    ]
    deliver(flow)
    done = state_of(flow, course.course_id)
    assert done.status is Status.COMPLETE
    stored = flow.deps.course_store.get(course.course_id)
    assert stored is not None and len(stored.outline.parts) == done.parts_total == 2


@pytest.mark.parametrize("status", [s for s in Status if s is not Status.FAILED])
def test_only_a_failed_course_can_be_retried(flow: Workflow, status: Status) -> None:
    flow.deps.state_store.create(a_state(status, user_id=USER))
    with pytest.raises(CourseConflict) as refused:
        flow.retry(USER, "c-1")
    assert refused.value.code == "not_failed"
    assert state_of(flow, "c-1").status is status
    assert publisher(flow).events == []


def test_a_retry_whose_event_cannot_be_published_fails_the_course_again(flow: Workflow) -> None:
    flow.deps.state_store.create(
        a_state(Status.FAILED, user_id=USER, error=Failure(phase="parts", reason="x"), chapters=[a_hit()])
    )
    publisher(flow).fail_next = 1
    with pytest.raises(TransientError, match="could not be announced"):
        flow.retry(USER, "c-1")
    state = state_of(flow, "c-1")
    assert state.status is Status.FAILED and state.error is not None and state.error.phase == "retry"
    assert state.retries == 1  # the attempt is recorded


def test_retrying_from_the_search_reembeds_a_query_made_by_another_embedder(flow: Workflow) -> None:
    flow.deps.state_store.create(
        a_state(Status.FAILED, user_id=USER, embedder="old:2", query_embedding=[1.0, 0.0])
    )
    resumed = flow.retry(USER, "c-1")
    assert resumed.status is Status.QUEUED
    assert (resumed.embedder, resumed.query_embedding) == ("fake:4", [0.5, 0.5, 0.5, 0.5])


def test_only_the_latest_failures_are_kept() -> None:
    state = a_state(Status.FAILED, error=Failure(phase="search", reason="0"))
    for n in range(1, KEPT_FAILURES + 3):
        state, _ = resume_failed(state, f"t{n}")
        state = state.model_copy(
            update={"status": Status.FAILED, "error": Failure(phase="search", reason=str(n))}
        )
    assert state.retries == KEPT_FAILURES + 2
    assert [f.reason for f in state.past_failures] == [str(n) for n in range(2, KEPT_FAILURES + 2)]


def test_another_users_course_is_not_found_for_retry_or_delete(flow: Workflow) -> None:
    flow.deps.state_store.create(a_state(Status.FAILED, user_id="someone-else"))
    for action in (flow.retry, flow.delete):
        with pytest.raises(CourseNotFound):
            action(USER, "c-1")
        with pytest.raises(CourseNotFound):
            action(USER, "no-such-course")
    assert state_of(flow, "c-1").status is Status.FAILED


def test_deleting_a_course_in_progress_is_a_conflict_and_a_finished_one_goes_everywhere(
    flow: Workflow,
) -> None:
    course = flow.submit(USER, CourseRequest(query="Learn DCF valuation", hours=1.0))
    with pytest.raises(CourseConflict) as refused:
        flow.delete(USER, course.course_id)
    assert refused.value.code == "in_progress"
    deliver(flow)
    assert flow.deps.course_store.get(course.course_id) is not None

    flow.delete(USER, course.course_id)

    assert flow.deps.state_store.get(course.course_id) is None
    assert flow.deps.course_store.get(course.course_id) is None
    with pytest.raises(CourseNotFound):
        flow.view(USER, course.course_id)


def test_a_course_whose_state_expired_is_deleted_from_the_course_store(flow: Workflow) -> None:
    course = flow.submit(USER, CourseRequest(query="Learn DCF valuation", hours=1.0))
    deliver(flow)
    state = state_of(flow, course.course_id)
    flow.deps.state_store.delete(course.course_id, state.version)  # what the TTL does
    assert [v.key.course_id for v in flow.list_page(USER, 5).items] == [course.course_id]
    flow.delete(USER, course.course_id)
    assert flow.list_page(USER, 5).items == []


def test_listing_complete_courses_leaves_out_a_stored_one_whose_state_is_not_complete(flow: Workflow) -> None:
    courses = [flow.submit(USER, CourseRequest(query="Learn DCF valuation", hours=1.0)) for _ in range(3)]
    deliver(flow)
    # The first is stored but its state failed afterwards (its state save was lost, then the
    # dead-letter queue ended it), then retried: storing again.
    first = state_of(flow, courses[0].course_id)
    flow.deps.state_store.save(first.model_copy(update={"status": Status.STORING}))
    complete = flow.list_page(USER, 1, status=Status.COMPLETE)
    assert [v.key.course_id for v in complete.items] == [courses[2].course_id]
    assert complete.next is not None
    rest = flow.list_page(USER, 1, complete.next, Status.COMPLETE)
    assert [v.key.course_id for v in rest.items] == [courses[1].course_id]
    assert rest.next is not None
    last = flow.list_page(USER, 1, rest.next, Status.COMPLETE)
    assert last.items == [] and last.next is None
    storing = flow.list_page(USER, 5, status=Status.STORING)
    assert [v.key.course_id for v in storing.items] == [courses[0].course_id]
    everything = flow.list_page(USER, 5)
    assert [v.status for v in everything.items] == ["complete", "complete", "storing"]
    assert everything.next is None


def test_a_page_key_names_the_course_whichever_store_it_came_from(flow: Workflow) -> None:
    course = flow.submit(USER, CourseRequest(query="Learn DCF valuation", hours=1.0))
    deliver(flow)
    [from_state] = flow.list_page(USER, 5).items
    assert from_state.state is not None
    assert from_state.key == PageKey(course.created_at, course.course_id)
