"""The whole workflow with the model planner and model embeddings, selected by configuration as a
user would, against the local OpenAI-compatible test server: HTTP in, six handlers, PostgreSQL
out, through the real `openai` client. The scripted model misbehaves the ways real ones do."""

from __future__ import annotations

import io
import json
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chalice.test import Client

from app import app
from chalicelib import bootstrap
from chalicelib.adapters.localpg import LocalPostgres
from chalicelib.cli import main
from chalicelib.config import ConfigError, OpenAIConfig
from chalicelib.core import checks
from chalicelib.core.models import CourseRequest
from chalicelib.logs import JsonFormatter
from chalicelib.planning.openai_planner import OpenAIPlanner
from chalicelib.workflow import Workflow
from tests.e2e.conftest import DIMENSION, model_env, new_data_dir
from tests.e2e.test_course_end_to_end import poll, post
from tests.support.llm_fixtures import GHOST_IDS, CourseModel
from tests.support.llm_server import LLMServer, rate_limited, server_error
from tests.support.runtime import bus_of

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "library"


@pytest.fixture
def client(llm_workflow: Workflow, llm_server: LLMServer) -> Iterator[Client]:
    bootstrap.configure_workflow(llm_workflow)
    llm_server.chat_queue.clear()
    llm_server.models = None
    yield Client(app, stage_name="local")
    bus_of(llm_workflow).wait_idle(timeout=30)
    bootstrap.reset()


def check_every_rule(flow: Workflow, body: dict[str, Any]) -> None:
    """The stored outline obeys every planning rule, checked on the reviewed state and on what
    the API returns."""
    state = flow.deps.state_store.get(body["course_id"])
    assert state is not None
    request: CourseRequest = state.request
    assert checks.check_outline(request, state.chapters, state.reviewed) == []
    course = body["course"]
    target = request.target_minutes
    assert abs(course["total_minutes"] - target) <= 0.05 * target
    retrieved = {(hit.book_title, hit.chapter_number) for hit in state.chapters}
    for part in course["parts"]:
        assert sum(section["minutes"] for section in part["sections"]) == part["minutes"]
        for section in part["sections"]:
            assert section["sources"], section["title"]
            assert {(s["book_title"], s["chapter_number"]) for s in section["sources"]} <= retrieved
    titles = [s["title"].lower() for p in course["parts"] for s in p["sections"]]
    assert len(titles) == len(set(titles))


