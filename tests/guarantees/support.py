"""Helpers for the guarantee tests: a bus the test delivers from by hand, workflows built on the
embedded default's real stores, and snapshots of what a course left in PostgreSQL and in state."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chalicelib.adapters.local_bus import LocalBus
from chalicelib.adapters.localpg import LocalPostgres
from chalicelib.adapters.pg import ConnectionFactory, session
from chalicelib.adapters.sqlite_state import SqliteStateStore
from chalicelib.core.events import Event, EventName
from chalicelib.core.models import (
    ChapterHit,
    CourseRequest,
    CourseState,
    PartPlan,
    PlannedPart,
    SectionPlan,
    Status,
)
from chalicelib.core.registry import BY_EVENT
from chalicelib.planning.offline import OfflinePlanner
from chalicelib.ports import CourseStore, EventPublisher, Library, Planner, StateStore
from chalicelib.workflow import Deps, Workflow

LOCAL_USER = "local-user"
FIXED_TIME = "2026-01-01T00:00:00.000Z"  # one instant for every write, so runs compare exactly
WORKFLOW_EVENTS = frozenset(BY_EVENT)  # the events a handler consumes


@dataclass
class Embedded:
    """The embedded default as bootstrap.py builds it, and where its PostgreSQL lives."""

    data_dir: Path
    server: LocalPostgres
    flow: Workflow
    connect: ConnectionFactory
    scripted_state: SqliteStateStore  # the state of workflows a test delivers for by hand

    @property
    def bus(self) -> LocalBus:
        assert isinstance(self.flow.deps.publisher, LocalBus)
        return self.flow.deps.publisher


class ScriptedBus(EventPublisher):
    """Keeps what is published; the test decides when, how often and in which order to deliver."""

    def __init__(self) -> None:
        self.pending: list[Event] = []
        self.history: list[Event] = []

    def publish(self, event: Event) -> None:
        self.history.append(event)
        if event.name in WORKFLOW_EVENTS:
            self.pending.append(event)

    def names_for(self, course_id: str) -> list[EventName]:
        return [event.name for event in self.history if event.course_id == course_id]


class RememberingPlanner(Planner):
    """The offline planner, run once per distinct input: it is deterministic, and planning is
    most of a course's time, which matters when a test runs hundreds of courses."""

    def __init__(self) -> None:
        self._planner = OfflinePlanner()
        self._answers: dict[str, Any] = {}

    def _remember(self, key: list[Any], plan: Callable[[], Any]) -> Any:
        text = json.dumps(_plain(key))
        if text not in self._answers:
            self._answers[text] = plan()
        return self._answers[text]

    def plan_parts(self, request: CourseRequest, chapters: list[ChapterHit]) -> tuple[str, list[PartPlan]]:
        title, parts = self._remember(
            ["parts", request, chapters], lambda: self._planner.plan_parts(request, chapters)
        )
        return title, list(parts)

    def plan_sections(
        self,
        request: CourseRequest,
        chapters: list[ChapterHit],
        parts: list[PartPlan],
        part_index: int,
        earlier: list[list[SectionPlan]],
    ) -> list[SectionPlan]:
        key = ["sections", request, chapters, parts, part_index, earlier]
        plan = lambda: self._planner.plan_sections(request, chapters, parts, part_index, earlier)  # noqa: E731
        return list(self._remember(key, plan))

    def revise(
        self,
        request: CourseRequest,
        chapters: list[ChapterHit],
        outline: list[PlannedPart],
        failed_checks: list[str],
    ) -> list[PlannedPart]:
        key = ["revise", request, chapters, outline, failed_checks]
        return list(
            self._remember(key, lambda: self._planner.revise(request, chapters, outline, failed_checks))
        )


