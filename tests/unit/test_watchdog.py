"""The watchdog: when a course stalls (per phase), the redrive, the give-up after N redrives, the
reset on progress, and sweeps over the in-memory store (lost events at every phase, two sweeps
at once, the summary line)."""

from __future__ import annotations

import io
import itertools
import json
import logging
import threading
from collections import deque
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib import logs
from chalicelib.adapters.memory_state import InMemoryStateStore
from chalicelib.config import Settings
from chalicelib.core import phases, registry
from chalicelib.core.events import EventName, make_event
from chalicelib.core.models import CourseRequest, CourseState, Status
from chalicelib.core.registry import Phase
from chalicelib.core.watchdog import (
    DEFAULT_DEADLINES,
    IN_PROGRESS,
    PHASE_OF_STATUS,
    Policy,
    SweepSummary,
    format_time,
    is_stalled,
    remedy,
    sort_key,
    stall_reason,
)
from chalicelib.planning.offline import OfflinePlanner
from chalicelib.workflow import Deps, Watchdog, Workflow
from tests.support.factories import a_hit, a_state
from tests.support.fakes import FakeCourseStore, FakeEmbedder, FakeLibrary, RecordingPublisher

LAST_WRITE = datetime(2026, 1, 1, tzinfo=UTC)  # a_state's updated_at
POLICY = Policy()


def idle_for(state: CourseState, idle: timedelta) -> datetime:
    """The moment at which `state` has gone unwritten for `idle`."""
    return LAST_WRITE + idle


# --- when a course is stalled -------------------------------------------------------------------


@pytest.mark.parametrize("status", IN_PROGRESS)
def test_a_course_is_stalled_only_once_its_phases_deadline_has_passed(status: Status) -> None:
    state = a_state(status)
    deadline = DEFAULT_DEADLINES[PHASE_OF_STATUS[status]]

    assert not is_stalled(state, idle_for(state, deadline - timedelta(seconds=1)), POLICY)
    assert not is_stalled(state, idle_for(state, deadline), POLICY)
    assert is_stalled(state, idle_for(state, deadline + timedelta(milliseconds=1)), POLICY)


def test_the_planning_phases_wait_longer_than_search_and_storage() -> None:
    quick = {DEFAULT_DEADLINES[Phase.SEARCH], DEFAULT_DEADLINES[Phase.STORAGE]}
    planning = [DEFAULT_DEADLINES[phase] for phase in (Phase.PARTS, Phase.SECTIONS, Phase.REVIEW)]

    assert all(limit > max(quick) for limit in planning)
    assert PHASE_OF_STATUS[Status.QUEUED] is PHASE_OF_STATUS[Status.SEARCHING] is Phase.SEARCH


@pytest.mark.parametrize("status", [Status.COMPLETE, Status.FAILED])
def test_a_finished_course_never_stalls(status: Status) -> None:
    state = a_state(status)

    assert not is_stalled(state, idle_for(state, timedelta(days=30)), POLICY)
    assert remedy(state, idle_for(state, timedelta(days=30)), POLICY) is None
    with pytest.raises(ValueError, match=f"a {status.value} course cannot stall"):
        POLICY.deadline(status)


def test_the_deadlines_come_from_the_policy_whatever_the_timestamps_offset() -> None:
    policy = Policy(deadlines={**DEFAULT_DEADLINES, Phase.SEARCH: timedelta(minutes=1)})
    state = a_state(Status.SEARCHING, updated_at="2026-01-01T01:00:00+01:00")  # 00:00 UTC

    assert is_stalled(state, LAST_WRITE + timedelta(minutes=2), policy)
    assert not is_stalled(state, LAST_WRITE + timedelta(seconds=59), policy)


def test_timestamps_sort_as_they_compare_in_one_form() -> None:
    forms = ["2026-01-01T00:00:00+00:00", "2026-01-01T00:00:00.000Z", "2026-01-01T01:00:00+01:00"]

    assert {sort_key(form) for form in forms} == {"2026-01-01T00:00:00.000Z"}
    assert sort_key("2026-01-01T00:00:00.5Z") > sort_key("2026-01-01T00:00:00+00:00")
    assert format_time(datetime(2026, 1, 1, 12, 30)) == "2026-01-01T12:30:00.000Z"  # naive is UTC


