"""The service layer over fakes: whole courses, duplicates, crashes between save and publish."""

from __future__ import annotations

import itertools
from collections import deque

import pytest

from chalicelib.adapters.memory_state import InMemoryStateStore
from chalicelib.core import registry
from chalicelib.core.events import EventName, make_event
from chalicelib.core.models import CourseRequest, Status
from chalicelib.core.registry import Phase
from chalicelib.errors import TransientError
from chalicelib.planning.offline import OfflinePlanner
from chalicelib.workflow import STEPS, Deps, Workflow, step
from tests.support.factories import a_hit
from tests.support.fakes import Clock, FakeCourseStore, FakeEmbedder, FakeLibrary, RecordingPublisher

HANDLED = set(registry.BY_EVENT)


def library_hits() -> list:  # type: ignore[type-arg]
    return [a_hit(book, n, similarity=0.9 - n / 100) for book in ("b1", "b2") for n in range(1, 9)]


@pytest.fixture
def world():  # type: ignore[no-untyped-def]
    ids = (f"course-{i}" for i in itertools.count(1))
    publisher = RecordingPublisher()
    deps = Deps(
        state_store=InMemoryStateStore(),
        publisher=publisher,
        library=FakeLibrary(library_hits()),
        course_store=FakeCourseStore(),
        planner=OfflinePlanner(),
        embedder=FakeEmbedder(),
        clock=Clock(),
        new_id=lambda: next(ids),
    )
    return Workflow(deps), publisher, deps


def run(flow: Workflow, publisher: RecordingPublisher, copies: int = 1) -> list[EventName]:
    """Deliver every published event `copies` times, in order, until the bus is quiet."""
    queue = deque(publisher.events)
    publisher.events.clear()
    seen = []
    while queue:
        event = queue.popleft()
        seen.append(event.name)
        if event.name in HANDLED:
            for _ in range(copies):
                flow.handle(event.name, event.detail_json())
        queue.extend(publisher.events)
        publisher.events.clear()
    return seen


def test_a_course_goes_through_every_phase_to_a_stored_outline(world) -> None:  # type: ignore[no-untyped-def]
    flow, publisher, deps = world
    state = flow.submit("u-1", CourseRequest(query="Learn DCF valuation", hours=3))
    assert state.status is Status.QUEUED and state.version == 1
    seen = run(flow, publisher)
    final = deps.state_store.get(state.course_id)
    assert final.status is Status.COMPLETE
    assert seen[:3] == [
        EventName.EMBEDDING_GENERATED,
        EventName.BOOK_SUMMARIES_FOUND,
        EventName.PARTS_GENERATED,
    ]
    assert seen.count(EventName.PART_SECTIONS_GENERATED) == final.parts_total
    assert seen[-3:] == [EventName.ALL_PARTS_COMPLETE, EventName.OUTLINE_REVIEW, EventName.COURSE_STORED]
    stored = deps.course_store.get(state.course_id)
    assert stored.user_id == "u-1"
    assert stored.outline.total_minutes == pytest.approx(180, rel=0.05)
    assert deps.course_store.writes == 1


def test_every_event_delivered_twice_stores_the_same_course_once(world) -> None:  # type: ignore[no-untyped-def]
    flow, publisher, deps = world
    clean = flow.submit("u-1", CourseRequest(query="Learn DCF valuation", hours=3))
    run(flow, publisher)
    twice = flow.submit("u-1", CourseRequest(query="Learn DCF valuation", hours=3))
    run(flow, publisher, copies=2)
    a = deps.course_store.get(clean.course_id).outline
    b = deps.course_store.get(twice.course_id).outline
    assert a.model_dump(exclude={"course_id"}) == b.model_dump(exclude={"course_id"})
    assert deps.course_store.writes == 2  # one per course: duplicates never reached storage
    assert deps.library.searches == 2


def test_a_crash_between_save_and_publish_is_healed_by_redelivery(world) -> None:  # type: ignore[no-untyped-def]
    flow, publisher, deps = world
    state = flow.submit("u-1", CourseRequest(query="Learn DCF valuation", hours=3))
    first = publisher.events.pop()
    publisher.fail_next = 1  # the search step saves its state, then the publish fails
    with pytest.raises(ConnectionError):
        flow.handle(first.name, first.detail_json())
    assert deps.state_store.get(state.course_id).status is Status.PLANNING
    assert publisher.events == []
    flow.handle(first.name, first.detail_json())  # the platform redelivers
    assert publisher.events == [make_event(EventName.BOOK_SUMMARIES_FOUND, state.course_id)]
    run(flow, publisher)
    assert deps.state_store.get(state.course_id).status is Status.COMPLETE
    assert deps.library.searches == 1


