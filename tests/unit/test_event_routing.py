"""Every workflow event reaches exactly one handler, through the patterns app.py declares, and
app.py's handlers are exactly the registry's."""

from __future__ import annotations

from typing import Any

import pytest
from chalice.app import CloudWatchEventConfig
from chalice.test import Client

from app import app
from chalicelib import service
from chalicelib.adapters.local_bus import envelope, event_targets
from chalicelib.core import registry
from chalicelib.core.events import SOURCE, EventName, make_event


def a_message(name: EventName) -> dict[str, Any]:
    fields: dict[str, Any] = {"part_index": 0} if name is EventName.PART_SECTIONS_GENERATED else {}
    if name is EventName.COURSE_FAILED:
        fields = {"phase": "search", "reason": "r"}
    return envelope(make_event(name, "c-1", **fields))


def targets_of(name: EventName) -> list[str]:
    message = a_message(name)
    return [t.name for t in event_targets(app) if t.matches(message)]


def test_the_app_declares_exactly_the_registry_s_handlers_with_their_patterns() -> None:
    declared = {
        source.name: source.event_pattern
        for source in app.event_sources
        if isinstance(source, CloudWatchEventConfig)
    }
    assert declared == {spec.handler: spec.pattern for spec in registry.HANDLERS}


@pytest.mark.parametrize("spec", registry.HANDLERS, ids=lambda spec: spec.handler)
def test_each_workflow_event_matches_exactly_its_handler(spec: registry.HandlerSpec) -> None:
    assert targets_of(spec.consumes) == [spec.handler]


@pytest.mark.parametrize("spec", registry.HANDLERS, ids=lambda spec: spec.handler)
def test_each_handler_passes_the_event_it_consumes_to_the_workflow(
    spec: registry.HandlerSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    handled: list[tuple[EventName, dict[str, Any]]] = []

    class Recorder:
        def handle(self, name: EventName, detail: dict[str, Any]) -> None:
            handled.append((name, detail))

    monkeypatch.setattr(service, "_workflow", Recorder)
    message = a_message(spec.consumes)
    Client(app, stage_name="local").lambda_.invoke(spec.handler, message)
    assert handled == [(spec.consumes, message["detail"])]


@pytest.mark.parametrize("name", [EventName.COURSE_STORED, EventName.COURSE_FAILED])
def test_terminal_events_match_no_handler(name: EventName) -> None:
    assert targets_of(name) == []


def test_an_event_from_another_source_matches_no_handler() -> None:
    message = envelope(make_event(EventName.EMBEDDING_GENERATED, "c-1"))
    message["source"] = SOURCE + ".other"
    assert [t.name for t in event_targets(app) if t.matches(message)] == []
