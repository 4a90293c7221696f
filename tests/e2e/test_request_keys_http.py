"""POST /courses with an Idempotency-Key on the embedded default (SQLite state with its outbox,
the in-process bus): a request sent again gets the course the first one created."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from chalice.test import Client

from app import app
from chalicelib import bootstrap
from chalicelib.workflow import Workflow

REQUEST = {"query": "Learn DCF valuation", "hours": 1.0}


@pytest.fixture
def client(workflow: Workflow, monkeypatch: pytest.MonkeyPatch) -> Iterator[Client]:
    """The test client, calling as a user of its own so the listing holds only this test's courses."""
    name = f"user-{uuid.uuid4().hex[:8]}"
    monkeypatch.setattr(bootstrap, "_settings", replace(bootstrap.settings(), local_user=name))
    yield Client(app, stage_name="local")


def post(client: Client, body: dict[str, Any], key: str | None, path: str = "/courses") -> Any:
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.http.post(path, headers=headers, body=json.dumps(body))


def listed(client: Client) -> list[str]:
    return [course["course_id"] for course in client.http.get("/courses").json_body["courses"]]


def test_a_request_sent_again_with_its_key_answers_the_first_course(client: Client) -> None:
    key = str(uuid.uuid4())

    first = post(client, REQUEST, key)
    again = post(client, REQUEST, key)
    through_the_page = post(client, REQUEST, key, path="/app/courses")

    assert first.status_code == again.status_code == through_the_page.status_code == 202
    course_id = first.json_body["course_id"]
    assert again.json_body["course_id"] == through_the_page.json_body["course_id"] == course_id
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == f"/courses/{course_id}"
    assert listed(client) == [course_id]


def test_the_key_with_another_request_is_a_422_and_creates_nothing(client: Client) -> None:
    key = str(uuid.uuid4())
    first = post(client, REQUEST, key).json_body

    refused = post(client, {**REQUEST, "hours": 2.0}, key)

    assert refused.status_code == 422
    assert refused.json_body["error"]["code"] == "idempotency_key_reused"
    assert first["course_id"] in refused.json_body["error"]["message"]
    assert listed(client) == [first["course_id"]]


@pytest.mark.parametrize("key", ["", "has space", "a#b", "x" * 256, "caf\u00e9"])
def test_a_malformed_key_is_a_400_and_creates_nothing(client: Client, key: str) -> None:
    response = post(client, REQUEST, key)

    assert response.status_code == 400
    assert response.json_body["error"]["code"] == "invalid_idempotency_key"
    assert listed(client) == []


def test_without_a_key_every_request_is_a_new_course(client: Client) -> None:
    first, second = post(client, REQUEST, None), post(client, REQUEST, None)

    assert first.json_body["course_id"] != second.json_body["course_id"]
    assert len(listed(client)) == 2
