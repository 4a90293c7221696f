"""One StateStore contract, run against the in-memory fake, SQLite and DynamoDB (on moto).

The DynamoDB-only tests at the end check TTL and the size of the largest course's state item.
"""

from __future__ import annotations

import random
import sqlite3
import struct
import subprocess
import threading
import uuid
import zlib
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chalicelib.adapters import processes
from chalicelib.adapters.dynamodb_state import IDLE_INDEX, DynamoDBStateStore, create_table
from chalicelib.adapters.memory_state import InMemoryStateStore
from chalicelib.adapters.sqlite_state import IDLE_QUERY, SqliteStateStore
from chalicelib.core.events import Event, EventName, make_event
from chalicelib.core.models import (
    MAX_HOURS,
    ChapterHit,
    ChapterRef,
    CourseRequest,
    CourseState,
    Depth,
    Pace,
    PartPlan,
    PartResult,
    PhaseUsage,
    PlannedPart,
    Preferences,
    ReviewNotes,
    SectionPlan,
    Status,
    TokenUsage,
)
from chalicelib.core.paging import PageKey
from chalicelib.errors import StaleState
from chalicelib.ports import (
    EventNotPublished,
    EventPublisher,
    KeyedCourse,
    RequestKey,
    RequestKeyTaken,
    StateStore,
)

REGION = "us-east-1"
TABLE = "docprof-test-course-state"
DYNAMODB_ITEM_LIMIT = 400 * 1024
ANNOUNCED = make_event(EventName.PARTS_GENERATED, "course-1")


def as_float32(values: list[float]) -> list[float]:
    return list(struct.unpack(f"<{len(values)}f", struct.pack(f"<{len(values)}f", *values)))


def make_state(
    course_id: str = "course-1", user_id: str = "user-a", created_at: str = "2025-03-01T10:00:00+00:00"
) -> CourseState:
    """A mid-workflow state that uses every field, with text that is not plain ASCII."""
    book = ChapterRef(book_id="book-1", chapter_number=3)
    section = SectionPlan(
        title="Free cash flow \u2013 from EBIT to FCFF",
        minutes=30,
        objectives=["Compute free cash flow to the firm", "Explain why capex is subtracted"],
        sources=[book],
    )
    return CourseState(
        course_id=course_id,
        user_id=user_id,
        request=CourseRequest(
            query="Learn DCF valuation",
            hours=2.0,
            preferences=Preferences(depth=Depth.EXPERT, pace=Pace.QUICK),
        ),
        status=Status.GENERATING_SECTIONS,
        created_at=created_at,
        updated_at=created_at,
        embedder="offline-test:4",
        # None of these is exactly representable as float32.
        query_embedding=[0.1, 1 / 3, -2.718281828459045, 1e-9],
        title="DCF valuation, café edition",
        chapters=[
            ChapterHit(
                book_id="book-1",
                book_title="Valuation",
                chapter_number=3,
                chapter_title="Cash flows",
                summary="Modigliani\u2013Miller, WACC and the cost of capital.",
                topics=["free cash flow"],
                key_concepts=["FCFF", "FCFE"],
                similarity=0.8123456789,
            )
        ],
        parts=[
            PartPlan(title="Foundations", minutes=60, chapters=[book]),
            PartPlan(title="Practice", minutes=60),
        ],
        sections=[[section, section.model_copy(update={"sources": []})]],
        reviewed=[PlannedPart(title="Foundations", minutes=60, sections=[section])],
        review=ReviewNotes(failed_checks=["budget"], changes=["rebalanced minutes"], revised=True),
    )


def part_result(name: str) -> PartResult:
    """One part's result, named so two of them differ."""
    section = SectionPlan(
        title=f"{name} \u2013 sections",
        minutes=25,
        objectives=["Compute free cash flow to the firm", f"Explain {name}"],
        sources=[ChapterRef(book_id="book-1", chapter_number=3)],
    )
    usage = TokenUsage(sections=PhaseUsage(prompt_tokens=1200, completion_tokens=300, calls=1))
    return PartResult(sections=[section, section.model_copy(update={"minutes": 35})], usage=usage)


def saved_at(state: CourseState, version: int) -> CourseState:
    """What a store should hand back: the state at `version`, embedding rounded to float32."""
    return state.model_copy(update={"version": version, "query_embedding": as_float32(state.query_embedding)})


