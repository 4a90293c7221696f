"""The watchdog in the embedded default: SQLite state with its outbox, the in-process bus, the
sample library in PostgreSQL. A course whose event was lost, or is held by a process that hangs,
is redriven and completes; the local runtime sweeps on the bus's dispatcher.

The courses here were last written an hour ago and nothing else would ever move them: that they
complete is the watchdog's doing, whether the test's sweep or the bus's periodic one got there
first (each acts on a course once)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.adapters import processes
from chalicelib.adapters.sqlite_state import SqliteStateStore
from chalicelib.core.events import EventName, make_event
from chalicelib.core.models import CourseRequest, CourseState, Status
from chalicelib.core.retrieval import search_text
from chalicelib.core.watchdog import format_time
from chalicelib.workflow import Workflow
from tests.support.runtime import bus_of
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow  # whole courses on the embedded PostgreSQL

REQUEST = CourseRequest(query="Learn DCF valuation", hours=1)


def a_stale_course(flow: Workflow, course_id: str) -> CourseState:
    """A course as POST /courses writes it, an hour ago."""
    [embedding] = flow.deps.embedder.embed([search_text(REQUEST.query)])
    written = format_time(datetime.now(UTC) - timedelta(hours=1))
    return CourseState(
        course_id=course_id,
        user_id="local-user",
        request=REQUEST,
        created_at=written,
        updated_at=written,
        embedder=flow.deps.embedder.kind,
        query_embedding=embedding,
    )


def sqlite_store(flow: Workflow) -> SqliteStateStore:
    store = flow.deps.state_store
    assert isinstance(store, SqliteStateStore)
    return store


def finished(flow: Workflow, course_id: str) -> CourseState:
    def done() -> CourseState | None:
        state = flow.deps.state_store.get(course_id)
        return state if state is not None and state.status.is_terminal else None

    state = wait_until(done, 60, f"course {course_id} finished")
    assert state is not None
    return state


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """A live process that never delivers what it claims: a bus that hangs."""
    process = subprocess.Popen(["sleep", "120"])
    yield process
    process.kill()
    process.wait()


def test_the_local_runtime_sweeps_on_the_bus(workflow: Workflow) -> None:
    assert "watchdog" in bus_of(workflow).periodic


def test_a_course_whose_first_event_was_lost_is_redriven_by_the_watchdog_and_completes(
    workflow: Workflow,
) -> None:
    course = workflow.deps.state_store.create(a_stale_course(workflow, "lost-first-event"))  # no event
    # Five minutes after its write it was within the search's deadline: nothing to do then.
    assert workflow.sweep(datetime.now(UTC) - timedelta(minutes=55)).redriven == 0

    summary = workflow.sweep(datetime.now(UTC))

    assert summary.failed == 0 and summary.errors == 0
    final = finished(workflow, course.course_id)
    assert final.status is Status.COMPLETE and final.redrives == 0
    assert bus_of(workflow).wait_idle(30)


def test_a_course_whose_event_a_hung_process_holds_is_redriven_and_completes_once(
    workflow: Workflow, sleeper: subprocess.Popen[bytes]
) -> None:
    store = sqlite_store(workflow)
    course = a_stale_course(workflow, "held-by-a-hung-bus")
    event = make_event(EventName.EMBEDDING_GENERATED, course.course_id)
    hung = f"{processes.token(sleeper.pid)}:bus"
    # The state, then its event already claimed by the process that hangs: no live bus takes it.
    store.create(course)
    with store._connect() as conn:
        conn.execute(
            "INSERT INTO outbox (course_id, name, detail, available_at, owner) VALUES (?, ?, ?, 0, ?)",
            (course.course_id, event.name.value, json.dumps(event.detail_json()), hung),
        )

    summary = workflow.sweep(datetime.now(UTC))

    assert summary.failed == 0 and summary.errors == 0
    final = finished(workflow, course.course_id)
    assert final.status is Status.COMPLETE
    # The hung process ends; its claim goes to the live bus, whose delivery changes nothing.
    sleeper.kill()
    sleeper.wait()
    assert bus_of(workflow).wait_idle(30)
    assert store.get(course.course_id) == final
    assert store.outbox.undelivered() == 0