FAULTS = {
    "a model that behaves": CourseModel(),
    "30% over budget": CourseModel(over_budget=1.3),
    "duplicate sections": CourseModel(duplicates=True),
    "invalid citations": CourseModel(bad_citations=True),
    "text instead of JSON": CourseModel(as_text=True),
    "sections citing nothing": CourseModel(no_citations=True),
    "broken objectives": CourseModel(bad_objectives=True),
    "all of it at once": CourseModel(
        over_budget=1.3,
        duplicates=True,
        bad_citations=True,
        as_text=True,
        no_citations=True,
        bad_objectives=True,
    ),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_a_course_planned_by_the_model_passes_every_rule(
    client: Client, llm_workflow: Workflow, llm_server: LLMServer, fault: str
) -> None:
    llm_server.chat_model = model = CourseModel(
        **{k: v for k, v in vars(FAULTS[fault]).items() if k != "phases"}
    )
    request = {"query": "Learn DCF valuation", "hours": 3, "preferences": {"pace": "quick"}}

    response = post(client, request)
    assert response.status_code == 202, response.json_body
    body = poll(client, response.json_body["course_id"])

    assert body["status"] == "complete", body["error"]
    check_every_rule(llm_workflow, body)
    state = llm_workflow.deps.state_store.get(body["course_id"])
    assert state is not None and state.fan_out  # every part's sections planned at once
    cited = json.dumps(body["course"])
    assert not any(ghost.split("#")[0] in cited for ghost in GHOST_IDS)
    assert llm_server.model_errors == []
    # Tokens are counted per phase, stored with the course and shown by the status endpoint.
    usage = body["usage"]
    assert usage["parts"]["calls"] >= 1 and usage["parts"]["prompt_tokens"] > 0
    assert usage["sections"]["calls"] >= len(body["course"]["parts"])
    assert usage["prompt_tokens"] == sum(usage[p]["prompt_tokens"] for p in ("parts", "sections", "review"))
    stored = llm_workflow.deps.course_store.get(body["course_id"])
    assert stored is not None and stored.outline.usage.model_dump() == {
        p: usage[p] for p in ("parts", "sections", "review")
    }
    # The model is asked to revise only when a check failed, and the state says which.
    review = body["review"]
    assert review["revised"] == bool(review["failed_checks"]) == ("review" in model.phases)
    assert (usage["review"]["calls"] > 0) == review["revised"]
    if review["revised"]:  # and what the revision changed, before the deterministic fixes
        assert review["changes"][0].startswith("revision: parts ")
    if model.duplicates:
        assert any("near-duplicates" in check for check in review["failed_checks"])


@pytest.mark.parametrize("fault", ["a model that behaves", "duplicate sections"])
def test_a_course_whose_parts_are_planned_one_after_another_passes_every_rule_too(
    client: Client, llm_workflow: Workflow, llm_server: LLMServer, fault: str
) -> None:
    llm_server.chat_model = model = CourseModel(
        **{k: v for k, v in vars(FAULTS[fault]).items() if k != "phases"}
    )
    llm_workflow.deps.parallel_sections = False  # COURSEGEN_SECTIONS=sequential
    try:
        response = post(
            client, {"query": "Learn DCF valuation", "hours": 3, "preferences": {"pace": "quick"}}
        )
        body = poll(client, response.json_body["course_id"])
    finally:
        llm_workflow.deps.parallel_sections = True

    assert body["status"] == "complete", body["error"]
    check_every_rule(llm_workflow, body)
    state = llm_workflow.deps.state_store.get(body["course_id"])
    assert state is not None and not state.fan_out
    assert (
        body["usage"]["sections"]["calls"] == len(body["course"]["parts"]) == model.phases.count("sections")
    )
    if model.duplicates:
        assert any("near-duplicates" in check for check in body["review"]["failed_checks"])


def test_throttling_and_server_errors_are_retried_and_the_course_completes(
    client: Client, llm_workflow: Workflow, llm_server: LLMServer
) -> None:
    llm_server.chat_model = CourseModel()
    llm_server.script(rate_limited(0.01), server_error(), rate_limited(0.01))

    response = post(client, {"query": "Learn DCF valuation", "hours": 1})
    body = poll(client, response.json_body["course_id"])

    assert body["status"] == "complete", body["error"]
    check_every_rule(llm_workflow, body)
    assert not llm_server.chat_queue  # every scripted fault was served, and survived


def test_an_unknown_chat_model_fails_the_course_at_once_with_the_reason(
    client: Client, llm_server: LLMServer
) -> None:
    llm_server.chat_model = CourseModel()
    llm_server.models = {"test-embed"}  # the chat model "test-chat" does not exist there
    asked_before = len(llm_server.chat_requests())

    response = post(client, {"query": "Learn DCF valuation", "hours": 1})
    body = poll(client, response.json_body["course_id"])

    assert body["status"] == "failed"
    assert body["error"]["phase"] == "parts"
    assert "test-chat" in body["error"]["reason"]
    assert len(llm_server.chat_requests()) == asked_before + 1  # a permanent error is not retried


def test_a_missing_model_key_fails_the_course_at_once_naming_the_setting(
    client: Client, llm_workflow: Workflow, llm_server: LLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    planner = llm_workflow.deps.planner
    assert isinstance(planner, OpenAIPlanner)

    def no_key(config: OpenAIConfig) -> OpenAIConfig:
        raise ConfigError("COURSEGEN_OPENAI_API_KEY is not set: the chat model needs a key")

    monkeypatch.setattr(planner.model, "_client", None)  # the next call builds its client, reading the key
    monkeypatch.setattr(planner.model, "_with_key", no_key)
    asked_before = len(llm_server.chat_requests())

    body = poll(client, post(client, {"query": "Learn DCF valuation", "hours": 1}).json_body["course_id"])

    assert body["status"] == "failed"
    assert body["error"] == {
        "phase": "parts",
        "reason": "COURSEGEN_OPENAI_API_KEY is not set: the chat model needs a key",
    }
    assert body["retries"] == 0 and len(llm_server.chat_requests()) == asked_before  # no retry, no call


def test_post_answers_503_when_the_query_cannot_be_embedded_and_stores_nothing(
    client: Client, llm_workflow: Workflow, llm_server: LLMServer
) -> None:
    before = llm_workflow.deps.state_store.list_for_user("local-user")
    for _ in range(3):
        llm_server.embedding_queue.append(server_error())

    response = post(client, {"query": "Learn DCF valuation", "hours": 1})

    llm_server.embedding_queue.clear()
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert response.json_body["error"]["code"] == "service_unavailable"
    assert response.json_body["error"]["message"].startswith("the query could not be embedded")
    assert llm_workflow.deps.state_store.list_for_user("local-user") == before


# --- the command line: a library indexed offline, re-indexed for the model -------------------------


@pytest.mark.slow
def test_the_cli_refuses_a_library_of_another_embedder_until_it_is_reindexed(
    llm_server: LLMServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = new_data_dir("coursegen-reindex-")
    LocalPostgres(data_dir).ensure_running()
    llm_server.chat_model = CourseModel()
    llm_server.models = None
    try:

        def coursegen(*args: str) -> int:
            return main(["--data-dir", str(data_dir), *args])

        book = str(SAMPLES / "corporate-finance-valuation.json")
        monkeypatch.setenv("COURSEGEN_EMBEDDER", "offline")
        assert coursegen("library", "load", book) == 0
        capsys.readouterr()

        for name, value in model_env(llm_server).items():
            monkeypatch.setenv(name, value)
        assert coursegen("generate", "Learn DCF valuation", "--hours", "1") == 1
        assert "coursegen library reindex" in capsys.readouterr().err

        assert coursegen("library", "reindex") == 0
        err = capsys.readouterr().err
        assert f"with embedder test-embed:{DIMENSION}" in err and "embedded" in err

        assert coursegen("generate", "Learn DCF valuation", "--hours", "1", "--json") == 0
        captured = capsys.readouterr()
        outline = json.loads(captured.out)
        assert abs(outline["total_minutes"] - 60) <= 3
        assert outline["usage"]["parts"]["calls"] >= 1
        assert "model tokens:" in captured.err
    finally:
        bootstrap.reset()
        LocalPostgres(data_dir).stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def test_every_log_line_of_a_course_names_its_course_phase_and_delivery_attempt(
    client: Client, llm_server: LLMServer
) -> None:
    llm_server.chat_model = CourseModel(duplicates=True)  # the planner and the reviewer both log
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("coursegen")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)  # the CLI tests leave it at WARNING
    try:
        response = post(client, {"query": "Learn DCF valuation", "hours": 3})
        course_id = response.json_body["course_id"]
        assert poll(client, course_id)["status"] == "complete"
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)

    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    mine = [line for line in lines if line.get("course_id") == course_id]
    assert {line["logger"] for line in mine} >= {"coursegen.workflow", "coursegen.planner"}
    assert all(line.get("phase") for line in mine)
    handled = [line for line in mine if line["phase"] != "request"]
    assert handled and all(line.get("attempt") == 1 for line in handled)
    assert not [line for line in lines if "course_id" not in line and line["logger"] != "coursegen.bus"]