def test_a_policy_without_a_deadline_for_every_phase_or_with_a_nonpositive_one_is_refused() -> None:
    with pytest.raises(ValueError, match="no stall deadline for phase"):
        Policy(deadlines={Phase.SEARCH: timedelta(minutes=5)})
    with pytest.raises(ValueError, match="review must be positive"):
        Policy(deadlines={**DEFAULT_DEADLINES, Phase.REVIEW: timedelta(0)})
    with pytest.raises(ValueError, match="max_redrives"):
        Policy(max_redrives=-1)


def test_the_settings_read_the_deadlines_and_the_bound_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "COURSEGEN_STALL_MINUTES_SEARCH": "3",
            "COURSEGEN_STALL_MINUTES_SECTIONS": "45.5",
            "COURSEGEN_MAX_REDRIVES": "0",
            "COURSEGEN_WATCHDOG_INTERVAL": "0",
        }
    )
    policy = settings.stall_policy

    assert policy.deadline(Status.QUEUED) == timedelta(minutes=3)
    assert policy.deadline(Status.GENERATING_SECTIONS) == timedelta(minutes=45.5)
    assert policy.deadline(Status.REVIEWING) == DEFAULT_DEADLINES[Phase.REVIEW]
    assert (policy.max_redrives, settings.watchdog_interval) == (0, 0.0)
    assert Settings().stall_policy == Policy() and Settings().watchdog_interval == 60.0


# --- what is done about it ----------------------------------------------------------------------


def stalled_at(state: CourseState) -> datetime:
    return idle_for(state, POLICY.deadline(state.status) + timedelta(minutes=1))


@pytest.mark.parametrize(
    ("state", "status", "events"),
    [
        (a_state(Status.QUEUED), Status.QUEUED, [make_event(EventName.EMBEDDING_GENERATED, "c-1")]),
        (a_state(Status.SEARCHING), Status.QUEUED, [make_event(EventName.EMBEDDING_GENERATED, "c-1")]),
        (
            a_state(Status.PLANNING, chapters=[a_hit()]),
            Status.PLANNING,
            [make_event(EventName.BOOK_SUMMARIES_FOUND, "c-1")],
        ),
        (
            a_state(Status.GENERATING_SECTIONS, parts=3, parts_done=1, chapters=[a_hit()]),
            Status.GENERATING_SECTIONS,
            [make_event(EventName.PART_SECTIONS_GENERATED, "c-1", part_index=0)],
        ),
        (
            a_state(Status.GENERATING_SECTIONS, parts=2, chapters=[a_hit()], fan_out=True),
            Status.GENERATING_SECTIONS,
            [make_event(EventName.PARTS_GENERATED, "c-1", part_index=k) for k in range(2)],
        ),
        (  # the last part planned, its announcement lost: review is next
            a_state(Status.GENERATING_SECTIONS, parts=2, parts_done=2, chapters=[a_hit()]),
            Status.REVIEWING,
            [make_event(EventName.ALL_PARTS_COMPLETE, "c-1")],
        ),
    ],
    ids=["queued", "searching", "planning", "next-part", "parallel-parts", "all-parts-planned"],
)
def test_a_stalled_course_is_redriven_with_the_events_its_state_expects(
    state: CourseState, status: Status, events: list[object]
) -> None:
    now = stalled_at(state)

    fix = remedy(state.model_copy(update={"version": 4, "redrives": 1}), now, POLICY)

    assert fix is not None and fix.redrive and not fix.gave_up
    assert list(fix.events) == events
    assert fix.state.status is status
    assert fix.state.redrives == 2
    assert fix.state.updated_at == format_time(now)  # its deadline starts again
    assert fix.state.version == 4  # saved on the version read: a concurrent writer wins
    assert fix.phase is PHASE_OF_STATUS[state.status]


def test_after_the_last_redrive_a_stalled_course_ends_failed_with_a_sentence() -> None:
    state = a_state(Status.GENERATING_SECTIONS, parts=3, parts_done=1, chapters=[a_hit()], redrives=3)

    fix = remedy(state, stalled_at(state), POLICY)

    assert fix is not None and fix.gave_up
    assert fix.state.status is Status.FAILED
    assert fix.state.error is not None and fix.state.error.phase == "sections"
    reason = fix.state.error.reason
    assert reason == "stalled in sections: no progress for 20 minutes after 3 redrives of its next step"
    assert list(fix.events) == [make_event(EventName.COURSE_FAILED, "c-1", phase="sections", reason=reason)]


