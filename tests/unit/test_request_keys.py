"""POST /courses sent again with its Idempotency-Key: the service layer over in-memory adapters.
One caller and key create one course, whatever the retries and races; the key with another
request is refused; an expired key, or one whose course was deleted, creates a new course."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.adapters.memory_state import InMemoryStateStore
from chalicelib.core.models import CourseRequest, Preferences, Status
from chalicelib.errors import InvalidRequest
from chalicelib.planning.offline import OfflinePlanner
from chalicelib.workflow import Deps, Submitted, Workflow, request_fingerprint
from tests.support.factories import a_hit
from tests.support.fakes import FakeCourseStore, FakeEmbedder, FakeLibrary, RecordingPublisher

REQUEST = CourseRequest(query="Learn DCF valuation", hours=2.0)


class SettableClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> str:
        return self.now.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock()


@pytest.fixture
def states() -> InMemoryStateStore:
    return InMemoryStateStore()


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
def flow(states: InMemoryStateStore, publisher: RecordingPublisher, clock: SettableClock) -> Workflow:
    ids = (f"course-{i}" for i in itertools.count(1))
    hits = [a_hit("b1", n, similarity=0.9 - n / 100) for n in range(1, 9)]
    lock = threading.Lock()

    def new_id() -> str:
        with lock:
            return next(ids)

    deps = Deps(
        state_store=states,
        publisher=publisher,
        library=FakeLibrary(hits),
        course_store=FakeCourseStore(),
        planner=OfflinePlanner(),
        embedder=FakeEmbedder(),
        clock=clock,
        new_id=new_id,
    )
    return Workflow(deps)


def courses_of(states: InMemoryStateStore, user: str = "user-a") -> list[str]:
    return [state.course_id for state in states.list_for_user(user)]


def test_the_same_key_sent_again_answers_the_first_course_and_creates_nothing(
    flow: Workflow, states: InMemoryStateStore, publisher: RecordingPublisher
) -> None:
    first = flow.submit_keyed("user-a", REQUEST, "k-1")
    again = flow.submit_keyed("user-a", REQUEST, "k-1")

    assert first == Submitted(course_id="course-1", status=Status.QUEUED, replayed=False)
    assert again == Submitted(course_id="course-1", status=Status.QUEUED, replayed=True)
    assert courses_of(states) == ["course-1"]
    assert len(publisher.events) == 1


def test_a_request_that_means_the_same_counts_as_the_same(flow: Workflow, states: InMemoryStateStore) -> None:
    explicit = CourseRequest(query="Learn DCF valuation", hours=2, preferences=Preferences())

    flow.submit_keyed("user-a", REQUEST, "k-1")

    assert request_fingerprint(explicit) == request_fingerprint(REQUEST)
    assert flow.submit_keyed("user-a", explicit, "k-1").replayed
    assert courses_of(states) == ["course-1"]


def test_the_key_with_another_request_is_refused_naming_the_course(
    flow: Workflow, states: InMemoryStateStore
) -> None:
    flow.submit_keyed("user-a", REQUEST, "k-1")

    with pytest.raises(InvalidRequest) as refused:
        flow.submit_keyed("user-a", REQUEST.model_copy(update={"hours": 3.0}), "k-1")

    assert refused.value.code == "idempotency_key_reused"
    assert "course-1" in refused.value.message and "new key" in refused.value.message
    assert courses_of(states) == ["course-1"]


def test_keys_belong_to_their_caller(flow: Workflow, states: InMemoryStateStore) -> None:
    mine = flow.submit_keyed("user-a", REQUEST, "k-1")
    theirs = flow.submit_keyed("user-b", REQUEST, "k-1")

    assert not theirs.replayed and theirs.course_id != mine.course_id
    assert courses_of(states, "user-b") == [theirs.course_id]


def test_a_key_answers_for_a_day_then_creates_a_new_course(
    flow: Workflow, states: InMemoryStateStore, clock: SettableClock
) -> None:
    flow.submit_keyed("user-a", REQUEST, "k-1")
    clock.now += timedelta(hours=23, minutes=59)
    assert flow.submit_keyed("user-a", REQUEST, "k-1").course_id == "course-1"

    clock.now += timedelta(minutes=2)
    later = flow.submit_keyed("user-a", REQUEST, "k-1")

    assert later == Submitted(course_id="course-2", status=Status.QUEUED, replayed=False)
    assert sorted(courses_of(states)) == ["course-1", "course-2"]


def test_a_key_whose_course_was_deleted_creates_a_new_one(flow: Workflow, states: InMemoryStateStore) -> None:
    first = flow.submit_keyed("user-a", REQUEST, "k-1")
    flow.fail_course(first.course_id, "search", "no chapter")
    flow.delete("user-a", first.course_id)

    again = flow.submit_keyed("user-a", REQUEST, "k-1")

    assert again == Submitted(course_id="course-2", status=Status.QUEUED, replayed=False)
    assert flow.submit_keyed("user-a", REQUEST, "k-1").course_id == "course-2"
    assert courses_of(states) == ["course-2"]


def test_the_answer_again_shows_the_course_as_it_is_now(flow: Workflow) -> None:
    first = flow.submit_keyed("user-a", REQUEST, "k-1")
    flow.fail_course(first.course_id, "search", "no chapter")

    assert flow.submit_keyed("user-a", REQUEST, "k-1") == Submitted("course-1", Status.FAILED, replayed=True)


def test_requests_with_one_key_at_the_same_moment_create_one_course(
    flow: Workflow, states: InMemoryStateStore, publisher: RecordingPublisher
) -> None:
    senders = 6
    barrier = threading.Barrier(senders)
    answers: list[Submitted] = []

    def send() -> None:
        barrier.wait()
        answers.append(flow.submit_keyed("user-a", REQUEST, "k-1"))

    threads = [threading.Thread(target=send) for _ in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(answers) == senders and len({answer.course_id for answer in answers}) == 1
    assert sum(not answer.replayed for answer in answers) == 1
    assert len(courses_of(states)) == 1 and len(publisher.events) == 1
