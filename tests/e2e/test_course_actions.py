"""Finding and acting on courses through HTTP: paging across the state and course stores,
retrying a failed course, deleting one, the books, and refused methods in our error shape."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from chalice.test import Client

from app import app
from chalicelib import bootstrap
from chalicelib.core.models import (
    ChapterHit,
    CourseRequest,
    CourseState,
    Failure,
    Outline,
    PartPlan,
    Preferences,
    SectionPlan,
    Status,
)
from chalicelib.errors import PlanningError
from chalicelib.ports import Planner
from chalicelib.workflow import Workflow
from tests.support.runtime import bus_of

REQUEST = {"query": "Learn DCF valuation", "hours": 1.0}


@pytest.fixture
def user(workflow: Workflow, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A caller of its own, so the listing holds only what the test made."""
    name = f"user-{uuid.uuid4().hex[:8]}"
    monkeypatch.setattr(bootstrap, "_settings", replace(bootstrap.settings(), local_user=name))
    yield name


@pytest.fixture
def client(workflow: Workflow) -> Client:
    return Client(app, stage_name="local")


def poll(client: Client, course_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body: dict[str, Any] = client.http.get(f"/courses/{course_id}").json_body
        if body["status"] in ("complete", "failed"):
            return body
        time.sleep(0.02)
    raise AssertionError(f"course {course_id} did not finish")


def a_state(user: str, course_id: str, created_at: str, status: Status) -> CourseState:
    return CourseState(
        course_id=course_id,
        user_id=user,
        request=CourseRequest(query="Learn DCF valuation", hours=1.0),
        status=status,
        created_at=created_at,
        updated_at=created_at,
    )


def an_outline(course_id: str) -> Outline:
    return Outline(
        course_id=course_id,
        title="DCF",
        query="Learn DCF valuation",
        hours=1.0,
        preferences=Preferences(),
        total_minutes=60,
        parts=[],
    )


def at(second: int) -> str:
    return f"2026-02-01T10:{second // 60:02d}:{second % 60:02d}.000Z"


def seed(flow: Workflow, user: str) -> dict[str, str]:
    """Courses of `user` in every place a course can be: id -> status, created at distinct
    times except two that share a millisecond."""
    states, stores = flow.deps.state_store, flow.deps.course_store
    seeded: dict[str, str] = {}
    statuses = [Status.QUEUED, Status.PLANNING, Status.GENERATING_SECTIONS, Status.FAILED, Status.REVIEWING]
    for n, status in enumerate(statuses):  # in progress or failed: the state store alone
        course_id = f"s{n}-{uuid.uuid4().hex[:6]}"
        states.create(a_state(user, course_id, at(10 * n), status))
        seeded[course_id] = status.value
    for n in range(3):  # complete within the TTL: both stores
        course_id = f"b{n}-{uuid.uuid4().hex[:6]}"
        states.create(a_state(user, course_id, at(10 * n + 3), Status.COMPLETE))
        stores.store(user, an_outline(course_id), at(10 * n + 3))
        seeded[course_id] = "complete"
    for n in range(6):  # state expired: the course store alone, two in the same millisecond
        course_id = f"c{n}-{uuid.uuid4().hex[:6]}"
        stores.store(user, an_outline(course_id), at(10 * n + 5 if n != 5 else 45))
        seeded[course_id] = "complete"
    return seeded


def expected_order(flow: Workflow, seeded: dict[str, str]) -> list[str]:
    created = {}
    for course_id in seeded:
        state = flow.deps.state_store.get(course_id)
        stored = flow.deps.course_store.get(course_id)
        created[course_id] = state.created_at if state else stored.created_at if stored else ""
    return sorted(seeded, key=lambda c: (created[c], c), reverse=True)


def page_through(client: Client, query: str) -> list[str]:
    ids: list[str] = []
    cursor = None
    for _ in range(50):
        path = f"/courses?{query}" + (f"&cursor={cursor}" if cursor else "")
        response = client.http.get(path)
        assert response.status_code == 200, response.json_body
        body = response.json_body
        assert set(body) == {"courses", "next_cursor"}
        ids += [course["course_id"] for course in body["courses"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return ids
    raise AssertionError("the listing never ended")


def test_paging_lists_every_course_once_newest_first_across_both_stores(
    client: Client, workflow: Workflow, user: str
) -> None:
    seeded = seed(workflow, user)
    expected = expected_order(workflow, seeded)
    for limit in (1, 2, 3, 7, 100):
        assert page_through(client, f"limit={limit}") == expected, limit
    default = client.http.get("/courses").json_body
    assert [c["course_id"] for c in default["courses"]] == expected[:20]


@pytest.mark.parametrize("status", ["complete", "failed", "planning", "storing"])
def test_filtering_by_status_pages_through_exactly_those_courses(
    client: Client, workflow: Workflow, user: str, status: str
) -> None:
    seeded = seed(workflow, user)
    expected = [c for c in expected_order(workflow, seeded) if seeded[c] == status]
    assert page_through(client, f"limit=2&status={status}") == expected
    for course in client.http.get(f"/courses?status={status}").json_body["courses"]:
        assert course["status"] == status


def test_a_stored_outline_whose_state_is_being_retried_is_not_listed_as_complete(
    client: Client, workflow: Workflow, user: str
) -> None:
    course_id = f"r-{uuid.uuid4().hex[:6]}"
    workflow.deps.state_store.create(a_state(user, course_id, at(1), Status.STORING))
    workflow.deps.course_store.store(user, an_outline(course_id), at(1))
    assert page_through(client, "status=complete") == []
    assert page_through(client, "status=storing") == [course_id]
    assert page_through(client, "limit=5") == [course_id]


@pytest.mark.parametrize(
    ("query", "field", "code"),
    [
        ("limit=0", "limit", "invalid_field"),
        ("limit=101", "limit", "invalid_field"),
        ("limit=ten", "limit", "invalid_field"),
        ("limit=-1", "limit", "invalid_field"),
        ("status=done", "status", "invalid_choice"),
        ("cursor=not-a-cursor", "cursor", "invalid_cursor"),
        ("cursor=WyJ4IiwieSJd", "cursor", "invalid_cursor"),  # a well-formed pair, but no timestamp
    ],
)
def test_bad_listing_parameters_are_refused_naming_the_field(
    client: Client, user: str, query: str, field: str, code: str
) -> None:
    response = client.http.get(f"/courses?{query}")
    assert response.status_code == 400
    assert response.json_body["error"]["field"] == field
    assert response.json_body["error"]["code"] == code


class FailingOnce(Planner):
    """The offline planner, except that planning the second part fails once."""

    def __init__(self, inner: Planner) -> None:
        self.inner = inner
        self.failed = False
        self.planned: list[int] = []  # the part indices planned successfully, in order

    def plan_parts(self, request: CourseRequest, chapters: list[ChapterHit]) -> tuple[str, list[PartPlan]]:
        return self.inner.plan_parts(request, chapters)

    def plan_sections(
        self,
        request: CourseRequest,
        chapters: list[ChapterHit],
        parts: list[PartPlan],
        part_index: int,
        earlier: list[list[SectionPlan]],
    ) -> list[SectionPlan]:
        if part_index == 1 and not self.failed:
            self.failed = True
            raise PlanningError("the planner gave up on part 2")
        sections = self.inner.plan_sections(request, chapters, parts, part_index, earlier)
        self.planned.append(part_index)
        return sections

    def revise(
        self, request: CourseRequest, chapters: list[ChapterHit], outline: Any, failed: list[str]
    ) -> Any:
        return self.inner.revise(request, chapters, outline, failed)


def test_a_failed_course_resumes_from_the_part_that_failed_under_the_same_id(
    client: Client, workflow: Workflow, user: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    planner = FailingOnce(workflow.deps.planner)
    monkeypatch.setattr(workflow.deps, "planner", planner)
    posted = client.http.post(
        "/courses", headers={"Content-Type": "application/json"}, body=json.dumps({**REQUEST, "hours": 3.0})
    ).json_body
    failed = poll(client, posted["course_id"])
    assert failed["status"] == "failed"
    assert failed["error"] == {"phase": "sections", "reason": "the planner gave up on part 2"}
    # Parts are planned at once: the deliveries of the other parts may still be running when the
    # course fails; what they write is kept for the retry.
    assert bus_of(workflow).wait_idle(timeout=30)
    failed = client.http.get(f"/courses/{posted['course_id']}").json_body
    assert failed["progress"]["parts_done"] < failed["progress"]["parts_total"]
    planned_before_retry = sorted(planner.planned)
    assert 1 not in planned_before_retry

    response = client.http.post(f"/courses/{posted['course_id']}/retry")
    assert response.status_code == 202
    assert response.json_body == {
        "course_id": posted["course_id"],
        "status": "generating_sections",
        "status_url": f"/courses/{posted['course_id']}",
    }
    assert response.headers["Location"] == f"/courses/{posted['course_id']}"
    done = poll(client, posted["course_id"])
    assert done["status"] == "complete", done["error"]
    assert done["retries"] == 1 and done["error"] is None
    assert len(done["course"]["parts"]) == done["progress"]["parts_total"] >= 2
    # the retry planned only the parts without a result: each part was planned once in all
    assert sorted(planner.planned) == list(range(done["progress"]["parts_total"]))
    assert sorted(planner.planned[len(planned_before_retry) :]) == sorted(
        set(range(done["progress"]["parts_total"])) - set(planned_before_retry)
    )
    state = workflow.deps.state_store.get(posted["course_id"])
    assert state is not None
    assert state.past_failures == [Failure(phase="sections", reason="the planner gave up on part 2")]
    assert workflow.deps.course_store.get(posted["course_id"]) is not None


def test_retrying_a_course_that_has_not_failed_is_a_conflict(
    client: Client, workflow: Workflow, user: str
) -> None:
    seeded = seed(workflow, user)
    for course_id, status in seeded.items():
        if status == "failed":
            continue
        response = client.http.post(f"/courses/{course_id}/retry")
        assert response.status_code == 409, (status, response.json_body)
        assert response.json_body["error"]["code"] == "not_failed"
        assert status in response.json_body["error"]["message"]


def test_retry_and_delete_of_an_unknown_or_another_users_course_is_not_found(
    client: Client, workflow: Workflow, user: str
) -> None:
    theirs = f"t-{uuid.uuid4().hex[:6]}"
    workflow.deps.state_store.create(a_state("someone-else", theirs, at(1), Status.FAILED))
    stored_theirs = f"t-{uuid.uuid4().hex[:6]}"
    workflow.deps.course_store.store("someone-else", an_outline(stored_theirs), at(2))
    for course_id in (theirs, stored_theirs, "no-such-course"):
        for response in (
            client.http.post(f"/courses/{course_id}/retry"),
            client.http.delete(f"/courses/{course_id}"),
        ):
            assert response.status_code == 404
            assert response.json_body["error"]["code"] == "not_found"
    assert workflow.deps.state_store.get(theirs) is not None
    assert workflow.deps.course_store.get(stored_theirs) is not None


def test_deleting_removes_the_state_and_the_stored_outline(
    client: Client, workflow: Workflow, user: str
) -> None:
    seeded = seed(workflow, user)
    in_progress = [c for c, s in seeded.items() if s not in ("complete", "failed")]
    finished = [c for c, s in seeded.items() if s in ("complete", "failed")]
    for course_id in in_progress:
        response = client.http.delete(f"/courses/{course_id}")
        assert response.status_code == 409
        assert response.json_body["error"]["code"] == "in_progress"
        assert workflow.deps.state_store.get(course_id) is not None
    for course_id in finished:
        response = client.http.delete(f"/courses/{course_id}")
        assert response.status_code == 204
        assert client.http.get(f"/courses/{course_id}").status_code == 404
        assert workflow.deps.state_store.get(course_id) is None
        assert workflow.deps.course_store.get(course_id) is None
    assert sorted(page_through(client, "limit=3")) == sorted(in_progress)


def test_the_books_route_lists_the_library(client: Client, user: str) -> None:
    response = client.http.get("/books")
    assert response.status_code == 200
    books = response.json_body["books"]
    assert len(books) == 9
    assert sum(book["chapters"] for book in books) == 97
    assert all(set(book) == {"id", "title", "author", "chapters", "owner", "yours"} for book in books)
    assert all(book["owner"] is None and book["yours"] is False for book in books)  # locally: all shared
    assert [book["title"].lower() for book in books] == sorted(book["title"].lower() for book in books)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/courses", "GET, POST"),
        ("DELETE", "/courses", "GET, POST"),
        ("PATCH", "/courses/abc", "GET, DELETE"),
        ("POST", "/courses/abc", "GET, DELETE"),
        ("GET", "/courses/abc/retry", "POST"),
        ("DELETE", "/books", "GET, POST"),
    ],
)
def test_a_method_a_route_does_not_serve_is_refused_in_our_error_shape(
    client: Client, user: str, method: str, path: str, allowed: str
) -> None:
    response = client.http.request(method, path, headers={"Content-Type": "application/json"}, body=b"{}")
    assert response.status_code == 405
    assert response.json_body["error"]["code"] == "method_not_allowed"
    assert response.headers["Allow"] == allowed
