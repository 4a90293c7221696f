"""Parallel sections: every part planned by a delivery of its own, and one fan-in. Parts that land
at the same instant, parts delivered twice before and after the fan-in, on SQLite and on
DynamoDB's conditional writes: each course is stored exactly as a clean run stores it, and the
fan-in hands over to review once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chalicelib.adapters.dynamodb_state import DynamoDBStateStore, create_table
from chalicelib.core.events import Event, EventName
from chalicelib.core.models import CourseState, PartResult, Status
from chalicelib.errors import StaleState
from chalicelib.ports import StateStore
from tests.integration.test_state_store_contract import OneCallAtATime
from tests.support.fakes import DelegatingStateStore

from .support import (
    LOCAL_USER,
    Embedded,
    ScriptedBus,
    a_request,
    assert_same_course,
    deliver,
    run_in_order,
    scripted_workflow,
    snapshot,
)

E = EventName
REQUEST = a_request("Learn DCF valuation", 6.0)  # three parts


class ReadTogether(DelegatingStateStore):
    """Holds each delivery, once it has read the state and the parts written, until every racing
    delivery has, so they all decide on the same reads and race to write; counts the state
    writes and part writes that lose."""

    def __init__(self, inner: StateStore) -> None:
        super().__init__(inner)
        self.barrier: threading.Barrier | None = None
        self.lost_saves = 0
        self.lost_parts = 0

    def save(self, state: CourseState) -> CourseState:
        try:
            return self.inner.save(state)
        except StaleState:
            self.lost_saves += 1
            raise

    def put_part(self, course_id: str, part_index: int, result: PartResult) -> None:
        try:
            self.inner.put_part(course_id, part_index, result)
        except StaleState:
            self.lost_parts += 1
            raise

    def get_parts(self, course_id: str, part_count: int) -> dict[int, PartResult]:
        parts = self.inner.get_parts(course_id, part_count)
        if self.barrier is not None:
            self.barrier.wait()
        return parts


@pytest.fixture
def dynamodb(aws_credentials: None) -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_table(client, "course-state")
        yield OneCallAtATime(client)  # each conditional write atomic, as real DynamoDB's are


@pytest.fixture(params=["sqlite", "dynamodb"])
def racing(request: pytest.FixtureRequest, embedded: Embedded) -> ReadTogether:
    if request.param == "sqlite":
        return ReadTogether(embedded.scripted_state)
    return ReadTogether(DynamoDBStateStore("course-state", client=request.getfixturevalue("dynamodb")))


def at_once(flow: Any, racing: ReadTogether, events: list[Event]) -> None:
    """Deliver `events` in threads that all read the state before any of them writes."""
    racing.barrier = threading.Barrier(len(events), timeout=30)
    errors: list[BaseException] = []

    def one(event: Event) -> None:
        try:
            deliver(flow, event)
        except BaseException as error:  # collected: a thread cannot fail the test itself
            errors.append(error)

    threads = [threading.Thread(target=one, args=(event,)) for event in events]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    racing.barrier = None
    assert not errors, errors


def test_parts_that_land_at_the_same_instant_fan_in_once_and_late_duplicates_change_nothing(
    embedded: Embedded, racing: ReadTogether
) -> None:
    clean_bus = ScriptedBus()
    clean_flow = scripted_workflow(embedded, publisher=clean_bus, prefix="fan-clean")
    clean_id = clean_flow.submit(LOCAL_USER, REQUEST).course_id
    run_in_order(clean_flow, clean_bus)
    clean = snapshot(clean_flow, embedded.connect, clean_id)

    bus = ScriptedBus()
    flow = scripted_workflow(embedded, state_store=racing, publisher=bus, prefix="fan")
    course_id = flow.submit(LOCAL_USER, REQUEST).course_id
    while bus.pending[0].name is not E.PARTS_GENERATED:
        deliver(flow, bus.pending.pop(0))
    asked = list(bus.pending)
    bus.pending.clear()
    assert [e.part_index for e in asked] == [0, 1, 2]  # one PartsGenerated per part

    # Every part planned at once, each delivered twice: each part is written once.
    at_once(flow, racing, asked * 2)
    landed = list(bus.pending)
    bus.pending.clear()
    assert racing.lost_parts == 3
    assert sorted(e.part_index or 0 for e in landed if e.name is E.PART_SECTIONS_GENERATED) == [0, 1, 2]
    assert len(landed) == 3

    # The three parts' announcements at the same instant: all find every part written, one
    # fan-in wins the conditional write, the others stop quietly.
    saves_lost = racing.lost_saves
    at_once(flow, racing, landed)
    assert racing.lost_saves == saves_lost + 2
    assert [e.name for e in bus.pending] == [E.ALL_PARTS_COMPLETE]
    state = racing.get(course_id)
    assert state is not None and state.status is Status.REVIEWING and state.fan_in_part is not None
    completer = state.fan_in_part
    review = bus.pending.pop(0)

    # After the fan-in: a part asked for again, or announced again by a part that did not fan
    # in, changes nothing and publishes nothing; the fan-in's own event, redelivered (its
    # AllPartsComplete may have been lost), announces AllPartsComplete again.
    for late in [*asked, *(e for e in landed if e.part_index != completer)]:
        deliver(flow, late)
    assert bus.pending == []
    deliver(flow, next(e for e in landed if e.part_index == completer))
    assert bus.pending == [review]

    run_in_order(flow, bus)
    assert_same_course(snapshot(flow, embedded.connect, course_id), clean)
    assert bus.names_for(course_id).count(E.ALL_PARTS_COMPLETE) == 2  # the first, and the republish


def test_a_part_announced_before_the_others_are_written_waits_for_them(embedded: Embedded) -> None:
    bus = ScriptedBus()
    flow = scripted_workflow(embedded, publisher=bus, prefix="fan-wait")
    course_id = flow.submit(LOCAL_USER, REQUEST).course_id
    while bus.pending[0].name is not E.PARTS_GENERATED:
        deliver(flow, bus.pending.pop(0))
    asked = list(bus.pending)
    bus.pending.clear()

    deliver(flow, asked[1])
    [landed] = bus.pending
    deliver(flow, bus.pending.pop(0))  # parts 1 and 3 are still being planned: nothing happens
    state = flow.deps.state_store.get(course_id)
    assert state is not None and state.status is Status.GENERATING_SECTIONS and bus.pending == []

    deliver(flow, asked[2])
    deliver(flow, asked[0])
    assert [e.part_index for e in bus.pending] == [2, 0]
    deliver(flow, bus.pending.pop(0))  # part 3's announcement finds every part written
    deliver(flow, landed)  # part 2's announcement again: the fan-in ran, nothing to do
    assert [e.name for e in bus.pending] == [E.PART_SECTIONS_GENERATED, E.ALL_PARTS_COMPLETE]
    run_in_order(flow, bus)  # part 1's announcement comes last and changes nothing
    state = flow.deps.state_store.get(course_id)
    assert state is not None and state.status is Status.COMPLETE and state.fan_in_part == 2
    assert bus.names_for(course_id).count(E.ALL_PARTS_COMPLETE) == 1
