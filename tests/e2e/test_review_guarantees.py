"""What the review guarantees whatever the model returns, end to end with the model planner
against the local test server: every stored section has 2-6 objectives and cites a retrieved
chapter, each repair is recorded in `review.changes`, and a well-behaved model needs none."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from chalice.test import Client

from app import app
from chalicelib import bootstrap
from chalicelib.adapters.local_bus import LocalBus
from chalicelib.core import checks, rules
from chalicelib.workflow import Workflow
from tests.e2e.test_course_end_to_end import poll, post
from tests.e2e.test_llm_workflow import check_every_rule
from tests.support.llm_fixtures import CourseModel
from tests.support.llm_server import LLMServer


@pytest.fixture
def client(llm_workflow: Workflow, llm_server: LLMServer) -> Iterator[Client]:
    bootstrap.configure_workflow(llm_workflow)
    llm_server.chat_queue.clear()
    llm_server.models = None
    yield Client(app, stage_name="local")
    bus = llm_workflow.deps.publisher
    assert isinstance(bus, LocalBus)
    bus.wait_idle(timeout=30)
    bootstrap.reset()


def every_misbehaviour(revision: str) -> CourseModel:
    """Every fault the scripted model has, at once."""
    return CourseModel(
        over_budget=1.3,
        duplicates=True,
        bad_citations=True,
        as_text=True,
        no_citations=True,
        bad_objectives=True,
        revision=revision,
    )


def generate(client: Client, request: dict[str, Any]) -> dict[str, Any]:
    response = post(client, request)
    assert response.status_code == 202, response.json_body
    return poll(client, response.json_body["course_id"])


def assert_the_guarantees(flow: Workflow, body: dict[str, Any]) -> None:
    assert body["status"] == "complete", body["error"]
    check_every_rule(flow, body)
    for part in body["course"]["parts"]:
        for section in part["sections"]:
            assert rules.MIN_OBJECTIVES <= len(section["objectives"]) <= rules.MAX_OBJECTIVES, section
            assert all(rules.verb_level(o) for o in section["objectives"]), section
            assert section["sources"], section
    assert body["review"]["remaining"] == []


@pytest.mark.parametrize("revision", ["fix", "echo"])
@pytest.mark.parametrize("hours", [1, 3])
def test_a_model_that_misbehaves_every_way_at_once_still_stores_a_sound_course(
    client: Client, llm_workflow: Workflow, llm_server: LLMServer, hours: int, revision: str
) -> None:
    llm_server.chat_model = model = every_misbehaviour(revision)

    body = generate(
        client, {"query": "Learn DCF valuation", "hours": hours, "preferences": {"pace": "quick"}}
    )

    assert_the_guarantees(llm_workflow, body)
    assert llm_server.model_errors == []
    assert "review" in model.phases  # the model was asked to revise, and its revision repaired
    review = body["review"]
    failed = "\n".join(review["failed_checks"])
    assert "objectives, expected 2-6" in failed and "does not begin with an action verb" in failed
    assert "cites no retrieved chapter" in failed
    changes = "\n".join(review["changes"])
    assert "now cites" in changes, changes
    assert "objectives repaired" in changes, changes
    # Each repaired citation names a chapter that was retrieved for the course.
    state = llm_workflow.deps.state_store.get(body["course_id"])
    assert state is not None
    retrieved = {hit.ref.key for hit in state.chapters}
    for line in review["changes"]:
        if "now cites" in line:
            assert line.split("now cites ", 1)[1].split(" ", 1)[0] in retrieved, line


def test_a_well_behaved_model_needs_no_repair(
    client: Client, llm_workflow: Workflow, llm_server: LLMServer
) -> None:
    llm_server.chat_model = CourseModel()

    body = generate(client, {"query": "Learn DCF valuation", "hours": 3, "preferences": {"pace": "quick"}})

    assert_the_guarantees(llm_workflow, body)
    review = body["review"]
    assert review["failed_checks"] == [] and not review["revised"]
    assert review["changes"] == []  # no repair, nor any other fix


def test_the_stored_outline_is_the_checked_one(
    client: Client, llm_workflow: Workflow, llm_server: LLMServer
) -> None:
    llm_server.chat_model = every_misbehaviour("echo")

    body = generate(client, {"query": "Learn DCF valuation", "hours": 1})

    assert body["status"] == "complete", body["error"]
    stored = llm_workflow.deps.course_store.get(body["course_id"])
    state = llm_workflow.deps.state_store.get(body["course_id"])
    assert stored is not None and state is not None
    assert checks.check_outline(state.request, state.chapters, state.reviewed) == []
    assert [len(s.objectives) for p in stored.outline.parts for s in p.sections] == [
        len(s.objectives) for p in state.reviewed for s in p.sections
    ]