def _plain(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value.model_dump(mode="json") if hasattr(value, "model_dump") else value


PLANNER = RememberingPlanner()
_ids = itertools.count(1)


def scripted_workflow(
    embedded: Embedded,
    *,
    state_store: StateStore | None = None,
    publisher: EventPublisher | None = None,
    course_store: CourseStore | None = None,
    library: Library | None = None,
    planner: Planner | None = None,
    prefix: str = "course",
    parallel_sections: bool = True,
) -> Workflow:
    """A workflow on the embedded default's library, course store and embedder (real PostgreSQL),
    with its own SQLite state unless given one, one fixed clock and readable course ids."""
    deps = embedded.flow.deps
    return Workflow(
        Deps(
            state_store=state_store or embedded.scripted_state,
            publisher=publisher or ScriptedBus(),
            library=library or deps.library,
            course_store=course_store or deps.course_store,
            planner=planner or PLANNER,
            embedder=deps.embedder,
            clock=lambda: FIXED_TIME,
            new_id=lambda: f"{prefix}-{next(_ids):05d}",
            search=deps.search,
            parallel_sections=parallel_sections,
        )
    )


def deliver(flow: Workflow, event: Event) -> None:
    """What a handler Lambda does with one delivered event."""
    flow.handle(event.name, event.detail_json())


def run_in_order(flow: Workflow, bus: ScriptedBus, limit: int = 200) -> int:
    """Deliver every pending event once, first published first, until the bus is quiet."""
    delivered = 0
    while bus.pending:
        assert delivered < limit, "the workflow keeps publishing"
        deliver(flow, bus.pending.pop(0))
        delivered += 1
    return delivered


# --- what a course leaves behind --------------------------------------------------------------

_COURSE_COLUMNS = "course_id, user_id, title, query, hours, depth, pace, total_minutes, outline, created_at"
_SECTION_COLUMNS = "id, course_id, part_index, part_title, position, title, minutes, objectives, sources"


def _without_id(value: Any, course_id: str) -> Any:
    """`value` with the course id replaced, so two runs of one request compare equal."""
    text = json.dumps(value, default=str, sort_keys=True, ensure_ascii=False)
    return json.loads(text.replace(course_id, "<course>"))


def stored_rows(connect: ConnectionFactory, course_id: str) -> dict[str, Any]:
    """Every row PostgreSQL holds for the course, in a stable order (stored_at left out: it is
    the time of the write, not part of the course)."""
    with session(connect) as conn:
        courses = conn.run(f"SELECT {_COURSE_COLUMNS} FROM courses WHERE course_id = :id", id=course_id)
        sections = conn.run(
            f"SELECT {_SECTION_COLUMNS} FROM course_sections WHERE course_id = :id ORDER BY position",
            id=course_id,
        )
    rows: dict[str, Any] = _without_id({"courses": courses, "sections": sections}, course_id)
    return rows


@dataclass(frozen=True)
class CourseSnapshot:
    """A finished course as the stores hold it, with its id blanked out."""

    status: Status
    version: int
    state: dict[str, Any]
    rows: dict[str, Any]
    outline: dict[str, Any] | None = field(default=None)


def snapshot(flow: Workflow, connect: ConnectionFactory, course_id: str) -> CourseSnapshot:
    state = flow.deps.state_store.get(course_id)
    assert state is not None, f"no state for {course_id}"
    stored = flow.deps.course_store.get(course_id)
    return CourseSnapshot(
        status=state.status,
        version=state.version,
        # Which part's delivery gathered the parts (parallel sections) depends on the order they
        # landed in, not on what the course is.
        state=_without_id(state.model_dump(mode="json", exclude={"fan_in_part"}), course_id),
        rows=stored_rows(connect, course_id),
        outline=_without_id(stored.outline.model_dump(mode="json"), course_id) if stored else None,
    )


def assert_same_course(actual: CourseSnapshot, clean: CourseSnapshot) -> None:
    """The course is the clean run's: complete, every step applied once (the state's version
    counts its writes), one course row, and the very same sections."""
    assert actual.status is Status.COMPLETE, actual.state.get("error")
    assert len(actual.rows["courses"]) == 1
    assert len(actual.rows["sections"]) == len(clean.rows["sections"]) > 0
    assert actual.rows == clean.rows
    assert actual.outline == clean.outline
    assert actual.state == clean.state
    assert actual.version == clean.version


def library_fingerprint(connect: ConnectionFactory) -> list[Any]:
    """Everything the library holds, as data (ordered), to check a failed load changed nothing."""
    with session(connect) as conn:
        return [
            conn.run("SELECT id, title, author, summary FROM books ORDER BY id"),
            conn.run(
                "SELECT book_id, number, title, summary, topics::text, key_concepts::text, sections::text,"
                " md5(embedding::text) FROM chapters ORDER BY book_id, number"
            ),
            conn.run("SELECT embedder_kind, dimension FROM library_meta"),
        ]


def wait_until_terminal(
    read: Callable[[str], CourseState | None], course_ids: Iterable[str], timeout: float
) -> dict[str, CourseState]:
    """The final state of each course; fails naming the ones still running after `timeout`."""
    ids = list(course_ids)
    deadline = time.monotonic() + timeout
    while True:
        states = {course_id: read(course_id) for course_id in ids}
        running = {
            i: s.status.value if s else None for i, s in states.items() if not s or not s.status.is_terminal
        }
        if not running:
            return {i: s for i, s in states.items() if s is not None}
        if time.monotonic() > deadline:
            raise AssertionError(f"courses not finished after {timeout} s: {running}")
        time.sleep(0.02)


def a_request(query: str = "Learn DCF valuation", hours: float = 2.0, **preferences: str) -> CourseRequest:
    return CourseRequest.model_validate({"query": query, "hours": hours, "preferences": preferences})
