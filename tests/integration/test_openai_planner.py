"""The LLM planner through the real `openai` client against the local test server: whole
outlines that pass every planning rule despite a misbehaving model, and each injected fault."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from io import StringIO
from pathlib import Path

import pytest

from chalicelib.core import checks
from chalicelib.core.models import (
    ChapterHit,
    CourseRequest,
    PartPlan,
    PlannedPart,
    Preferences,
    SectionPlan,
    TokenUsage,
)
from chalicelib.core.review import review_outline
from chalicelib.errors import PlanningError, TransientError
from chalicelib.planning.openai_planner import OpenAIPlanner
from chalicelib.planning.usage import UsageRecorder
from chalicelib.workflow import offline_objectives
from tests.support.chapter_fixtures import all_chapters, dcf_hits
from tests.support.llm_fixtures import (
    API_KEY,
    GHOST_IDS,
    CourseModel,
    fast_config,
    llm_server_fixture,  # noqa: F401 - provides the llm_server fixture
)
from tests.support.llm_server import (
    LLMServer,
    completion,
    count_tokens,
    error,
    malformed,
    rate_limited,
    server_error,
    slow,
    truncated,
)

REPO = Path(__file__).resolve().parents[2]


def a_request(hours: float = 6, depth: str = "balanced", pace: str = "moderate") -> CourseRequest:
    return CourseRequest(
        query="Learn DCF valuation",
        hours=hours,
        preferences=Preferences.model_validate({"depth": depth, "pace": pace}),
    )


def plan_course(
    planner: OpenAIPlanner, request: CourseRequest, chapters: list[ChapterHit]
) -> tuple[list[PlannedPart], list[str], bool]:
    """What the workflow does: parts, sections part by part, then the reviewer."""
    _, parts = planner.plan_parts(request, chapters)
    sections: list[list[SectionPlan]] = []
    for k in range(len(parts)):
        sections.append(planner.plan_sections(request, chapters, parts, k, sections))
    outline = [
        PlannedPart(title=p.title, minutes=p.minutes, sections=s)
        for p, s in zip(parts, sections, strict=True)
    ]
    reviewed, notes = review_outline(
        request,
        chapters,
        outline,
        lambda o, failed: planner.revise(request, chapters, o, failed),
        offline_objectives(request),
    )
    return reviewed, notes.failed_checks, notes.revised


@contextmanager
def captured_logs() -> Iterator[StringIO]:
    """Everything the project, the openai client and its HTTP library log, at DEBUG."""
    stream = StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    loggers = [logging.getLogger(name) for name in ("coursegen", "openai", "httpx2", "httpcore", "httpx")]
    saved = [(lg.level, lg.propagate) for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        for lg, (level, _) in zip(loggers, saved, strict=True):
            lg.removeHandler(handler)
            lg.setLevel(level)


# --- whole outlines ---------------------------------------------------------------------------

FAULTS = {
    "a well-behaved model": CourseModel(),
    "an outline 30% over budget": CourseModel(over_budget=1.3),
    "duplicate sections": CourseModel(duplicates=True),
    "duplicates the model will not revise": CourseModel(duplicates=True, revision="echo"),
    "invalid citations": CourseModel(bad_citations=True),
    "text instead of JSON": CourseModel(as_text=True),
    "all of it at once, in text": CourseModel(
        over_budget=1.3, duplicates=True, bad_citations=True, as_text=True
    ),
}


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize(
    ("hours", "depth", "pace"),
    [
        (1.5, "technical", "quick"),
        (2, "overview", "quick"),
        (6, "balanced", "moderate"),
        (20, "expert", "thorough"),
    ],
)
def test_the_outline_passes_every_rule_whatever_the_model_returns(
    llm_server: LLMServer, fault: str, hours: float, depth: str, pace: str
) -> None:
    model = CourseModel(**{k: v for k, v in vars(FAULTS[fault]).items() if k != "phases"})
    llm_server.chat_model = model
    request, chapters = a_request(hours, depth, pace), all_chapters()[:24]

    reviewed, failed_first, revised = plan_course(OpenAIPlanner(fast_config(llm_server)), request, chapters)

    assert checks.check_outline(request, chapters, reviewed) == []
    assert sum(s.minutes for p in reviewed for s in p.sections) == request.target_minutes
    cited = {ref.key for p in reviewed for s in p.sections for ref in s.sources}
    assert cited and cited <= {hit.ref.key for hit in chapters}
    assert revised == bool(failed_first)  # the model is asked to revise only when a check failed
    assert ("review" in model.phases) == revised
    assert llm_server.model_errors == []


def test_duplicate_sections_are_caught_by_a_check_and_revised_by_the_model(llm_server: LLMServer) -> None:
    llm_server.chat_model = model = CourseModel(duplicates=True)
    request, chapters = a_request(6), all_chapters()[:24]

    reviewed, failed_first, revised = plan_course(OpenAIPlanner(fast_config(llm_server)), request, chapters)

    assert revised and any("near-duplicates" in check for check in failed_first)
    assert model.phases[-1] == "review"
    review_prompt = llm_server.chat_requests()[-1]["messages"][1]["content"]
    assert "near-duplicates" in review_prompt  # the failed checks are in the prompt
    assert checks.check_duplicates(reviewed) == []


def test_a_model_that_behaves_is_never_asked_to_revise(llm_server: LLMServer) -> None:
    llm_server.chat_model = model = CourseModel()
    plan_course(OpenAIPlanner(fast_config(llm_server)), a_request(6), all_chapters()[:24])
    assert "review" not in model.phases


# --- what is asked ----------------------------------------------------------------------------


def test_requests_ask_for_a_strict_json_schema_whose_citations_are_the_offered_ids(
    llm_server: LLMServer,
) -> None:
    llm_server.chat_model = CourseModel()
    chapters = dcf_hits()
    OpenAIPlanner(fast_config(llm_server)).plan_parts(a_request(6), chapters)

    [body] = llm_server.chat_requests()
    assert body["model"] == "test-chat"
    assert body["max_completion_tokens"] == 1000
    fmt = body["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    part = fmt["json_schema"]["schema"]["$defs"]["PartAnswer"]
    assert part["additionalProperties"] is False and set(part["required"]) == {"title", "minutes", "chapters"}
    assert set(part["properties"]["chapters"]["items"]["enum"]) == {hit.ref.key for hit in chapters}


def test_a_server_without_json_schema_gets_json_object_and_the_planner_remembers(
    llm_server: LLMServer,
) -> None:
    llm_server.chat_model = CourseModel()
    llm_server.reject_formats = {"json_schema"}
    planner = OpenAIPlanner(fast_config(llm_server))
    request, chapters = a_request(6), dcf_hits()

    _, parts = planner.plan_parts(request, chapters)
    planner.plan_sections(request, chapters, parts, 0, [])

    kinds = [body.get("response_format", {}).get("type") for body in llm_server.chat_requests()]
    assert kinds == ["json_schema", "json_object", "json_object"]


def test_a_server_without_any_response_format_gets_plain_text(llm_server: LLMServer) -> None:
    llm_server.chat_model = CourseModel(as_text=True)
    llm_server.reject_formats = {"json_schema", "json_object"}
    planner = OpenAIPlanner(fast_config(llm_server))

    _, parts = planner.plan_parts(a_request(6), dcf_hits())

    kinds = [body.get("response_format", {}).get("type") for body in llm_server.chat_requests()]
    assert kinds == ["json_schema", "json_object", None]
    assert planner.response_format == "text" and parts


def test_a_server_that_only_knows_max_tokens_gets_max_tokens(llm_server: LLMServer) -> None:
    llm_server.script(error(400, "Unrecognized request argument supplied: max_completion_tokens"))
    llm_server.chat_model = CourseModel()
    planner = OpenAIPlanner(fast_config(llm_server))
    planner.plan_parts(a_request(6), dcf_hits())
    first, second = llm_server.chat_requests()
    assert "max_completion_tokens" in first and second["max_tokens"] == 1000


def test_the_sections_prompt_holds_only_the_parts_chapters_and_earlier_titles(llm_server: LLMServer) -> None:
    llm_server.chat_model = CourseModel()
    planner = OpenAIPlanner(fast_config(llm_server))
    request, chapters = a_request(6), all_chapters()
    _, parts = planner.plan_parts(request, chapters)
    first = planner.plan_sections(request, chapters, parts, 0, [])
    planner.plan_sections(request, chapters, parts, 1, [first])

    prompt = llm_server.chat_requests()[-1]["messages"][1]["content"]
    offered = {hit.ref.key for hit in chapters if f"- {hit.ref.key} " in prompt}
    assert offered == {ref.key for ref in parts[1].chapters}
    assert all(f'"{s.title}"' in prompt for s in first)


# --- faults -----------------------------------------------------------------------------------


def test_a_truncated_answer_is_retried_once_with_a_larger_limit(llm_server: LLMServer) -> None:
    good = CourseModel()
    llm_server.chat_model = good
    llm_server.script(truncated('{"title": "A course", "parts": [{"title": "Foundations", "minutes": 120,'))
    _, parts = OpenAIPlanner(fast_config(llm_server)).plan_parts(a_request(6), dcf_hits())

    limits = [body["max_completion_tokens"] for body in llm_server.chat_requests()]
    assert limits == [1000, 2000]
    assert parts


def test_an_answer_truncated_twice_is_a_planning_error(llm_server: LLMServer) -> None:
    llm_server.script(
        truncated('{"sections": [{"title": "A", "minutes'), truncated('{"sections": [{"title": "A"')
    )
    planner = OpenAIPlanner(fast_config(llm_server))
    with pytest.raises(PlanningError, match="cut off"):
        planner.plan_parts(a_request(6), dcf_hits())
    assert len(llm_server.chat_requests()) == 2


def test_a_rate_limited_call_is_retried_after_the_servers_retry_after(llm_server: LLMServer) -> None:
    llm_server.script(rate_limited(0.05))
    llm_server.chat_model = CourseModel()
    started = time.monotonic()
    _, parts = OpenAIPlanner(fast_config(llm_server, retry_wait_cap=1.0)).plan_parts(a_request(6), dcf_hits())
    assert parts and len(llm_server.chat_requests()) == 2
    assert time.monotonic() - started >= 0.05


def test_server_errors_are_retried_then_reported_as_transient(llm_server: LLMServer) -> None:
    llm_server.script(server_error(), server_error(), server_error())
    with pytest.raises(TransientError, match="500"):
        OpenAIPlanner(fast_config(llm_server, max_retries=2)).plan_parts(a_request(6), dcf_hits())
    assert len(llm_server.chat_requests()) == 3


def test_a_server_error_that_clears_up_is_invisible(llm_server: LLMServer) -> None:
    llm_server.script(server_error())
    llm_server.chat_model = CourseModel()
    _, parts = OpenAIPlanner(fast_config(llm_server)).plan_parts(a_request(6), dcf_hits())
    assert parts


@pytest.mark.slow
def test_a_slow_server_ends_in_a_transient_error_within_the_deadline(llm_server: LLMServer) -> None:
    llm_server.script(*[slow(3.0)] * 4)
    config = fast_config(llm_server, timeout=10.0, deadline=1.0, max_retries=2)
    started = time.monotonic()
    with pytest.raises(TransientError, match="did not answer in time"):
        OpenAIPlanner(config).plan_parts(a_request(6), dcf_hits())
    assert time.monotonic() - started < 1.5
    assert len(llm_server.chat_requests()) == 3  # every attempt got a share of the deadline


def test_a_long_retry_after_is_shortened_to_fit_the_deadline(llm_server: LLMServer) -> None:
    llm_server.script(*[rate_limited(60)] * 3)
    config = fast_config(llm_server, deadline=2.0, retry_wait_cap=0.1)
    started = time.monotonic()
    with pytest.raises(TransientError, match="429"):
        OpenAIPlanner(config).plan_parts(a_request(6), dcf_hits())
    assert time.monotonic() - started < 2.0


def test_a_malformed_response_body_is_a_transient_error(llm_server: LLMServer) -> None:
    llm_server.script(malformed())
    with pytest.raises(TransientError, match="malformed"):
        OpenAIPlanner(fast_config(llm_server)).plan_parts(a_request(6), dcf_hits())


def test_an_unreachable_server_is_a_transient_error() -> None:
    with LLMServer() as server:
        config = fast_config(server, max_retries=1)
    with pytest.raises(TransientError, match="cannot connect"):
        OpenAIPlanner(config).plan_parts(a_request(6), dcf_hits())


def test_json_with_trailing_commas_in_fences_is_read(llm_server: LLMServer) -> None:
    key = dcf_hits()[0].ref.key
    part = f'{{"title": "All of it", "minutes": "1.5 hours", "chapters": ["{key}",],}}'
    answer = f'Here you go:\n```json\n{{"title": "DCF", "parts": [{part},],}}\n```'
    llm_server.script(completion(answer))
    title, parts = OpenAIPlanner(fast_config(llm_server)).plan_parts(a_request(1.5), dcf_hits())
    assert title == "DCF" and [p.title for p in parts] == ["All of it"]
    assert parts[0].minutes == 90 and parts[0].chapters[0].key == key


def test_an_unreadable_answer_is_asked_for_again_once(llm_server: LLMServer) -> None:
    llm_server.script(completion("I would be happy to help you learn valuation!"))
    llm_server.chat_model = CourseModel()
    _, parts = OpenAIPlanner(fast_config(llm_server)).plan_parts(a_request(6), dcf_hits())
    second = llm_server.chat_requests()[1]["messages"]
    assert [m["role"] for m in second] == ["system", "user", "assistant", "user"]
    assert parts


def test_an_answer_unreadable_twice_is_a_planning_error(llm_server: LLMServer) -> None:
    llm_server.script(completion("Sorry, I cannot."), completion("Still no."))
    with pytest.raises(PlanningError, match="could not be read"):
        OpenAIPlanner(fast_config(llm_server)).plan_parts(a_request(6), dcf_hits())


def test_an_unusable_revision_keeps_the_outline_for_the_deterministic_fixes(llm_server: LLMServer) -> None:
    llm_server.script(completion("no"), completion("still no"))
    outline = [PlannedPart(title="P", minutes=60, sections=[])]
    revised = OpenAIPlanner(fast_config(llm_server)).revise(a_request(1), dcf_hits(), outline, ["budget: x"])
    assert revised == outline


def test_unknown_citation_ids_are_dropped_never_replaced(llm_server: LLMServer) -> None:
    chapters = dcf_hits()
    known = chapters[0].ref.key
    section = {"title": "Only invented sources", "minutes": 30, "objectives": ["Explain x", "Apply y"]}
    answer = {
        "sections": [
            {**section, "sources": list(GHOST_IDS)},
            {**section, "title": "One real source", "sources": [known, "valuation#999"]},
        ]
    }
    llm_server.script(completion(json.dumps(answer)))
    plan = [PartPlan(title="P", minutes=60, chapters=[chapters[0].ref])]
    sections = OpenAIPlanner(fast_config(llm_server)).plan_sections(a_request(1), chapters, plan, 0, [])

    assert [s.sources for s in sections] == [[], [chapters[0].ref]]
    assert [s.minutes for s in sections] == [30, 30]


def test_an_authentication_failure_is_permanent_and_never_shows_the_key(llm_server: LLMServer) -> None:
    llm_server.api_key = "sk-the-right-one-abcdef"
    with captured_logs() as logs, pytest.raises(PlanningError) as caught:
        OpenAIPlanner(fast_config(llm_server)).plan_parts(a_request(6), dcf_hits())
    message = str(caught.value)
    assert "401" in message and "authentication" in message
    shown = "".join(traceback.format_exception(caught.value)) + message + logs.getvalue()
    assert API_KEY not in shown and "sk-test" not in shown
    assert len(llm_server.chat_requests()) == 1  # not retried


def test_the_key_never_appears_in_logs_of_a_whole_course(llm_server: LLMServer) -> None:
    llm_server.chat_model = CourseModel(duplicates=True)
    with captured_logs() as logs:
        plan_course(OpenAIPlanner(fast_config(llm_server)), a_request(6), all_chapters()[:24])
    assert "tokens" in logs.getvalue() and API_KEY not in logs.getvalue()


def test_an_unknown_model_is_a_permanent_error_that_says_so(llm_server: LLMServer) -> None:
    llm_server.models = {"gpt-real"}
    with pytest.raises(PlanningError, match=r"404 .*model `test-chat` does not exist"):
        OpenAIPlanner(fast_config(llm_server)).plan_parts(a_request(6), dcf_hits())


def test_a_bad_request_is_permanent(llm_server: LLMServer) -> None:
    llm_server.script(error(400, "messages: too long"))
    with pytest.raises(PlanningError, match="400 bad request: messages: too long"):
        OpenAIPlanner(fast_config(llm_server)).plan_parts(a_request(6), dcf_hits())


# --- usage ------------------------------------------------------------------------------------


def test_token_usage_is_counted_per_phase(llm_server: LLMServer) -> None:
    llm_server.chat_model = CourseModel(duplicates=True)
    recorder = UsageRecorder()
    with recorder.measure() as tally:
        plan_course(OpenAIPlanner(fast_config(llm_server), usage=recorder), a_request(6), all_chapters()[:24])
    usage = tally.usage

    # The server reports four characters a token; add its counts up by the prompt's phase.
    served = {"parts": 0, "sections": 0, "review": 0}
    for body in llm_server.chat_requests():
        user = body["messages"][1]["content"]
        phase = (
            "parts"
            if user.startswith("Plan the parts")
            else "sections"
            if user.startswith("Plan the")
            else "review"
        )
        served[phase] += sum(count_tokens(m["content"]) for m in body["messages"])
    assert {phase: getattr(usage, phase).prompt_tokens for phase in served} == served
    assert (usage.parts.calls, usage.review.calls) == (1, 1)
    assert usage.sections.calls == len(llm_server.chat_requests()) - 2
    assert usage.completion_tokens > 0


def test_usage_recorded_outside_measure_is_not_kept_and_tallies_add_up() -> None:
    recorder = UsageRecorder()
    recorder("parts", 10, 1)
    with recorder.measure() as tally:
        recorder("sections", 5, 2)
        recorder("sections", 5, 2)
    total = tally.usage.plus(TokenUsage().add("review", 1, 1))
    assert total.sections.prompt_tokens == 10 and total.sections.calls == 2
    assert total.parts.calls == 0 and total.prompt_tokens == 11 and total.completion_tokens == 5


def test_importing_the_planner_does_not_import_openai() -> None:
    modules = "chalicelib.planning.openai_planner, chalicelib.adapters.openai_embedder"
    code = f"import sys, {modules}; print('openai' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
