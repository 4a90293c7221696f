"""A handler can die anywhere: before its state write, between that write and its publish, or after
publishing. The platform then delivers the same event again; the course must still complete,
exactly once, with the rows of a clean run."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from chalicelib.core.events import Event, EventName
from chalicelib.core.models import CourseState, Outline, PartResult, Status
from chalicelib.core.paging import PageKey
from chalicelib.ports import CourseStore, EventPublisher, StateStore, StoredCourse
from tests.support.fakes import DelegatingStateStore

from .support import (
    LOCAL_USER,
    CourseSnapshot,
    Embedded,
    ScriptedBus,
    a_request,
    assert_same_course,
    deliver,
    run_in_order,
    scripted_workflow,
    snapshot,
)

E = EventName
REQUEST = a_request("Learn DCF valuation", 2.0)  # two parts: PartSectionsGenerated 0 and 1


class Crash(Exception):
    """The handler's process died here (a timeout, an out-of-memory kill, a lost container)."""


@dataclass
class CrashPlan:
    """Where to crash: while handling `event` (name and part index), at the `nth` time the
    handler reaches `point`. Fires once; the redelivery runs normally."""

    event: tuple[EventName, int | None]
    point: str
    nth: int = 1
    handling: Event | None = None
    reached: int = 0
    fired: bool = False

    def check(self, point: str) -> None:
        handling = self.handling
        if self.fired or handling is None or point != self.point:
            return
        if (handling.name, handling.part_index) != self.event:
            return
        self.reached += 1
        if self.reached == self.nth:
            self.fired = True
            raise Crash(f"crashed {point} while handling {handling.name.value}")


class CrashingStateStore(DelegatingStateStore):
    def __init__(self, inner: StateStore, plan: CrashPlan) -> None:
        super().__init__(inner)
        self.plan = plan

    def save(self, state: CourseState) -> CourseState:
        self.plan.check("before the state write")
        saved = self.inner.save(state)
        self.plan.check("after the state write")
        return saved

    def put_part(self, course_id: str, part_index: int, result: PartResult) -> None:
        self.plan.check("before the part write")
        self.inner.put_part(course_id, part_index, result)
        self.plan.check("after the part write")


class CrashingPublisher(EventPublisher):
    def __init__(self, inner: ScriptedBus, plan: CrashPlan) -> None:
        self.inner, self.plan = inner, plan

    def publish(self, event: Event) -> None:
        self.inner.publish(event)
        self.plan.check("after publishing")


class CrashingCourseStore(CourseStore):
    def __init__(self, inner: CourseStore, plan: CrashPlan) -> None:
        self.inner, self.plan = inner, plan

    def store(self, user_id: str, outline: Outline, created_at: str) -> None:
        self.plan.check("before storing the course")
        self.inner.store(user_id, outline, created_at)
        self.plan.check("after storing the course")

    def get(self, course_id: str) -> StoredCourse | None:
        return self.inner.get(course_id)

    def list_for_user(self, user_id: str, limit: int = 50) -> list[StoredCourse]:
        return self.inner.list_for_user(user_id, limit)

    def list_page(self, user_id: str, limit: int, before: PageKey | None = None) -> list[StoredCourse]:
        return self.inner.list_page(user_id, limit, before)

    def delete(self, course_id: str) -> bool:
        return self.inner.delete(course_id)


