"""The local runtime's outbox: a state write and the event it announces commit together, entries
outlive the process that wrote them, a delivery that keeps failing is retried over a bounded
window and then dead-lettered with a reason a person can read."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chalice.app import Chalice, CloudWatchEvent

from chalicelib.adapters import processes
from chalicelib.adapters.local_bus import DeliveryFailed, LocalBus, describe
from chalicelib.adapters.sqlite_state import SqliteStateStore
from chalicelib.core.events import EventName, make_event, pattern_for
from chalicelib.core.models import Status
from chalicelib.errors import StaleState, TransientError
from tests.integration.test_state_store_contract import make_state
from tests.support.waiting import wait_until


class Handlers:
    """A Chalice app with one handler for EmbeddingGenerated that records, or fails, each call."""

    def __init__(self) -> None:
        self.app = Chalice(app_name="outbox-test")
        self.seen: list[str] = []
        self.failures = 0  # calls still to fail
        self.lock = threading.Lock()

        @self.app.on_cw_event(pattern_for(EventName.EMBEDDING_GENERATED), name="first-step")
        def first_step(event: CloudWatchEvent) -> None:
            with self.lock:
                if self.failures > 0:
                    self.failures -= 1
                    raise TransientError("PostgreSQL is unavailable: communication error")
                self.seen.append(event.detail["course_id"])


@pytest.fixture
def store(tmp_path: Path) -> SqliteStateStore:
    return SqliteStateStore(tmp_path / "state.sqlite3")


@pytest.fixture
def handlers() -> Handlers:
    return Handlers()


@pytest.fixture
def buses() -> Iterator[list[LocalBus]]:
    made: list[LocalBus] = []
    yield made
    for bus in made:
        bus.close()


def a_bus(store: SqliteStateStore, handlers: Handlers, buses: list[LocalBus], **options: Any) -> LocalBus:
    bus = LocalBus(handlers.app, outbox=store.outbox, poll_interval=0.02, **options)
    buses.append(bus)
    return bus


def outbox_rows(store: SqliteStateStore) -> list[tuple[Any, ...]]:
    with store._connect() as conn:
        return list(
            conn.execute("SELECT course_id, name, attempts, owner, delivered_at FROM outbox ORDER BY id")
        )


def first_event(course_id: str = "course-1") -> Any:
    return make_event(EventName.EMBEDDING_GENERATED, course_id)


def test_a_created_course_and_its_first_event_commit_together(
    store: SqliteStateStore, handlers: Handlers, buses: list[LocalBus]
) -> None:
    bus = a_bus(store, handlers, buses)
    store.create_and_publish(make_state(), first_event(), bus)

    assert store.get("course-1") is not None
    assert [row[:3] for row in outbox_rows(store)] == [("course-1", "EmbeddingGenerated", 0)]
    assert list(bus.history) == [first_event()]
    assert bus.wait_idle(timeout=10)
    assert handlers.seen == ["course-1"] and outbox_rows(store)[0][4] is not None


def test_a_stale_save_writes_no_event(
    store: SqliteStateStore, handlers: Handlers, buses: list[LocalBus]
) -> None:
    bus = a_bus(store, handlers, buses)
    created = store.create(make_state())
    store.save(created)

    with pytest.raises(StaleState):
        store.save_and_publish(created, first_event(), bus)

    assert outbox_rows(store) == []


def test_a_course_id_taken_writes_neither_state_nor_event(
    store: SqliteStateStore, handlers: Handlers, buses: list[LocalBus]
) -> None:
    bus = a_bus(store, handlers, buses)
    first = store.create(make_state(user_id="user-a"))

    with pytest.raises(StaleState):
        store.create_and_publish(make_state(user_id="user-b"), first_event(), bus)

    assert store.get("course-1") == first and outbox_rows(store) == []


def test_a_publisher_that_does_not_deliver_this_outbox_gets_the_event_after_the_write(
    store: SqliteStateStore, handlers: Handlers, buses: list[LocalBus]
) -> None:
    elsewhere = LocalBus(handlers.app)  # an outbox of its own, in memory
    buses.append(elsewhere)

    store.create_and_publish(make_state(), first_event(), elsewhere)

    assert outbox_rows(store) == []
    wait_until(lambda: handlers.seen, 10, "the delivery")


def test_a_bus_that_starts_delivers_what_an_earlier_process_left(
    store: SqliteStateStore, handlers: Handlers, buses: list[LocalBus]
) -> None:
    store.outbox.add(first_event("left-1"))
    store.outbox.add(first_event("left-2"))

    bus = a_bus(store, handlers, buses)
    bus.start()

    assert bus.wait_idle(timeout=10)
    assert sorted(handlers.seen) == ["left-1", "left-2"]
    assert all(row[4] is not None for row in outbox_rows(store))  # marked delivered


ME = f"{processes.token()}:test-bus"


def dead_token() -> str:
    """The token of a process that has ended."""
    child = subprocess.Popen(["true"])
    token = processes.token(child.pid)
    child.wait()
    return token


def test_an_entry_held_by_a_dead_process_is_claimed_again_and_one_held_by_a_live_one_is_not(
    store: SqliteStateStore,
) -> None:
    store.outbox.add(first_event("held-by-dead"))
    store.outbox.add(first_event("held-by-live"))
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        with store._connect() as conn:
            conn.execute(
                "UPDATE outbox SET owner = ? WHERE course_id = 'held-by-dead'", (f"{dead_token()}:bus",)
            )
            live = f"{processes.token(sleeper.pid)}:bus"
            conn.execute("UPDATE outbox SET owner = ? WHERE course_id = 'held-by-live'", (live,))

        claimed = store.outbox.claim(ME, time.time(), 10)
    finally:
        sleeper.kill()
        sleeper.wait()

    assert [entry.event.course_id for entry in claimed] == ["held-by-dead"]
    assert [entry.event.course_id for entry in store.outbox.claim(ME, time.time(), 10)] == ["held-by-live"]


def test_a_failing_delivery_is_retried_with_backoff_and_keeps_its_attempts_across_processes(
    store: SqliteStateStore, handlers: Handlers, buses: list[LocalBus]
) -> None:
    handlers.failures = 3
    bus = a_bus(store, handlers, buses, retry_delay=0.05, max_delay=0.2)
    store.outbox.add(first_event())
    wait_until(lambda: handlers.failures <= 1, 10, "two failed attempts")
    bus.close()  # the process ends between attempts: what it held is given back
    assert outbox_rows(store)[0][2] >= 2 and outbox_rows(store)[0][4] is None

    a_bus(store, handlers, buses, retry_delay=0.05, max_delay=0.2).start()

    wait_until(lambda: handlers.seen, 10, "the delivery after the restart")
    assert handlers.seen == ["course-1"] and handlers.failures == 0


def test_a_delivery_failing_for_the_whole_window_is_dead_lettered_with_a_sentence(
    store: SqliteStateStore, handlers: Handlers, buses: list[LocalBus]
) -> None:
    handlers.failures = 10_000
    letters: list[tuple[str, BaseException]] = []
    bus = a_bus(
        store,
        handlers,
        buses,
        retry_delay=0.05,
        max_delay=0.1,
        retry_window=0.6,
        on_dead_letter=lambda name, message, error: letters.append((name, error)),
    )
    started = time.monotonic()
    store.outbox.add(first_event())

    wait_until(lambda: letters, 10, "the dead letter")
    assert bus.wait_idle(timeout=10)

    [(name, error)] = letters
    assert name == "first-step" and isinstance(error, DeliveryFailed)
    reason = describe(error)
    assert reason.startswith("gave up after ") and " attempts in " in reason
    assert reason.endswith(": PostgreSQL is unavailable: communication error")
    assert "Error" not in reason
    assert 0.5 <= time.monotonic() - started < 5  # the window bounds the retries
    assert outbox_rows(store)[0][4] is not None  # settled: never delivered again


def test_describe_says_what_went_wrong_without_class_names() -> None:
    assert describe(TransientError("PostgreSQL is unavailable: x")) == "PostgreSQL is unavailable: x"
    assert describe(KeyError("part")) == "an unexpected error occurred ('part')"
    assert describe(RuntimeError()) == "an unexpected error occurred"


def test_the_workflow_states_written_with_an_event_read_back_as_written(
    store: SqliteStateStore, handlers: Handlers, buses: list[LocalBus]
) -> None:
    bus = a_bus(store, handlers, buses)
    created = store.create_and_publish(make_state(), first_event(), bus)
    moved = created.model_copy(update={"status": Status.REVIEWING})

    saved = store.save_and_publish(moved, make_event(EventName.ALL_PARTS_COMPLETE, "course-1"), bus)

    assert store.get("course-1") == saved and saved.version == 2
    assert [row[1] for row in outbox_rows(store)] == ["EmbeddingGenerated", "AllPartsComplete"]


def test_the_bus_runs_at_most_its_bound_of_deliveries_at_once_and_the_others_wait(
    store: SqliteStateStore, buses: list[LocalBus]
) -> None:
    app = Chalice(app_name="bound-test")
    running, most, lock = [0], [0], threading.Lock()
    release = threading.Event()

    @app.on_cw_event(pattern_for(EventName.PARTS_GENERATED), name="one-part")
    def one_part(event: CloudWatchEvent) -> None:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        release.wait(timeout=30)  # a model call that lasts until the test has counted
        with lock:
            running[0] -= 1

    bus = LocalBus(app, outbox=store.outbox, poll_interval=0.02)
    buses.append(bus)
    assert bus.workers == 8  # every part of the longest course (five) at once, and a few more
    for k in range(12):
        bus.publish(make_event(EventName.PARTS_GENERATED, "course-1", part_index=k))

    try:
        wait_until(lambda: running[0] == 8, timeout=10, what="eight deliveries running")
        assert store.outbox.waiting(bus.owner) == 12  # eight held and running, four not claimed
        assert running[0] == 8
    finally:
        release.set()
    assert bus.wait_idle(timeout=30)
    assert most[0] == 8 and store.outbox.undelivered() == 0


# --- work the dispatcher does between deliveries (the watchdog's sweep) --------------------------


def test_a_periodic_task_runs_when_the_dispatcher_starts_and_again_after_an_error(
    store: SqliteStateStore, handlers: Handlers, buses: list[LocalBus], caplog: pytest.LogCaptureFixture
) -> None:
    bus = a_bus(store, handlers, buses)
    runs: list[int] = []

    def task() -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            raise TransientError("the course state database is busy")

    bus.every(0.05, task, "sweep")
    assert runs == [] and bus.periodic == ["sweep"]  # nothing runs before the dispatcher starts
    bus.start()

    wait_until(lambda: len(runs) >= 3, 10, "three runs of the task")
    assert "sweep did not run: the course state database is busy" in caplog.text
    store.outbox.add(first_event())  # deliveries go on beside it
    wait_until(lambda: handlers.seen == ["course-1"], 10, "the delivery")
    with pytest.raises(ValueError, match="interval of sweep must be positive"):
        bus.every(0, task, "sweep")
