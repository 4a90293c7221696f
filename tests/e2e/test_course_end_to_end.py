"""A course through HTTP, the in-process bus and all six handlers, to PostgreSQL and back."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from chalice.test import Client

from app import app
from chalicelib.adapters.book_files import read_book_file
from chalicelib.core.events import EventName
from chalicelib.core.models import Status
from chalicelib.workflow import Workflow
from tests.support.runtime import bus_of

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "library"
VALUATION_BOOK = SAMPLES / "corporate-finance-valuation.json"  # the sample a DCF course draws on
REQUEST = {
    "query": "Learn DCF valuation",
    "hours": 2.0,
    "preferences": {"depth": "balanced", "pace": "moderate"},
}


@pytest.fixture
def client(workflow: Workflow) -> Client:
    return Client(app, stage_name="local")


def post(client: Client, body: Any) -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.http.post("/courses", headers={"Content-Type": "application/json"}, body=raw)


def poll(client: Client, course_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        response = client.http.get(f"/courses/{course_id}")
        assert response.status_code == 200
        body: dict[str, Any] = response.json_body
        seen.append(body["status"])
        if body["status"] in ("complete", "failed"):
            body["seen_statuses"] = seen
            return body
        time.sleep(0.02)
    raise AssertionError(f"course {course_id} did not finish; statuses seen: {sorted(set(seen))}")


def test_a_posted_course_is_generated_stored_and_readable(client: Client, workflow: Workflow) -> None:
    response = post(client, REQUEST)
    assert response.status_code == 202
    accepted = response.json_body
    assert accepted["status"] == "queued"
    assert accepted["status_url"] == f"/courses/{accepted['course_id']}"

    body = poll(client, accepted["course_id"])
    assert body["status"] == "complete", body.get("error")
    course = body["course"]
    assert course["course_id"] == accepted["course_id"]
    assert course["query"] == "Learn DCF valuation"
    assert abs(course["total_minutes"] - 120) <= 6
    assert body["progress"]["parts_done"] == body["progress"]["parts_total"] == len(course["parts"])
    for part in course["parts"]:
        assert sum(s["minutes"] for s in part["sections"]) == part["minutes"]
        for section in part["sections"]:
            assert 2 <= len(section["objectives"]) <= 6
            assert section["sources"], section["title"]
            for source in section["sources"]:
                assert {"book_title", "chapter_number", "chapter_title"} <= set(source)
    cited_books = {s["book_title"] for p in course["parts"] for sec in p["sections"] for s in sec["sources"]}
    assert read_book_file(VALUATION_BOOK).title in cited_books, cited_books

    stored = workflow.deps.course_store.get(accepted["course_id"])
    assert stored is not None and stored.outline.model_dump(mode="json") == course


def test_every_event_delivered_twice_gives_the_same_course(client: Client, workflow: Workflow) -> None:
    clean = poll(client, post(client, REQUEST).json_body["course_id"])
    bus_of(workflow).copies = 2
    doubled_id = post(client, REQUEST).json_body["course_id"]
    doubled = poll(client, doubled_id)
    bus_of(workflow).wait_idle(timeout=30)
    assert doubled["status"] == "complete"

    def strip(course: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in course.items() if k != "course_id"}

    assert strip(doubled["course"]) == strip(clean["course"])
    history = [e for e in bus_of(workflow).history if e.course_id == doubled_id]
    assert sum(e.name is EventName.COURSE_STORED for e in history) >= 1
    state = workflow.deps.state_store.get(doubled_id)
    assert state is not None and state.status is Status.COMPLETE


def test_bad_input_is_a_400_naming_the_field_and_nothing_is_stored(
    client: Client, workflow: Workflow
) -> None:
    before = len(workflow.deps.state_store.list_for_user("local-user", limit=1000))
    published = len(bus_of(workflow).history)
    response = post(client, {**REQUEST, "hours": 41})
    assert response.status_code == 400
    assert response.json_body["error"]["field"] == "hours"
    response = post(client, b"{not json")
    assert response.status_code == 400 and response.json_body["error"]["code"] == "invalid_json"
    assert len(workflow.deps.state_store.list_for_user("local-user", limit=1000)) == before
    assert len(bus_of(workflow).history) == published


def test_a_query_the_library_cannot_answer_fails_with_a_reason(client: Client) -> None:
    body = poll(client, post(client, {"query": "zxqv wblorf snarg", "hours": 1}).json_body["course_id"])
    assert body["status"] == "failed"
    assert body["error"]["phase"] == "search"
    assert "no chapter" in body["error"]["reason"]


def test_another_users_course_is_not_found(client: Client, workflow: Workflow) -> None:
    mine = post(client, REQUEST).json_body["course_id"]
    poll(client, mine)
    state = workflow.deps.state_store.get(mine)
    assert state is not None
    other = state.model_copy(update={"course_id": "someone-elses", "user_id": "another-user", "version": 0})
    workflow.deps.state_store.create(other)
    response = client.http.get("/courses/someone-elses")
    assert response.status_code == 404
    listed = client.http.get("/courses").json_body["courses"]
    assert "someone-elses" not in {c["course_id"] for c in listed}
    assert listed[0]["course_id"] == mine or mine in {c["course_id"] for c in listed}


def test_an_unknown_course_is_not_found(client: Client) -> None:
    assert client.http.get("/courses/does-not-exist").status_code == 404


def test_a_stored_course_whose_state_expired_is_still_readable_and_listed(
    client: Client, workflow: Workflow
) -> None:
    finished = poll(client, post(client, REQUEST).json_body["course_id"])
    outline = workflow.deps.course_store.get(finished["course_id"])
    assert outline is not None
    # The same outline under an id the state store has never seen: what remains after the TTL.
    expired = outline.outline.model_copy(update={"course_id": "expired-state"})
    workflow.deps.course_store.store("local-user", expired, "2020-01-01T00:00:00.000Z")
    body = client.http.get("/courses/expired-state").json_body
    assert body["status"] == "complete" and body["course"]["course_id"] == "expired-state"
    assert body["course"]["parts"] == finished["course"]["parts"]
    listed = [c["course_id"] for c in client.http.get("/courses").json_body["courses"]]
    assert listed[-1] == "expired-state"  # the oldest comes last
    assert listed.index(finished["course_id"]) < listed.index("expired-state")
    workflow.deps.course_store.store(
        "another-user", expired.model_copy(update={"course_id": "theirs"}), "2020-01-01"
    )
    assert client.http.get("/courses/theirs").status_code == 404
