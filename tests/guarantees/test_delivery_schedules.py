"""At-least-once delivery, for real: whole courses while the bus duplicates, delays and reorders
events. Whatever the schedule, each course is stored exactly as a clean run stores it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.core.events import EventName
from chalicelib.core.models import CourseRequest

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

# Short courses (one to three parts) so that each example stays quick.
REQUESTS = (
    a_request("Learn DCF valuation", 0.5),
    a_request("Learn DCF valuation", 2.0),
    a_request("Reading financial statements and ratios", 3.0, depth="technical", pace="quick"),
)
MIN_SCHEDULES = 100
CHAOTIC_STEPS = 24  # a schedule's length; after it the bus drains in order


@pytest.fixture(scope="module")
def clean_runs(embedded: Embedded) -> Callable[[CourseRequest, bool], CourseSnapshot]:
    """The course each request gives when every event is delivered once, in order, with its
    parts' sections planned in parallel or not."""
    cache: dict[tuple[str, bool], CourseSnapshot] = {}

    def clean(request: CourseRequest, parallel: bool) -> CourseSnapshot:
        key = (request.model_dump_json(), parallel)
        if key not in cache:
            bus = ScriptedBus()
            flow = scripted_workflow(embedded, publisher=bus, prefix="clean", parallel_sections=parallel)
            course_id = flow.submit(LOCAL_USER, request).course_id
            run_in_order(flow, bus)
            cache[key] = snapshot(flow, embedded.connect, course_id)
        return cache[key]

    return clean


# How one event is handled when its turn comes: once, twice at once, or once now and again later.
ONCE, TWICE, AGAIN_LATER = "once", "twice now", "once now and again later"
# A schedule step: which pending event goes next (an index, modulo how many wait) and how.
steps = st.tuples(st.integers(0, 5), st.sampled_from([ONCE, ONCE, TWICE, AGAIN_LATER]))


@pytest.mark.slow
@pytest.mark.parametrize("parallel", [True, False], ids=["parallel sections", "sequential sections"])
def test_duplicated_delayed_and_reordered_delivery_stores_every_course_exactly_as_a_clean_run(
    embedded: Embedded, clean_runs: Callable[[CourseRequest, bool], CourseSnapshot], parallel: bool
) -> None:
    schedules: list[int] = []

    @settings(
        max_examples=MIN_SCHEDULES + 10,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(
        requests=st.lists(st.sampled_from(REQUESTS), min_size=1, max_size=2),
        schedule=st.lists(steps, min_size=1, max_size=CHAOTIC_STEPS),
    )
    def one_schedule(requests: list[CourseRequest], schedule: list[tuple[int, str]]) -> None:
        bus = ScriptedBus()
        flow = scripted_workflow(embedded, publisher=bus, prefix="schedule", parallel_sections=parallel)
        # Two courses at once interleave, so reordering also mixes events of different courses.
        course_ids = [flow.submit(LOCAL_USER, request).course_id for request in requests]
        plan = iter(schedule)
        deliveries = 0
        while bus.pending:
            # Any pending event may go next (the others wait: delayed, reordered) and it may
            # arrive twice at once, or once more later. When the schedule ends, the bus drains
            # in order, so every example finishes.
            index, how = next(plan, (0, ONCE))
            event = bus.pending.pop(index % len(bus.pending))
            deliver(flow, event)
            if how == TWICE:
                deliver(flow, event)
            elif how == AGAIN_LATER:
                bus.pending.append(event)
            deliveries += 1 + (how == TWICE)
            assert deliveries < 200, "the workflow keeps publishing"

        for course_id, request in zip(course_ids, requests, strict=True):
            assert_same_course(snapshot(flow, embedded.connect, course_id), clean_runs(request, parallel))
            names = bus.names_for(course_id)
            assert EventName.COURSE_STORED in names and EventName.COURSE_FAILED not in names
        schedules.append(deliveries)

    one_schedule()
    assert len(schedules) >= MIN_SCHEDULES, f"{len(schedules)} schedules, {sum(schedules)} deliveries"