BEFORE, AFTER, PUBLISHED = "before the state write", "after the state write", "after publishing"
PART_BEFORE, PART_AFTER = "before the part write", "after the part write"
# Every handler of a two-part course, at every point where it can die, with the parts' sections
# planned one after another. The search step writes its state twice ("searching", then the
# hits); the storage step also writes the course rows.
SEQUENTIAL_CRASHES = [
    *[((E.EMBEDDING_GENERATED, None), point, nth) for nth in (1, 2) for point in (BEFORE, AFTER)],
    ((E.EMBEDDING_GENERATED, None), PUBLISHED, 1),
    *[
        (event, point, 1)
        for event in [
            (E.BOOK_SUMMARIES_FOUND, None),
            (E.PARTS_GENERATED, None),
            (E.PART_SECTIONS_GENERATED, 0),  # plans part 2
            (E.PART_SECTIONS_GENERATED, 1),  # the last part: announces AllPartsComplete
            (E.ALL_PARTS_COMPLETE, None),
            (E.OUTLINE_REVIEW, None),
        ]
        for point in (BEFORE, AFTER, PUBLISHED)
    ],
    ((E.OUTLINE_REVIEW, None), "before storing the course", 1),
    ((E.OUTLINE_REVIEW, None), "after storing the course", 1),
]
# The sections steps of the same course with its parts planned in parallel: each part's delivery
# writes its result beside the state and announces it (a crash between the two included); in
# the order the bus delivers here, part 1's announcement finds both parts written and fans in.
# The parts step publishes one event per part: it can die between the two.
PARALLEL_CRASHES = [
    ((E.BOOK_SUMMARIES_FOUND, None), PUBLISHED, 1),
    ((E.BOOK_SUMMARIES_FOUND, None), PUBLISHED, 2),
    *[
        ((E.PARTS_GENERATED, part), point, 1)
        for part in (0, 1)
        for point in (PART_BEFORE, PART_AFTER, PUBLISHED)
    ],
    *[((E.PART_SECTIONS_GENERATED, 0), point, 1) for point in (BEFORE, AFTER, PUBLISHED)],
]
CRASHES = [(False, *case) for case in SEQUENTIAL_CRASHES] + [(True, *case) for case in PARALLEL_CRASHES]


def crash_id(case: tuple[bool, tuple[EventName, int | None], str, int]) -> str:
    parallel, (name, part), point, nth = case
    event = name.value + (f"({part})" if part is not None else "")
    mode = "parallel" if parallel else "sequential"
    return f"{mode}: {event} {point}" + (f" #{nth}" if nth > 1 else "")


@pytest.fixture(scope="module")
def clean_runs(embedded: Embedded) -> dict[bool, CourseSnapshot]:
    """The course with no crash, its sections planned in parallel (True) and sequentially."""
    runs = {}
    for parallel in (True, False):
        bus = ScriptedBus()
        prefix = f"crash-clean-{'parallel' if parallel else 'sequential'}"
        flow = scripted_workflow(embedded, publisher=bus, prefix=prefix, parallel_sections=parallel)
        course_id = flow.submit(LOCAL_USER, REQUEST).course_id
        run_in_order(flow, bus)
        runs[parallel] = snapshot(flow, embedded.connect, course_id)
    return runs


def test_both_modes_store_the_same_course(clean_runs: dict[bool, CourseSnapshot]) -> None:
    parallel, sequential = clean_runs[True], clean_runs[False]
    assert parallel.status is sequential.status is Status.COMPLETE
    assert parallel.rows == sequential.rows
    assert parallel.outline == sequential.outline
    # One fan-in write instead of a write per part and one to hand over to review.
    assert parallel.version < sequential.version


@pytest.mark.parametrize("case", CRASHES, ids=[crash_id(case) for case in CRASHES])
def test_a_handler_that_crashes_and_gets_its_event_again_completes_the_course_exactly_once(
    embedded: Embedded,
    clean_runs: dict[bool, CourseSnapshot],
    case: tuple[bool, tuple[EventName, int | None], str, int],
) -> None:
    parallel, event, point, nth = case
    plan = CrashPlan(event=event, point=point, nth=nth)
    bus = ScriptedBus()
    flow = scripted_workflow(
        embedded,
        state_store=CrashingStateStore(embedded.scripted_state, plan),
        publisher=CrashingPublisher(bus, plan),
        course_store=CrashingCourseStore(embedded.flow.deps.course_store, plan),
        prefix="crash",
        parallel_sections=parallel,
    )
    course_id = flow.submit(LOCAL_USER, REQUEST).course_id

    deliveries = 0
    while bus.pending:
        delivered = bus.pending.pop(0)
        plan.handling = delivered
        try:
            deliver(flow, delivered)
        except Crash:
            # Lambda's async retry: the same event, again (whatever was published stays published).
            bus.pending.insert(0, delivered)
        finally:
            plan.handling = None
        deliveries += 1
        assert deliveries < 50, "the workflow keeps publishing"

    assert plan.fired, f"the handler never reached {point!r}"
    assert_same_course(snapshot(flow, embedded.connect, course_id), clean_runs[parallel])
