"""The handler table: the names the deployment and the failures depend on, its lookups, and the
meaning of each column (status, tokens) checked against the code that relies on it."""

from __future__ import annotations

import pytest

from chalicelib import bootstrap, dead_letters
from chalicelib.core import registry
from chalicelib.core.events import Event, EventName, make_event, pattern_for
from chalicelib.core.models import CourseState, Status, TokenUsage
from chalicelib.core.phases import Verdict
from chalicelib.core.registry import HandlerSpec, Phase
from tests.support.factories import a_state

E = EventName


def test_the_handlers_keep_their_deployed_names_events_and_reported_phases() -> None:
    # Lambda, rule and alarm names, and the `error.phase` clients read, depend on these.
    assert [(s.handler, s.consumes, s.phase.value) for s in registry.HANDLERS] == [
        ("course-embedding-handler", E.EMBEDDING_GENERATED, "search"),
        ("course-book-search-handler", E.BOOK_SUMMARIES_FOUND, "parts"),
        ("course-parts-handler", E.PARTS_GENERATED, "sections"),
        ("course-sections-handler", E.PART_SECTIONS_GENERATED, "sections"),
        ("course-outline-reviewer", E.ALL_PARTS_COMPLETE, "review"),
        ("course-storage-handler", E.OUTLINE_REVIEW, "storage"),
    ]


def test_the_lookups_find_every_handler_by_event_name_and_phase() -> None:
    for spec in registry.HANDLERS:
        assert registry.BY_EVENT[spec.consumes] is spec
        assert registry.BY_HANDLER[spec.handler] is spec
        assert spec in registry.BY_PHASE[spec.phase]
        assert spec.pattern == pattern_for(spec.consumes)
        assert spec.does
    assert all(registry.BY_PHASE[phase] for phase in Phase)  # no phase without a handler
    assert registry.BY_PHASE[Phase.SECTIONS] == (registry.PLAN_FIRST_PART, registry.PLAN_NEXT_PART)


def test_terminal_events_have_no_handler() -> None:
    assert set(E) - set(registry.BY_EVENT) == {E.COURSE_STORED, E.COURSE_FAILED}


def test_token_usage_counts_exactly_the_phases_that_spend_tokens() -> None:
    assert registry.TOKEN_PHASES == (Phase.PARTS, Phase.SECTIONS, Phase.REVIEW)
    assert tuple(TokenUsage.model_fields) == registry.TOKEN_PHASES
    # the JSON shape clients read
    assert list(TokenUsage().model_dump(mode="json")) == ["parts", "sections", "review"]


def _a_course_running(spec: HandlerSpec) -> tuple[CourseState, Event]:
    """A course in the status `spec` says its step runs in, and the event that step consumes."""
    if spec.consumes is E.PART_SECTIONS_GENERATED:
        return a_state(spec.status, parts=2, parts_done=1), make_event(spec.consumes, "c-1", part_index=0)
    done = 2 if spec.status in (Status.REVIEWING, Status.STORING) else 0  # every part planned
    return a_state(spec.status, parts=2, parts_done=done), make_event(spec.consumes, "c-1")


@pytest.mark.parametrize("spec", registry.HANDLERS, ids=lambda spec: spec.handler)
def test_a_course_in_the_status_a_handler_runs_in_accepts_that_handler_s_event(spec: HandlerSpec) -> None:
    state, event = _a_course_running(spec)
    assert registry.decide(state, event).verdict is Verdict.RUN


@pytest.mark.parametrize("spec", registry.HANDLERS, ids=lambda spec: spec.handler)
def test_a_failed_handler_is_reported_with_its_phase_by_bootstrap_and_the_dead_letters(
    spec: HandlerSpec,
) -> None:
    assert bootstrap.phase_of_handler(spec.handler) == spec.phase.value
    record = {"body": f'{{"detail-type": "{spec.consumes.value}", "detail": {{"course_id": "c-1"}}}}'}
    letter = dead_letters.parse(record)
    assert letter is not None and letter.phase == spec.phase.value


def test_a_name_the_registry_does_not_know_is_reported_as_itself() -> None:
    assert bootstrap.phase_of_handler("course-dead-letter-handler") == "course-dead-letter-handler"
    record = {"body": '{"detail-type": "CourseStored", "detail": {"course_id": "c-1"}}'}
    letter = dead_letters.parse(record)
    assert letter is not None and letter.phase == "CourseStored"