def race_to_save(store: StateStore, read: CourseState, writers: list[str]) -> list[str]:
    """Each writer saves `read` with its own title at the same moment; returns who won or 'stale'."""
    barrier = threading.Barrier(len(writers))
    outcomes: list[str] = []

    def save_as(writer: str) -> None:
        barrier.wait()
        try:
            store.save(read.model_copy(update={"title": writer}))
            outcomes.append(writer)
        except StaleState:
            outcomes.append("stale")

    threads = [threading.Thread(target=save_as, args=(writer,)) for writer in writers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


class RecordingPublisher(EventPublisher):
    def __init__(self, refuse: bool = False) -> None:
        self.events: list[Event] = []
        self.refuse = refuse

    def publish(self, event: Event) -> None:
        if self.refuse:
            raise ConnectionError("the bus is unreachable")
        self.events.append(event)


class StateStoreContract:
    """Behaviour every StateStore shares; subclasses provide the `store` fixture."""

    def test_save_and_publish_publishes_after_the_write_and_a_stale_save_publishes_nothing(
        self, store: StateStore
    ) -> None:
        publisher = RecordingPublisher()
        created = store.create_and_publish(make_state(), ANNOUNCED, publisher)
        saved = store.save_and_publish(created.model_copy(update={"title": "moved on"}), ANNOUNCED, publisher)

        with pytest.raises(StaleState):
            store.save_and_publish(created, ANNOUNCED, publisher)

        assert publisher.events == [ANNOUNCED, ANNOUNCED]
        assert store.get(created.course_id) == saved and saved.version == 2

    def test_a_created_state_whose_event_is_refused_is_reported_with_the_state(
        self, store: StateStore
    ) -> None:
        with pytest.raises(EventNotPublished) as raised:
            store.create_and_publish(make_state(), ANNOUNCED, RecordingPublisher(refuse=True))

        assert raised.value.state == store.get("course-1") == saved_at(make_state(), 1)

    @pytest.fixture
    def store(self) -> StateStore:
        raise NotImplementedError

    # --- parallel sections: a result per part, written beside the state -------------------------

    def test_save_and_publish_all_publishes_every_event_in_order_after_the_write(
        self, store: StateStore
    ) -> None:
        publisher = RecordingPublisher()
        created = store.create(make_state())
        events = [make_event(EventName.PARTS_GENERATED, "course-1", part_index=k) for k in range(3)]

        saved = store.save_and_publish_all(created, events, publisher)
        with pytest.raises(StaleState):
            store.save_and_publish_all(created, events, publisher)

        assert publisher.events == events
        assert store.get("course-1") == saved and saved.version == 2

    def test_part_results_read_back_intact_and_leave_the_state_alone(self, store: StateStore) -> None:
        created = store.create(make_state())
        store.create(make_state("course-2"))
        first, second = part_result("first"), part_result("second")

        store.put_part("course-1", 0, first)
        store.put_part("course-1", 2, second)
        store.put_part("course-2", 1, part_result("another course"))

        assert store.get_parts("course-1", 3) == {0: first, 2: second}
        assert store.get_parts("course-1", 2) == {0: first}
        assert store.get_parts("never-created", 3) == {}
        assert store.get("course-1") == created  # no version bump: the parts never race the state
        assert store.save(created).version == 2
        assert [s.course_id for s in store.list_for_user("user-a")] == ["course-2", "course-1"]

    def test_a_part_written_twice_keeps_the_first_result(self, store: StateStore) -> None:
        store.create(make_state())
        store.put_part("course-1", 1, part_result("first"))

        with pytest.raises(StaleState):
            store.put_part("course-1", 1, part_result("second"))

        assert store.get_parts("course-1", 2) == {1: part_result("first")}

    def test_parts_written_at_the_same_instant_all_land_and_a_doubled_part_lands_once(
        self, store: StateStore
    ) -> None:
        store.create(make_state())
        writers = [(k, f"part {k}") for k in range(5)] + [(2, "part 2 again"), (4, "part 4 again")]
        barrier = threading.Barrier(len(writers))
        outcomes: list[tuple[int, str]] = []

        def write(part_index: int, name: str) -> None:
            barrier.wait()
            try:
                store.put_part("course-1", part_index, part_result(name))
                outcomes.append((part_index, name))
            except StaleState:
                outcomes.append((part_index, "stale"))

        threads = [threading.Thread(target=write, args=writer) for writer in writers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        written = store.get_parts("course-1", 5)
        assert sorted(written) == [0, 1, 2, 3, 4]
        assert sorted(k for k, name in outcomes if name == "stale") == [2, 4]
        for part_index, name in outcomes:
            if name != "stale":
                assert written[part_index] == part_result(name)

    def test_put_part_and_publish_publishes_after_the_write_and_a_refused_write_publishes_nothing(
        self, store: StateStore
    ) -> None:
        publisher = RecordingPublisher()
        store.create(make_state())
        landed = make_event(EventName.PART_SECTIONS_GENERATED, "course-1", part_index=0)

        store.put_part_and_publish("course-1", 0, part_result("first"), landed, publisher)
        with pytest.raises(StaleState):
            store.put_part_and_publish("course-1", 0, part_result("second"), landed, publisher)

        assert publisher.events == [landed]
        assert store.get_parts("course-1", 1) == {0: part_result("first")}

    def test_a_created_state_reads_back_with_every_field_intact(self, store: StateStore) -> None:
        state = make_state()

        created = store.create(state)

        assert created == saved_at(state, 1)
        assert store.get(state.course_id) == saved_at(state, 1)

    def test_the_embedding_reads_back_exactly_as_float32(self, store: StateStore) -> None:
        state = make_state()

        store.create(state)

        stored = store.get(state.course_id)
        assert stored is not None
        assert stored.query_embedding == as_float32(state.query_embedding)
        assert stored.query_embedding != state.query_embedding

    def test_creating_a_course_id_that_exists_raises_stale_state_and_keeps_the_first(
        self, store: StateStore
    ) -> None:
        first = store.create(make_state(user_id="user-a"))

        with pytest.raises(StaleState):
            store.create(make_state(user_id="user-b"))

        assert store.get(first.course_id) == first

    def test_saving_bumps_the_version_and_stores_the_new_state(self, store: StateStore) -> None:
        created = store.create(make_state())
        changed = created.model_copy(update={"status": Status.REVIEWING, "title": "New title"})

        saved = store.save(changed)

        assert saved.version == 2
        assert saved == saved_at(changed, 2)
        assert store.get(created.course_id) == saved

    def test_saving_a_stale_version_raises_and_leaves_the_stored_state_unchanged(
        self, store: StateStore
    ) -> None:
        created = store.create(make_state())
        winner = store.save(created.model_copy(update={"title": "winner"}))

        with pytest.raises(StaleState):
            store.save(created.model_copy(update={"title": "loser", "status": Status.FAILED}))

        assert store.get(created.course_id) == winner

    def test_saving_a_course_that_was_never_created_raises_stale_state(self, store: StateStore) -> None:
        with pytest.raises(StaleState):
            store.save(make_state(course_id="never-created"))

        assert store.get("never-created") is None

    def test_of_two_threads_saving_the_same_version_exactly_one_wins(self, store: StateStore) -> None:
        current = store.create(make_state())
        rounds = 10
        for round_ in range(rounds):
            outcomes = race_to_save(store, current, [f"writer-{round_}-1", f"writer-{round_}-2"])

            assert len(outcomes) == 2 and outcomes.count("stale") == 1, outcomes
            stored = store.get(current.course_id)
            assert stored is not None
            assert stored.title == next(outcome for outcome in outcomes if outcome != "stale")
            current = stored
        assert current.version == 1 + rounds

    def test_list_for_user_returns_only_that_users_courses_newest_first(self, store: StateStore) -> None:
        store.create(make_state("c-old", "user-a", "2025-03-01T09:00:00+00:00"))
        store.create(make_state("c-other", "user-b", "2025-03-01T09:30:00+00:00"))
        store.create(make_state("c-new", "user-a", "2025-03-01T11:00:00+00:00"))
        store.create(make_state("c-mid", "user-a", "2025-03-01T10:00:00+00:00"))

        listed = store.list_for_user("user-a")

        assert [state.course_id for state in listed] == ["c-new", "c-mid", "c-old"]
        assert listed[0] == saved_at(make_state("c-new", "user-a", "2025-03-01T11:00:00+00:00"), 1)

    def test_list_for_user_returns_at_most_limit_courses_the_newest_ones(self, store: StateStore) -> None:
        for hour in range(10, 15):
            store.create(make_state(f"c-{hour}", "user-a", f"2025-03-01T{hour}:00:00+00:00"))

        listed = store.list_for_user("user-a", limit=2)

        assert [state.course_id for state in listed] == ["c-14", "c-13"]

    def test_list_for_user_shows_the_latest_saved_version(self, store: StateStore) -> None:
        created = store.create(make_state())
        saved = store.save(created.model_copy(update={"status": Status.COMPLETE}))

        assert store.list_for_user(created.user_id) == [saved]

    def test_list_for_a_user_without_courses_is_empty(self, store: StateStore) -> None:
        store.create(make_state(user_id="user-a"))

        assert store.list_for_user("user-nobody") == []

    def test_paging_visits_every_course_of_the_user_once_newest_first(self, store: StateStore) -> None:
        # Three courses share a timestamp: the id breaks the tie, in byte order.
        times = ["09:00:00", "10:00:00", "10:00:00", "10:00:00", "11:00:00", "08:00:00", "12:00:00"]
        ids = ["c-a", "c-B", "c-b", "c-c", "c-d", "c-e", "c-f"]
        for course_id, time in zip(ids, times, strict=True):
            store.create(make_state(course_id, "user-a", f"2025-03-01T{time}.000Z"))
        store.create(make_state("c-other", "user-b", "2025-03-01T10:00:00.000Z"))
        expected = ["c-f", "c-d", "c-c", "c-b", "c-B", "c-a", "c-e"]

        for limit in (1, 2, 3, 10):
            seen: list[str] = []
            before = None
            while True:
                page = store.list_page("user-a", limit, before=before)
                assert len(page) <= limit
                seen += [state.course_id for state in page]
                if len(page) < limit:
                    break
                before = PageKey(page[-1].created_at, page[-1].course_id)
            assert seen == expected, limit

    def test_paging_by_status_lists_only_courses_in_that_status(self, store: StateStore) -> None:
        for n in range(6):
            created = store.create(make_state(f"c-{n}", "user-a", f"2025-03-01T1{n}:00:00.000Z"))
            if n % 2:
                store.save(created.model_copy(update={"status": Status.FAILED}))

        failed = store.list_page("user-a", 2, status=Status.FAILED)
        assert [state.course_id for state in failed] == ["c-5", "c-3"]
        rest = store.list_page(
            "user-a", 2, before=PageKey(failed[-1].created_at, "c-3"), status=Status.FAILED
        )
        assert [state.course_id for state in rest] == ["c-1"]
        assert store.list_page("user-a", 5, status=Status.COMPLETE) == []
        assert [s.course_id for s in store.list_page("user-a", 1, status=Status.GENERATING_SECTIONS)] == [
            "c-4"
        ]

    def test_deleting_at_the_current_version_removes_the_state(self, store: StateStore) -> None:
        created = store.create(make_state())
        saved = store.save(created.model_copy(update={"status": Status.COMPLETE}))

        with pytest.raises(StaleState):
            store.delete(saved.course_id, created.version)  # moved on since
        assert store.get(saved.course_id) == saved
        store.put_part(saved.course_id, 1, part_result("parallel sections"))
        store.put_part("course-2", 0, part_result("another course's"))
        store.delete(saved.course_id, saved.version)
        assert store.get(saved.course_id) is None
        assert store.get_parts(saved.course_id, 3) == {}  # its part results went with it
        assert store.get_parts("course-2", 1) != {}
        assert store.list_page(saved.user_id, 5) == []
        with pytest.raises(StaleState):
            store.delete(saved.course_id, saved.version)  # gone
        store.create(make_state())  # the id is free again

    # --- the watchdog's view: courses in progress, idle since a time -------------------------

    def test_idle_lists_the_courses_in_a_status_written_before_a_time_longest_idle_first(
        self, store: StateStore
    ) -> None:
        # Timestamps in the forms the stores meet: the clock's (Z, milliseconds) and an offset.
        written = {
            "c-a": (Status.GENERATING_SECTIONS, "2025-03-01T10:00:00.000Z"),
            "c-b": (Status.GENERATING_SECTIONS, "2025-03-01T10:30:00+01:00"),  # 09:30 UTC
            "c-c": (Status.GENERATING_SECTIONS, "2025-03-01T11:59:59.999Z"),
            "c-d": (Status.GENERATING_SECTIONS, "2025-03-01T12:00:00.000Z"),  # not before noon
            "c-e": (Status.REVIEWING, "2025-03-01T08:00:00.000Z"),  # another status
            "c-f": (Status.GENERATING_SECTIONS, "2025-03-01T09:00:00.000Z"),
        }
        for course_id, (status, updated_at) in written.items():
            state = make_state(course_id).model_copy(update={"status": status, "updated_at": updated_at})
            store.create(state)
        store.put_part("c-a", 0, part_result("a part result is never a course"))
        noon = datetime(2025, 3, 1, 12, tzinfo=UTC)

        idle = store.idle(Status.GENERATING_SECTIONS, noon, 10)

        assert [state.course_id for state in idle] == ["c-f", "c-b", "c-a", "c-c"]
        assert idle[0] == saved_at(
            make_state("c-f").model_copy(update={"updated_at": "2025-03-01T09:00:00.000Z"}), 1
        )
        assert [s.course_id for s in store.idle(Status.GENERATING_SECTIONS, noon, 2)] == ["c-f", "c-b"]
        assert [s.course_id for s in store.idle(Status.REVIEWING, noon, 10)] == ["c-e"]
        assert store.idle(Status.QUEUED, noon, 10) == []
        assert store.idle(Status.GENERATING_SECTIONS, noon - timedelta(hours=5), 10) == []

    def test_a_course_leaves_the_idle_list_when_it_finishes_or_is_written_again(
        self, store: StateStore
    ) -> None:
        old = "2025-03-01T10:00:00.000Z"
        created = {
            n: store.create(
                make_state(f"c-{n}").model_copy(update={"status": Status.PLANNING, "updated_at": old})
            )
            for n in range(4)
        }
        noon = datetime(2025, 3, 1, 12, tzinfo=UTC)
        assert len(store.idle(Status.PLANNING, noon, 10)) == 4

        store.save(created[0].model_copy(update={"status": Status.COMPLETE}))
        store.save(created[1].model_copy(update={"status": Status.FAILED}))
        store.save(created[2].model_copy(update={"updated_at": "2025-03-01T12:00:01.000Z"}))
        moved = store.save(created[3].model_copy(update={"status": Status.GENERATING_SECTIONS}))

        assert store.idle(Status.PLANNING, noon, 10) == []
        assert store.idle(Status.GENERATING_SECTIONS, noon, 10) == [moved]
        assert store.idle(Status.PLANNING, noon + timedelta(hours=1), 10) == [
            store.get("c-2")
        ]  # idle again once the new write is old enough

    @pytest.mark.parametrize("status", [Status.COMPLETE, Status.FAILED])
    def test_idle_refuses_a_status_that_is_not_in_progress(self, store: StateStore, status: Status) -> None:
        with pytest.raises(ValueError, match=f"a {status.value} course is not in progress"):
            store.idle(status, datetime(2025, 3, 1, tzinfo=UTC), 10)

    def test_getting_an_unknown_course_returns_none(self, store: StateStore) -> None:
        assert store.get("no-such-course") is None

    def test_mutating_a_state_after_writing_or_reading_it_does_not_change_the_stored_one(
        self, store: StateStore
    ) -> None:
        state = make_state()
        created = store.create(state)

        state.parts.clear()
        created.chapters.clear()
        read = store.get(state.course_id)
        assert read is not None
        read.sections.clear()

        assert store.get(state.course_id) == saved_at(make_state(), 1)


# --- request keys (Idempotency-Key): one course per caller and key, however often it is sent ---

NOW = 1_750_000_000.0
DAY = 24 * 3600.0


def a_key(
    key: str = "key-1", user_id: str = "user-a", fingerprint: str = "f1", now: float = NOW
) -> RequestKey:
    return RequestKey(user_id=user_id, key=key, fingerprint=fingerprint, now=now, expires_at=now + DAY)


def keyed(store: StateStore, course_id: str, key: RequestKey, replaces: str | None = None) -> CourseState:
    return store.create_keyed_and_publish(
        make_state(course_id, key.user_id),
        key,
        make_event(EventName.EMBEDDING_GENERATED, course_id),
        RecordingPublisher(),
        replaces,
    )


class RequestKeyContract:
    """What every store does with request keys; mixed into each store's test class."""

    def test_a_keyed_course_is_found_by_its_caller_and_key_only(self, store: StateStore) -> None:
        publisher = RecordingPublisher()
        event = make_event(EventName.EMBEDDING_GENERATED, "course-1")
        created = store.create_keyed_and_publish(make_state(), a_key(), event, publisher)

        assert created == store.get("course-1") == saved_at(make_state(), 1)
        assert publisher.events == [event]
        assert store.find_keyed("user-a", "key-1", NOW) == KeyedCourse(course_id="course-1", fingerprint="f1")
        assert store.find_keyed("user-b", "key-1", NOW) is None  # keys are per caller
        assert store.find_keyed("user-a", "key-2", NOW) is None

    def test_a_taken_key_creates_and_publishes_nothing_and_names_the_course_it_holds(
        self, store: StateStore
    ) -> None:
        keyed(store, "course-1", a_key())
        publisher = RecordingPublisher()

        with pytest.raises(RequestKeyTaken) as raised:
            store.create_keyed_and_publish(
                make_state("course-2"), a_key(fingerprint="f2"), ANNOUNCED, publisher
            )

        assert raised.value.taken == KeyedCourse(course_id="course-1", fingerprint="f1")
        assert store.get("course-2") is None and publisher.events == []
        assert store.find_keyed("user-a", "key-1", NOW) == KeyedCourse("course-1", "f1")
        # Another caller's same key is another key.
        assert keyed(store, "course-3", a_key(user_id="user-b")).course_id == "course-3"

    def test_an_expired_key_answers_nothing_and_may_be_used_again(self, store: StateStore) -> None:
        keyed(store, "course-1", a_key())
        later = NOW + DAY + 1

        assert store.find_keyed("user-a", "key-1", NOW + DAY) is not None
        assert store.find_keyed("user-a", "key-1", later) is None
        keyed(store, "course-2", a_key(fingerprint="f2", now=later))
        assert store.find_keyed("user-a", "key-1", later) == KeyedCourse("course-2", "f2")
        assert store.get("course-1") is not None  # the first course stays

    def test_a_key_is_taken_over_only_from_the_course_it_replaces(self, store: StateStore) -> None:
        keyed(store, "course-1", a_key())

        with pytest.raises(RequestKeyTaken):
            keyed(store, "course-2", a_key(), replaces="some-other-course")
        keyed(store, "course-3", a_key(), replaces="course-1")

        assert store.find_keyed("user-a", "key-1", NOW) == KeyedCourse("course-3", "f1")
        assert store.get("course-2") is None

    def test_a_course_id_taken_already_records_no_key(self, store: StateStore) -> None:
        store.create(make_state("course-1"))

        with pytest.raises(StaleState):
            keyed(store, "course-1", a_key())

        assert store.find_keyed("user-a", "key-1", NOW) is None

    def test_a_keyed_course_whose_event_is_refused_is_reported_and_keeps_its_key(
        self, store: StateStore
    ) -> None:
        with pytest.raises(EventNotPublished) as raised:
            store.create_keyed_and_publish(make_state(), a_key(), ANNOUNCED, RecordingPublisher(refuse=True))

        assert raised.value.state == store.get("course-1")
        assert store.find_keyed("user-a", "key-1", NOW) == KeyedCourse("course-1", "f1")

    def test_concurrent_requests_with_one_key_create_exactly_one_course(self, store: StateStore) -> None:
        writers = [f"course-{n}" for n in range(4)]
        barrier = threading.Barrier(len(writers))
        won: list[str] = []
        lost: list[KeyedCourse] = []

        def send(course_id: str) -> None:
            barrier.wait()
            try:
                won.append(keyed(store, course_id, a_key()).course_id)
            except RequestKeyTaken as taken:
                lost.append(taken.taken)

        threads = [threading.Thread(target=send, args=(course_id,)) for course_id in writers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert len(won) == 1 and len(lost) == len(writers) - 1
        assert all(taken == KeyedCourse(won[0], "f1") for taken in lost)
        assert [c for c in writers if store.get(c) is not None] == won
        assert store.find_keyed("user-a", "key-1", NOW) == KeyedCourse(won[0], "f1")


class TestInMemoryStateStore(StateStoreContract, RequestKeyContract):
    @pytest.fixture
    def store(self) -> StateStore:
        return InMemoryStateStore()


class TestSqliteStateStore(StateStoreContract, RequestKeyContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> StateStore:
        return SqliteStateStore(tmp_path / "state" / "courses.sqlite3")

    def test_a_second_store_on_the_same_file_sees_the_first_ones_writes(self, tmp_path: Path) -> None:
        path = tmp_path / "courses.sqlite3"
        created = SqliteStateStore(path).create(make_state())

        assert SqliteStateStore(path).get(created.course_id) == created

    def test_a_course_whose_event_waits_in_the_outbox_is_left_to_the_bus(self, tmp_path: Path) -> None:
        store = SqliteStateStore(tmp_path / "courses.sqlite3")
        publisher = OutboxPublisher(store)
        old = make_state().model_copy(
            update={"status": Status.PLANNING, "updated_at": "2025-03-01T10:00:00Z"}
        )
        store.create_and_publish(old, make_event(EventName.BOOK_SUMMARIES_FOUND, "course-1"), publisher)
        noon = datetime(2025, 3, 1, 12, tzinfo=UTC)
        assert store.idle(Status.PLANNING, noon, 10) == []  # waiting, unclaimed: on its way

        sleeper = subprocess.Popen(["sleep", "30"])
        try:
            [entry] = store.outbox.claim(
                f"{processes.token(sleeper.pid)}:bus", datetime.now(UTC).timestamp(), 10
            )
            # Claimed by a live process: delivered now, or that process hangs; the deadline tells.
            assert [s.course_id for s in store.idle(Status.PLANNING, noon, 10)] == ["course-1"]
        finally:
            sleeper.kill()
            sleeper.wait()
        # Its holder ended: the next dispatcher claims it again, so it is on its way again.
        assert store.idle(Status.PLANNING, noon, 10) == []
        store.outbox.settle(entry.id, datetime.now(UTC).timestamp())
        assert [s.course_id for s in store.idle(Status.PLANNING, noon, 10)] == ["course-1"]

    def test_the_idle_query_reads_the_partial_index_of_courses_in_progress(self, tmp_path: Path) -> None:
        path = tmp_path / "courses.sqlite3"
        SqliteStateStore(path)

        with sqlite3.connect(path) as conn:
            plan = conn.execute(
                f"EXPLAIN QUERY PLAN {IDLE_QUERY}", ("planning", "2025-03-01T12:00:00.000Z", 5)
            ).fetchall()
        assert "course_state_idle" in " ".join(str(row[-1]) for row in plan)
        assert not any(str(row[-1]).strip() == "SCAN c" for row in plan)

    def test_a_file_from_before_the_watchdog_gains_the_column_and_index_on_open(self, tmp_path: Path) -> None:
        path = tmp_path / "courses.sqlite3"
        old = make_state().model_copy(
            update={"status": Status.REVIEWING, "updated_at": "2025-03-01T11:00:00+01:00"}
        )
        with closing(sqlite3.connect(path)) as conn, conn:
            conn.execute(
                "CREATE TABLE course_state (course_id TEXT PRIMARY KEY, user_id TEXT NOT NULL,"
                " status TEXT NOT NULL, version INTEGER NOT NULL, created_at TEXT NOT NULL,"
                " body TEXT NOT NULL)"
            )
            conn.execute(
                "INSERT INTO course_state VALUES (?, ?, ?, 1, ?, ?)",
                (old.course_id, old.user_id, old.status.value, old.created_at, old.model_dump_json()),
            )

        stores = [SqliteStateStore(path), SqliteStateStore(path)]  # the second finds it done

        idle = stores[1].idle(Status.REVIEWING, datetime(2025, 3, 1, 10, 0, 1, tzinfo=UTC), 10)
        assert [s.course_id for s in idle] == ["course-1"]  # 11:00+01:00 is 10:00 UTC
        assert stores[0].idle(Status.REVIEWING, datetime(2025, 3, 1, 10, tzinfo=UTC), 10) == []

    def test_the_database_file_uses_write_ahead_logging(self, tmp_path: Path) -> None:
        path = tmp_path / "courses.sqlite3"
        SqliteStateStore(path)

        with sqlite3.connect(path) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


class OutboxPublisher(EventPublisher):
    """Publishes into a SQLite store's outbox, as the local bus does (the store then commits the
    event with the state write); delivers nothing."""

    def __init__(self, store: SqliteStateStore) -> None:
        self.outbox = store.outbox

    def publish(self, event: Event) -> None:
        self.outbox.add(event)


@pytest.fixture
def dynamodb(aws_credentials: None) -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        create_table(client, TABLE)
        yield client


class OneCallAtATime:
    """Proxies a moto client so its calls run one at a time. moto checks a condition and then
    writes with no lock, so two racing conditional puts can both win; real DynamoDB applies
    each conditional write atomically, which this restores."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return attribute(*args, **kwargs)

        return call


class RecordingClient(OneCallAtATime):
    """OneCallAtATime that also keeps each call's name and arguments, in order."""

    def __init__(self, client: Any) -> None:
        super().__init__(client)
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        attribute = super().__getattr__(name)
        if not callable(attribute):
            return attribute

        def call(**kwargs: Any) -> Any:
            self.calls.append((name, kwargs))
            return attribute(**kwargs)

        return call


class TestDynamoDBStateStore(StateStoreContract, RequestKeyContract):
    @pytest.fixture
    def store(self, dynamodb: Any) -> StateStore:
        return DynamoDBStateStore(TABLE, client=OneCallAtATime(dynamodb))

    def test_every_write_sets_ttl_to_seven_days_after_the_write(self, dynamodb: Any) -> None:
        now = [1_750_000_000.25]
        store = DynamoDBStateStore(TABLE, client=dynamodb, clock=lambda: now[0])
        week = 7 * 24 * 3600

        created = store.create(make_state())
        assert raw_item(dynamodb, created.course_id)["ttl"] == {"N": str(1_750_000_000 + week)}

        now[0] += 3600
        store.save(created)
        assert raw_item(dynamodb, created.course_id)["ttl"] == {"N": str(1_750_003_600 + week)}

    def test_a_part_result_is_an_item_of_its_own_that_expires_and_stays_out_of_the_user_index(
        self, dynamodb: Any
    ) -> None:
        store = DynamoDBStateStore(TABLE, client=dynamodb, clock=lambda: 1_750_000_000.0)
        store.create(make_state())
        store.put_part("course-1", 3, part_result("third"))

        item = raw_item(dynamodb, "course-1#part-3")
        assert set(item) == {"course_id", "ttl", "body"}  # no user_id: the user index skips it
        assert item["ttl"] == {"N": str(1_750_000_000 + 7 * 24 * 3600)}
        assert zlib.decompress(item["body"]["B"]) == part_result("third").model_dump_json().encode()

    def test_the_item_carries_key_index_and_status_attributes_beside_the_body(self, dynamodb: Any) -> None:
        store = DynamoDBStateStore(TABLE, client=dynamodb)
        saved = store.save(store.create(make_state()).model_copy(update={"status": Status.REVIEWING}))

        item = raw_item(dynamodb, saved.course_id)

        assert {name: item[name] for name in ("course_id", "user_id", "status", "version", "created_at")} == {
            "course_id": {"S": saved.course_id},
            "user_id": {"S": saved.user_id},
            "status": {"S": "reviewing"},
            "version": {"N": "2"},
            "created_at": {"S": saved.created_at},
        }
        assert CourseState.model_validate_json(zlib.decompress(item["body"]["B"])) == saved

    def test_the_table_expires_items_by_the_ttl_attribute(self, dynamodb: Any) -> None:
        ttl = dynamodb.describe_time_to_live(TableName=TABLE)["TimeToLiveDescription"]

        assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "ttl"}

    def test_a_lazily_created_client_retries_in_standard_mode(self, dynamodb: Any) -> None:
        store = DynamoDBStateStore(TABLE)

        # botocore counts max_attempts=5 as retries: at most 6 calls in all.
        assert store.client.meta.config.retries == {"mode": "standard", "total_max_attempts": 6}
        assert store.get("no-such-course") is None

    def test_paging_queries_the_user_index_and_never_scans(self, dynamodb: Any) -> None:
        recording = RecordingClient(dynamodb)
        calls = recording.calls
        store = DynamoDBStateStore(TABLE, client=recording)
        for n in range(12):
            created = store.create(make_state(f"c-{n:02d}", "user-a", f"2025-03-01T10:00:{n:02d}.000Z"))
            if n % 3 == 0:
                store.save(created.model_copy(update={"status": Status.FAILED}))
        calls.clear()

        failed = store.list_page(
            "user-a", 2, before=PageKey("2025-03-01T10:00:09.000Z", "c-09"), status=Status.FAILED
        )

        assert [state.course_id for state in failed] == ["c-06", "c-03"]
        assert {name for name, _ in calls} == {"query"}
        assert all(kwargs["IndexName"] == "user_id-created_at-index" for _, kwargs in calls)

    def test_only_a_course_in_progress_carries_the_key_of_the_sparse_idle_index(self, dynamodb: Any) -> None:
        store = DynamoDBStateStore(TABLE, client=dynamodb)
        running = store.create(make_state("c-running"))
        done = store.save(store.create(make_state("c-done")).model_copy(update={"status": Status.COMPLETE}))
        failed = store.create(make_state("c-failed").model_copy(update={"status": Status.FAILED}))
        store.put_part("c-running", 0, part_result("part"))

        assert raw_item(dynamodb, "c-running")["in_progress"] == {"S": "generating_sections"}
        assert raw_item(dynamodb, "c-running")["updated_at"] == {"S": "2025-03-01T10:00:00.000Z"}
        for course_id in (done.course_id, failed.course_id, "c-running#part-0"):
            assert "in_progress" not in raw_item(dynamodb, course_id), course_id
        indexed = dynamodb.scan(TableName=TABLE, IndexName=IDLE_INDEX)["Items"]  # the test looks
        assert [item["course_id"]["S"] for item in indexed] == ["c-running"]

        store.save(running.model_copy(update={"status": Status.FAILED}))
        assert dynamodb.scan(TableName=TABLE, IndexName=IDLE_INDEX)["Items"] == []

    def test_idle_queries_the_idle_index_reads_the_states_consistently_and_never_scans(
        self, dynamodb: Any
    ) -> None:
        recording = RecordingClient(dynamodb)
        calls = recording.calls
        store = DynamoDBStateStore(TABLE, client=recording)
        for n in range(7):
            stamp = f"2025-03-01T10:00:{n:02d}.000Z"
            store.create(make_state(f"c-{n}").model_copy(update={"updated_at": stamp}))
        calls.clear()

        idle = store.idle(Status.GENERATING_SECTIONS, datetime(2025, 3, 1, 10, 0, 5, tzinfo=UTC), 3)

        assert [state.course_id for state in idle] == ["c-0", "c-1", "c-2"]
        assert {name for name, _ in calls} == {"query", "batch_get_item"}
        assert all(kwargs["IndexName"] == IDLE_INDEX for name, kwargs in calls if name == "query")
        assert all(
            request["ConsistentRead"]
            for name, kwargs in calls
            if name == "batch_get_item"
            for request in kwargs["RequestItems"].values()
        )

    def test_the_state_item_of_the_largest_course_stays_far_below_the_item_limit(self, dynamodb: Any) -> None:
        store = DynamoDBStateStore(TABLE, client=dynamodb)
        state = largest_state()

        store.save(store.create(state))
        size = item_size(raw_item(dynamodb, state.course_id))

        assert store.get(state.course_id) == saved_at(state, 2)
        assert size < 100_000, f"{size} bytes: {size / DYNAMODB_ITEM_LIMIT:.0%} of the item limit"


class TestDynamoDBRequestKeyItems:
    def test_a_request_key_is_an_item_that_expires_and_stays_out_of_the_user_index(
        self, dynamodb: Any
    ) -> None:
        store = DynamoDBStateStore(TABLE, client=dynamodb)
        keyed(store, "course-1", a_key())

        item = raw_item(dynamodb, "idem#user-a#key-1")
        assert set(item) == {"course_id", "target", "fingerprint", "expires_at", "ttl"}
        assert item["target"] == {"S": "course-1"} and item["ttl"] == {"N": str(int(NOW + DAY) + 1)}
        assert [state.course_id for state in store.list_page("user-a", 10)] == ["course-1"]

    def test_a_key_past_its_time_but_not_yet_removed_by_ttl_is_taken_over(self, dynamodb: Any) -> None:
        store = DynamoDBStateStore(TABLE, client=dynamodb)
        keyed(store, "course-1", a_key())  # DynamoDB removes expired items within days, not at once

        keyed(store, "course-2", a_key(now=NOW + DAY + 1))

        assert raw_item(dynamodb, "idem#user-a#key-1")["target"] == {"S": "course-2"}


def raw_item(client: Any, course_id: str) -> dict[str, Any]:
    item: dict[str, Any] = client.get_item(
        TableName=TABLE, Key={"course_id": {"S": course_id}}, ConsistentRead=True
    )["Item"]
    return item


def item_size(item: dict[str, Any]) -> int:
    """DynamoDB's item size rule: attribute names plus values (UTF-8 strings; numbers ~1 byte
    per two significant digits, plus one)."""
    size = 0
    for name, value in item.items():
        size += len(name.encode())
        if "S" in value:
            size += len(value["S"].encode())
        elif "B" in value:
            size += len(value["B"])
        else:
            size += (len(value["N"].strip("-").replace(".", "")) + 1) // 2 + 1
    return size


_PROSE = """A discounted cash flow valuation estimates what a business is worth today from the cash
it is expected to generate in the future. The analyst forecasts revenue, operating margins, taxes
and the reinvestment the firm needs to grow, then discounts the free cash flow to the firm at the
weighted average cost of capital. The cost of equity comes from the risk free rate plus a premium
for the risk of the stock, measured by its beta against the market. A terminal value captures the
years beyond the forecast, either with a stable growth rate or with an exit multiple taken from
comparable companies. Small changes in the discount rate or in long term growth move the result a
great deal, so the chapter closes with sensitivity tables and scenarios that show how fragile a
point estimate can be, and how to explain that range to a reader."""


def largest_state() -> CourseState:
    """A large state of the largest allowed course: a 40-hour course after review, with its
    query embedding, 40 chapter hits and 5 parts of 12 sections (the reviewed outline replaces
    the planned parts and sections, so they are held once)."""
    rng = random.Random(40)
    # Words drawn from real prose keep the lengths of English text (about 4.6 letters a word).
    words = _PROSE.split()

    def text(count: int) -> str:
        return " ".join(rng.choice(words) for _ in range(count))

    def book_id() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    books = [book_id() for _ in range(6)]
    chapters = [
        ChapterHit(
            book_id=books[n % len(books)],
            book_title=text(5).title(),
            chapter_number=n + 1,
            chapter_title=text(6).title(),
            summary=text(100),
            topics=[text(3) for _ in range(6)],
            key_concepts=[text(2) for _ in range(6)],
            similarity=rng.random(),
        )
        for n in range(40)
    ]
    refs = [chapter.ref for chapter in chapters]
    parts = [PartPlan(title=text(6).title(), minutes=480, chapters=refs[p * 8 : p * 8 + 8]) for p in range(5)]
    sections = [
        [
            SectionPlan(
                title=text(7).title(),
                minutes=40,
                objectives=[f"Apply {text(12)}" for _ in range(5)],
                sources=rng.sample(refs, 3),
            )
            for _ in range(12)
        ]
        for _ in range(5)
    ]
    embedding = [rng.gauss(0, 1) for _ in range(1536)]
    norm = sum(x * x for x in embedding) ** 0.5
    created = "2025-03-01T10:00:00.123456+00:00"
    return CourseState(
        course_id="0f8e7d6c-5b4a-4392-8170-6e5d4c3b2a19",
        user_id="us-east-1:3c1f2e4d-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
        request=CourseRequest(
            query=text(60)[:500],
            hours=MAX_HOURS,
            preferences=Preferences(depth=Depth.EXPERT, pace=Pace.THOROUGH),
        ),
        status=Status.STORING,
        created_at=created,
        updated_at=created,
        embedder="text-embedding-3-small:1536",
        query_embedding=[x / norm for x in embedding],
        title=text(8).title(),
        chapters=chapters,
        reviewed=[
            PlannedPart(title=part.title, minutes=part.minutes, sections=part_sections)
            for part, part_sections in zip(parts, sections, strict=True)
        ],
        review=ReviewNotes(failed_checks=[text(10) for _ in range(5)], changes=[text(15) for _ in range(10)]),
    )