def test_with_no_redrives_allowed_a_stalled_course_fails_at_once() -> None:
    policy = Policy(max_redrives=0)
    state = a_state(Status.STORING)

    fix = remedy(state, stalled_at(state), policy)

    assert fix is not None and fix.gave_up
    assert fix.state.error is not None
    assert fix.state.error.reason == "stalled in storage: no progress for 10 minutes"
    assert stall_reason(Phase.SEARCH, timedelta(minutes=1), 1) == (
        "stalled in search: no progress for 1 minute after 1 redrive of its next step"
    )


def test_every_step_that_moves_a_course_on_resets_its_redrives() -> None:
    state = a_state(Status.PLANNING, chapters=[a_hit()], redrives=2)
    later = "2026-01-01T00:30:00.000Z"

    moved, _ = phases.record_parts(state, "DCF", [a_state(parts=1).parts[0]], later)
    searched = phases.start_search(a_state(Status.QUEUED, redrives=1), later)

    assert moved.redrives == 0 and searched.redrives == 0


def test_a_course_gives_up_only_after_max_redrives_without_progress_in_between() -> None:
    state, now = a_state(Status.REVIEWING, parts=1, parts_done=1), LAST_WRITE
    outcomes = []
    for _ in range(POLICY.max_redrives + 1):
        now += POLICY.deadline(state.status) + timedelta(minutes=1)
        fix = remedy(state, now, POLICY)
        assert fix is not None
        outcomes.append("failed" if fix.gave_up else "redriven")
        state = fix.state
    assert outcomes == ["redriven"] * POLICY.max_redrives + ["failed"]

    # With progress between redrives the count starts again and the course never fails.
    state, now = a_state(Status.PLANNING, chapters=[a_hit()]), LAST_WRITE
    for _ in range(2 * POLICY.max_redrives):
        now += POLICY.deadline(state.status) + timedelta(minutes=1)
        fix = remedy(state, now, POLICY)
        assert fix is not None and fix.redrive
        state = phases.start_search(fix.state, format_time(now))  # any step's write
        state = state.model_copy(update={"status": Status.PLANNING})
    assert state.redrives == 0


# --- sweeps over the in-memory store --------------------------------------------------------------


class World:
    """A workflow over in-memory adapters whose clock the test moves."""

    def __init__(self, policy: Policy = POLICY) -> None:
        self.now = LAST_WRITE
        self.ids = (f"course-{i}" for i in itertools.count(1))
        self.publisher, self.states = RecordingPublisher(), InMemoryStateStore()
        hits = [a_hit(book, n, 0.9 - n / 100) for book in ("b1", "b2") for n in range(1, 9)]
        self.deps = Deps(
            state_store=self.states,
            publisher=self.publisher,
            library=FakeLibrary(hits),
            course_store=FakeCourseStore(),
            planner=OfflinePlanner(),
            embedder=FakeEmbedder(),
            clock=lambda: format_time(self.now),
            new_id=lambda: next(self.ids),
            stall_policy=policy,
        )
        self.flow = Workflow(self.deps)

    def deliver(self, drop: EventName | None = None) -> list[EventName]:
        """Deliver every published event until the bus is quiet; every event named `drop` is lost."""
        queue, seen = deque(self.publisher.events), []
        self.publisher.events.clear()
        while queue:
            event = queue.popleft()
            if event.name is drop:
                continue
            seen.append(event.name)
            if event.name in registry.BY_EVENT:
                self.flow.handle(event.name, event.detail_json())
            queue.extend(self.publisher.events)
            self.publisher.events.clear()
        return seen

    def state(self, course_id: str) -> CourseState:
        state = self.states.get(course_id)
        assert state is not None
        return state

    def later(self, minutes: float) -> datetime:
        self.now += timedelta(minutes=minutes)
        return self.now


@pytest.mark.parametrize("lost", [name for name in registry.BY_EVENT])
@pytest.mark.parametrize("parallel", [True, False], ids=["parallel", "sequential"])
def test_a_course_whose_event_is_lost_in_any_phase_is_redriven_and_completes(
    lost: EventName, parallel: bool
) -> None:
    world = World()
    world.deps.parallel_sections = parallel
    course = world.flow.submit("u-1", CourseRequest(query="Learn DCF valuation", hours=3))

    world.deliver(drop=lost)
    stuck = world.state(course.course_id)
    assert not stuck.status.is_terminal
    assert world.flow.sweep(world.later(5)).redriven == 0  # not yet past any deadline

    summary = world.flow.sweep(world.later(30))
    world.deliver()

    assert (summary.checked, summary.redriven, summary.failed) == (1, 1, 0)
    final = world.state(course.course_id)
    assert final.status is Status.COMPLETE and final.redrives == 0
    assert world.flow.sweep(world.later(60)).checked == 0  # a finished course is not looked at


