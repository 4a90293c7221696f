"""Every workflow event reaches exactly one handler, through the patterns app.py declares."""

from __future__ import annotations

import pytest

from app import app
from chalicelib.adapters.local_bus import envelope, event_targets
from chalicelib.core.events import HANDLER_EVENTS, SOURCE, EventName, make_event


def targets_of(name: EventName) -> list[str]:
    fields = {"part_index": 0} if name is EventName.PART_SECTIONS_GENERATED else {}
    if name is EventName.COURSE_FAILED:
        fields = {"phase": "search", "reason": "r"}
    message = envelope(make_event(name, "c-1", **fields))
    return [t.name for t in event_targets(app) if t.matches(message)]


def test_the_app_declares_exactly_the_six_workflow_handlers() -> None:
    assert sorted(t.name for t in event_targets(app)) == sorted(HANDLER_EVENTS)


@pytest.mark.parametrize(("handler", "name"), sorted(HANDLER_EVENTS.items()))
def test_each_workflow_event_matches_exactly_its_handler(handler: str, name: EventName) -> None:
    assert targets_of(name) == [handler]


@pytest.mark.parametrize("name", [EventName.COURSE_STORED, EventName.COURSE_FAILED])
def test_terminal_events_match_no_handler(name: EventName) -> None:
    assert targets_of(name) == []


def test_an_event_from_another_source_matches_no_handler() -> None:
    message = envelope(make_event(EventName.EMBEDDING_GENERATED, "c-1"))
    message["source"] = SOURCE + ".other"
    assert [t.name for t in event_targets(app) if t.matches(message)] == []