def test_a_library_with_no_match_fails_the_course_with_a_reason(world) -> None:  # type: ignore[no-untyped-def]
    flow, publisher, deps = world
    deps.library.hits = []
    state = flow.submit("u-1", CourseRequest(query="Learn underwater basket weaving", hours=1))
    seen = run(flow, publisher)
    final = deps.state_store.get(state.course_id)
    assert final.status is Status.FAILED
    assert final.error.phase == "search" and "no chapter in the library" in final.error.reason
    assert seen[-1] is EventName.COURSE_FAILED
    assert deps.course_store.get(state.course_id) is None


def test_fail_course_ends_a_running_course_but_never_a_finished_one(world) -> None:  # type: ignore[no-untyped-def]
    flow, _publisher, deps = world
    running = flow.submit("u-1", CourseRequest(query="Learn DCF valuation", hours=1))
    assert flow.fail_course(running.course_id, "dead-letter", "retries exhausted") is True
    assert deps.state_store.get(running.course_id).error.reason == "retries exhausted"
    assert flow.fail_course(running.course_id, "dead-letter", "again") is False
    assert flow.fail_course("no-such-course", "dead-letter", "x") is False


class BrokenBus(RecordingPublisher):
    def publish(self, event) -> None:  # type: ignore[no-untyped-def]
        raise ConnectionError("the bus is unreachable")


def test_a_course_whose_first_event_cannot_be_published_ends_failed_and_the_caller_is_told(
    world,  # type: ignore[no-untyped-def]
) -> None:
    flow, _, deps = world
    deps.publisher = BrokenBus()

    with pytest.raises(TransientError, match="could not be announced: ConnectionError"):
        flow.submit("u-1", CourseRequest(query="Learn DCF valuation", hours=1))

    [state] = deps.state_store.list_for_user("u-1")
    assert state.status is Status.FAILED  # not left queued with nobody to move it on
    assert state.error is not None and state.error.phase == "request"


def test_every_phase_of_the_registry_has_exactly_one_step() -> None:
    assert set(STEPS) == {spec.phase for spec in registry.HANDLERS} == set(Phase)
    review_step = STEPS[Phase.REVIEW]
    with pytest.raises(ValueError, match="phase review has two steps"):
        step(Phase.REVIEW)(lambda flow, state, event: (state, event))
    assert STEPS[Phase.REVIEW] is review_step


def test_each_handler_publishes_only_what_the_registry_says_it_publishes(world) -> None:  # type: ignore[no-untyped-def]
    flow, publisher, _ = world
    flow.submit("u-1", CourseRequest(query="Learn DCF valuation", hours=3))
    published: dict[EventName, set[EventName]] = {name: set() for name in HANDLED}
    queue = deque(publisher.events)
    publisher.events.clear()
    while queue:
        event = queue.popleft()
        if event.name not in HANDLED:
            continue
        flow.handle(event.name, event.detail_json())
        queue.extend(publisher.events)
        flow.handle(event.name, event.detail_json())  # a redelivery republishes what the step published
        published[event.name] |= {e.name for e in publisher.events}
        publisher.events.clear()
    for name, names in published.items():
        assert names and names <= set(registry.BY_EVENT[name].publishes), name


def test_the_search_step_sends_the_terms_and_keeps_one_copy_of_the_chapters_with_evidence(world) -> None:  # type: ignore[no-untyped-def]
    flow, publisher, deps = world
    summary = "Enthalpy changes are measured by calorimetry and combined by Hess's law."

    def chapter(book: str, number: int, similarity: float, title: str, topics: list[str]):  # type: ignore[no-untyped-def]
        return a_hit(book, number, similarity).model_copy(
            update={"chapter_title": title, "topics": topics, "key_concepts": [], "summary": summary}
        )

    deps.library.hits = [
        chapter("chem", 5, 0.70, "Thermochemistry", ["Enthalpy", "Calorimetry"]),
        chapter("atoms", 9, 0.69, "Thermochemistry", ["Enthalpy", "Calorimetry"]),  # the same text
        chapter("python", 3, 0.60, "Classes", ["Objects"]),  # near, but names nothing asked for
    ]
    state = flow.submit(
        "u-1", CourseRequest(query="Learn thermochemistry: enthalpy and calorimetry", hours=1)
    )
    run(flow, publisher)
    final = deps.state_store.get(state.course_id)
    assert deps.library.terms == ["thermochemistry", "enthalpy", "calorimetry"]
    assert [(h.book_id, h.chapter_number) for h in final.chapters] == [("chem", 5)]
    assert [(t.book_id, t.chapter_number) for t in final.chapters[0].twins] == [("atoms", 9)]
    assert final.status is Status.COMPLETE