def test_a_course_that_never_moves_is_redriven_max_times_then_failed_once() -> None:
    world = World()
    course = world.flow.submit("u-1", CourseRequest(query="Learn DCF valuation", hours=3))
    world.publisher.events.clear()  # every event of this course is lost, redrives included

    counts = []
    for _ in range(POLICY.max_redrives + 2):
        summary = world.flow.sweep(world.later(11))
        counts.append((summary.redriven, summary.failed))
        world.publisher.events = [e for e in world.publisher.events if e.name is EventName.COURSE_FAILED]

    assert counts == [(1, 0)] * POLICY.max_redrives + [(0, 1), (0, 0)]
    failed = world.state(course.course_id)
    assert failed.status is Status.FAILED and failed.error is not None
    assert failed.error.reason.startswith("stalled in search: no progress for 10 minutes after 3 redrives")
    assert [e.name for e in world.publisher.events] == [EventName.COURSE_FAILED]


def test_two_sweeps_at_once_redrive_a_stalled_course_once() -> None:
    def sweep(world: World, now: datetime, barrier: threading.Barrier, summaries: list[SweepSummary]) -> None:
        barrier.wait()
        summaries.append(world.flow.sweep(now))

    for _ in range(20):
        world = World()
        course = world.flow.submit("u-1", CourseRequest(query="Learn DCF valuation", hours=3))
        world.publisher.events.clear()
        now, barrier = world.later(11), threading.Barrier(2)
        summaries: list[SweepSummary] = []
        threads = [threading.Thread(target=sweep, args=(world, now, barrier, summaries)) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert sum(s.redriven for s in summaries) == 1
        assert len(world.publisher.events) == 1
        assert world.state(course.course_id).redrives == 1


def test_the_sweep_logs_one_summary_line_with_its_counts_and_on_request_its_metrics() -> None:
    world = World()
    world.flow.submit("u-1", CourseRequest(query="Learn DCF valuation", hours=3))
    world.publisher.events.clear()
    out = io.StringIO()
    logs.configure(stream=out)
    try:
        now = world.later(11)
        Watchdog(world.states, world.publisher, POLICY).sweep(now, metrics={"FunctionName": "fn"})
    finally:
        logs.configure()
    [line] = [json.loads(text) for text in out.getvalue().splitlines() if '"watchdog swept"' in text]

    assert line["level"] == "WARNING" and line["phase"] == "watchdog"
    assert {k: line[k] for k in ("checked", "redriven", "failed", "raced", "errors")} == {
        "checked": 1,
        "redriven": 1,
        "failed": 0,
        "raced": 0,
        "errors": 0,
    }
    # CloudWatch's embedded metric format: each metric named in _aws is a value of the line.
    [directive] = line["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "Coursegen" and directive["Dimensions"] == [["FunctionName"]]
    assert line["_aws"]["Timestamp"] == int(now.timestamp() * 1000)
    assert {m["Name"]: line[m["Name"]] for m in directive["Metrics"]} == {
        "StalledCoursesRedriven": 1,
        "StalledCoursesFailed": 0,
    }
    assert line["FunctionName"] == "fn"


def test_a_course_the_sweep_cannot_handle_is_counted_and_the_others_still_handled(
    caplog: pytest.LogCaptureFixture,
) -> None:
    world = World()
    first = world.flow.submit("u-1", CourseRequest(query="Learn DCF valuation", hours=3))
    second = world.flow.submit("u-1", CourseRequest(query="Learn DCF valuation", hours=3))
    world.publisher.events.clear()
    world.publisher.fail_next = 1  # the first redrive's event is refused by the bus

    with caplog.at_level(logging.ERROR, logger="coursegen"):
        summary = world.flow.sweep(world.later(11))

    assert (summary.checked, summary.redriven, summary.errors) == (2, 1, 1)
    assert {world.state(first.course_id).redrives, world.state(second.course_id).redrives} == {1}
    assert "watchdog could not act on the stalled course" in caplog.text
