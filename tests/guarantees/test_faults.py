"""Faults of what a course depends on: PostgreSQL going away and coming back, conditional-write
conflicts in DynamoDB between two deliveries of one event, and retries that run out. Every course
ends complete, or failed with a reason, in bounded time; none is left in progress."""

from __future__ import annotations

import json
import logging
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import boto3
import pytest
from chalice.test import Client
from moto import mock_aws

from app import app
from chalicelib import bootstrap, dead_letters
from chalicelib.adapters import local_bus
from chalicelib.adapters.dynamodb_state import DynamoDBStateStore, create_table
from chalicelib.adapters.local_bus import LocalBus, envelope
from chalicelib.adapters.pg import ConnectionFactory, ConnInfo, connection_factory
from chalicelib.adapters.pg_course_store import PgCourseStore
from chalicelib.adapters.pg_library import PgLibrary
from chalicelib.core.events import EventName, make_event
from chalicelib.core.models import CourseState, Status
from chalicelib.core.registry import BY_EVENT
from chalicelib.errors import StaleState, TransientError
from chalicelib.ports import StateStore
from chalicelib.workflow import Workflow
from tests.integration.test_state_store_contract import OneCallAtATime
from tests.support.fakes import DelegatingStateStore
from tests.support.waiting import wait_until

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
    wait_until_terminal,
)

REQUEST = {"query": "Learn DCF valuation", "hours": 1.0}
FINISH_WITHIN = 30.0  # seconds: a generous bound for a handful of courses on a shared machine


def post_course(client: Client, body: dict[str, Any]) -> str:
    response = client.http.post(
        "/courses", headers={"Content-Type": "application/json"}, body=json.dumps(body).encode()
    )
    assert response.status_code == 202, response.body
    return str(response.json_body["course_id"])


def no_server(embedded: Embedded) -> ConnectionFactory:
    """Connections to where no PostgreSQL listens: what every handler sees while it is down."""
    socket = embedded.data_dir / "no-server" / ".s.PGSQL.5432"
    return connection_factory(ConnInfo(unix_sock=str(socket), user="postgres", database="coursegen"))


class Outage:
    """A connection factory that fails its first `failures` connections like a stopped server."""

    def __init__(self, embedded: Embedded, failures: int) -> None:
        self._up, self._down = embedded.connect, no_server(embedded)
        self.failures = failures
        self.refused = 0
        self._lock = threading.Lock()

    def __call__(self) -> Any:
        with self._lock:
            down = self.refused < self.failures
            self.refused += down
        return self._down() if down else self._up()


@pytest.fixture
def client(embedded: Embedded) -> Client:
    return Client(app, stage_name="local")


# --- PostgreSQL unavailable, then back ---------------------------------------------------------


@pytest.mark.slow
def test_courses_started_while_postgresql_stays_stopped_fail_with_a_plain_reason_and_new_ones_complete_after(
    embedded: Embedded, client: Client
) -> None:
    bus = embedded.bus
    window, max_delay = bus.retry_window, bus.max_delay
    bus.retry_window, bus.max_delay = 2.0, 0.5  # an outage longer than the window, in less time
    embedded.server.stop()
    try:
        stranded = [post_course(client, REQUEST) for _ in range(3)]
        finals = wait_until_terminal(embedded.flow.deps.state_store.get, stranded, FINISH_WITHIN)
    finally:
        bus.retry_window, bus.max_delay = window, max_delay
        embedded.server.ensure_running()

    for course_id, state in finals.items():
        assert state.status is Status.FAILED
        assert state.error is not None
        assert state.error.phase == BY_EVENT[EventName.EMBEDDING_GENERATED].phase
        # A sentence a person reads: how long it was tried, then what the driver saw.
        assert state.error.reason.startswith("gave up after "), state.error.reason
        assert state.error.reason.endswith("PostgreSQL is unavailable: communication error")
        assert "Error:" not in state.error.reason
        shown = client.http.get(f"/courses/{course_id}").json_body
        assert shown["status"] == "failed" and shown["error"] == state.error.model_dump()

    after = post_course(client, REQUEST)
    [state] = wait_until_terminal(embedded.flow.deps.state_store.get, [after], FINISH_WITHIN).values()
    assert state.status is Status.COMPLETE


class FailedDeliveries(logging.Handler):
    """Counts what the local bus reports as a failed delivery (a retry or a dead letter)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


@pytest.fixture
def failed_deliveries() -> Iterator[FailedDeliveries]:
    handler = FailedDeliveries()
    local_bus.log.addHandler(handler)
    yield handler
    local_bus.log.removeHandler(handler)


OUTAGE_SECONDS = 5.0


@pytest.mark.slow
def test_a_five_second_postgresql_outage_while_courses_run_completes_every_course(
    embedded: Embedded, client: Client, failed_deliveries: FailedDeliveries
) -> None:
    store = embedded.flow.deps.state_store
    running = [post_course(client, {**REQUEST, "hours": hours}) for hours in (0.5, 1, 2, 4, 8, 16, 24, 40)]

    def past_the_search() -> list[str]:
        states = [store.get(course_id) for course_id in running]
        return [s.course_id for s in states if s and s.status not in (Status.QUEUED, Status.SEARCHING)]

    # Stop the server once the first courses are past the search, so steps meet it at every
    # stage, and keep it stopped for the whole outage.
    wait_until(past_the_search, FINISH_WITHIN, "a course past the search")
    embedded.server.stop()
    try:
        wait_until(lambda: failed_deliveries.count, FINISH_WITHIN, "a delivery failing on the stopped server")
        time.sleep(OUTAGE_SECONDS)  # the outage itself, not a wait for another thread
    finally:
        embedded.server.ensure_running()
    back = time.monotonic()

    finals = wait_until_terminal(store.get, running, FINISH_WITHIN)
    recovered = time.monotonic() - back
    for course_id, state in finals.items():
        assert state.status is Status.COMPLETE, state.error
        stored = embedded.flow.deps.course_store.get(course_id)
        assert stored is not None and stored.outline.parts
    assert failed_deliveries.count > 0
    print(
        f"{OUTAGE_SECONDS:.0f} s outage: {len(running)} courses, {failed_deliveries.count} failed deliveries"
        f" retried, all complete {recovered:.1f} s after the server was back",
        file=sys.stderr,
    )


@pytest.mark.slow
def test_a_brief_postgresql_outage_is_ridden_out_by_the_bus_retries(embedded: Embedded) -> None:
    outage = Outage(embedded, failures=3)
    flow = Workflow(
        replace(embedded.flow.deps, library=PgLibrary(outage), course_store=PgCourseStore(outage))
    )
    bootstrap.configure_workflow(flow)

    course_id = flow.submit(LOCAL_USER, a_request(hours=1.0)).course_id
    [state] = wait_until_terminal(flow.deps.state_store.get, [course_id], FINISH_WITHIN).values()

    assert outage.refused == outage.failures
    assert state.status is Status.COMPLETE


def test_reading_courses_while_postgresql_is_down_is_a_503_in_the_error_format(
    embedded: Embedded, client: Client
) -> None:
    done = post_course(client, REQUEST)
    wait_until_terminal(embedded.flow.deps.state_store.get, [done], FINISH_WITHIN)
    embedded.server.stop()
    try:
        responses = [client.http.get(f"/courses/{done}"), client.http.get("/courses")]
    finally:
        embedded.server.ensure_running()
    for response in responses:
        assert response.status_code == 503, response.body
        assert set(response.json_body["error"]) == {"code", "message", "field"}


# --- retries spent: the local bus's dead letters and the AWS dead-letter queue ---------------------


class FlakyStateStore(DelegatingStateStore):
    """Refuses the first `failures` writes of a failed state (SQLite busy past its timeout)."""

    def __init__(self, inner: StateStore, failures: int) -> None:
        super().__init__(inner)
        self.failures = failures

    def save(self, state: CourseState) -> CourseState:
        if state.status is Status.FAILED and self.failures > 0:
            self.failures -= 1
            raise sqlite3.OperationalError("database is locked")
        return self.inner.save(state)


@pytest.fixture
def bus_with_dead_letters(embedded: Embedded) -> Iterator[Callable[..., tuple[Workflow, LocalBus]]]:
    """A workflow on its own local bus, dead letters wired as bootstrap.py wires them."""
    buses: list[LocalBus] = []

    def build(**changes: Any) -> tuple[Workflow, LocalBus]:
        bus = LocalBus(app, max_attempts=3, retry_delay=0.01)
        flow = Workflow(replace(embedded.flow.deps, publisher=bus, **changes))
        bus.on_dead_letter = lambda handler, message, error: flow.fail_course(
            message["detail"]["course_id"], bootstrap.phase_of_handler(handler), local_bus.describe(error)
        )
        bootstrap.configure_workflow(flow)
        buses.append(bus)
        return flow, bus

    yield build
    for bus in buses:
        assert bus.wait_idle(timeout=30)
        bus.close()


def test_a_delivery_failing_on_every_attempt_is_dead_lettered_and_its_course_ends_failed(
    embedded: Embedded, bus_with_dead_letters: Callable[..., tuple[Workflow, LocalBus]]
) -> None:
    outage = Outage(embedded, failures=1_000)
    flow, bus = bus_with_dead_letters(library=PgLibrary(outage))

    course_id = flow.submit(LOCAL_USER, a_request()).course_id
    [state] = wait_until_terminal(flow.deps.state_store.get, [course_id], FINISH_WITHIN).values()

    assert outage.refused == bus.max_attempts  # one connection per attempt, then no more
    assert state.status is Status.FAILED and state.error is not None
    assert state.error.phase == BY_EVENT[EventName.EMBEDDING_GENERATED].phase
    assert state.error.reason.startswith(f"gave up after {bus.max_attempts} attempts in ")
    assert state.error.reason.endswith("communication error")


def test_a_dead_letter_that_cannot_be_recorded_at_first_still_ends_the_course_failed(
    embedded: Embedded, bus_with_dead_letters: Callable[..., tuple[Workflow, LocalBus]]
) -> None:
    state_store = FlakyStateStore(embedded.flow.deps.state_store, failures=2)
    flow, _ = bus_with_dead_letters(library=PgLibrary(no_server(embedded)), state_store=state_store)

    course_id = flow.submit(LOCAL_USER, a_request()).course_id
    [state] = wait_until_terminal(flow.deps.state_store.get, [course_id], FINISH_WITHIN).values()

    assert state_store.failures == 0
    assert state.status is Status.FAILED


@pytest.fixture
def dynamodb(aws_credentials: None) -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_table(client, "course-state")
        # moto checks a condition and then writes with no lock; real DynamoDB applies each
        # conditional write atomically, which running one call at a time restores.
        yield OneCallAtATime(client)


def invocation_record(event: dict[str, Any], error: BaseException, attempts: int) -> dict[str, Any]:
    """What Lambda sends its on-failure destination once its async retries are spent."""
    return {
        "version": "1.0",
        "timestamp": "2026-01-01T00:10:00.000Z",
        "requestContext": {
            "requestId": "0f0e0d0c-0000-4000-8000-000000000000",
            "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:coursegen-dev-handler",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": attempts,
        },
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorMessage": str(error), "errorType": type(error).__name__},
    }


def test_on_aws_an_event_whose_retries_are_spent_reaches_the_dead_letter_queue_and_fails_its_course(
    embedded: Embedded, dynamodb: Any
) -> None:
    bus = ScriptedBus()
    flow = scripted_workflow(
        embedded,
        state_store=DynamoDBStateStore("course-state", client=dynamodb),
        publisher=bus,
        library=PgLibrary(no_server(embedded)),
        prefix="dlq",
    )
    bootstrap.configure_workflow(flow)
    client = Client(app, stage_name="local")
    course_id = flow.submit(LOCAL_USER, a_request()).course_id
    [event] = bus.pending
    delivered = envelope(event)

    # Lambda's async invocation: the first call and two retries all raise.
    errors = []
    for _ in range(3):
        with pytest.raises(Exception) as raised:
            client.lambda_.invoke(BY_EVENT[event.name].handler, delivered)
        errors.append(raised.value)
    state = flow.deps.state_store.get(course_id)
    assert state is not None and state.status is Status.SEARCHING  # in progress, until the DLQ

    message = json.dumps(invocation_record(delivered, errors[-1], attempts=3))
    sqs_event = client.events.generate_sqs_event([message], queue_name=dead_letters.QUEUE_PLACEHOLDER)
    client.lambda_.invoke(dead_letters.HANDLER_NAME, sqs_event)

    failed = flow.deps.state_store.get(course_id)
    assert failed is not None and failed.status is Status.FAILED and failed.error is not None
    assert failed.error.phase in (BY_EVENT[event.name].phase, BY_EVENT[event.name].handler)
    last = errors[-1]
    assert isinstance(last, TransientError)
    assert failed.error.reason == f"gave up after 3 attempts: {last}"  # a sentence, no class name
    assert bus.history[-1] == make_event(
        EventName.COURSE_FAILED, course_id, phase=failed.error.phase, reason=failed.error.reason
    )

    # SQS delivers at least once: the same message again changes nothing.
    client.lambda_.invoke(dead_letters.HANDLER_NAME, sqs_event)
    assert flow.deps.state_store.get(course_id) == failed


def test_a_dead_letter_on_aws_reports_the_phase_as_the_local_bus_does() -> None:
    for name in BY_EVENT:
        message = {"body": json.dumps(envelope(make_event(name, "c-1", **part_of(name))))}
        letter = dead_letters.parse(message)
        assert letter is not None
        assert letter.phase == bootstrap.phase_of_handler(BY_EVENT[name].handler) == BY_EVENT[name].phase


def part_of(name: EventName) -> dict[str, int]:
    return {"part_index": 0} if name is EventName.PART_SECTIONS_GENERATED else {}


def test_on_aws_a_dead_letter_for_a_course_that_completed_meanwhile_leaves_it_complete(
    embedded: Embedded, dynamodb: Any
) -> None:
    bus = ScriptedBus()
    flow = scripted_workflow(
        embedded, state_store=DynamoDBStateStore("course-state", client=dynamodb), publisher=bus, prefix="dlq"
    )
    bootstrap.configure_workflow(flow)
    course_id = flow.submit(LOCAL_USER, a_request()).course_id
    run_in_order(flow, bus)
    done = flow.deps.state_store.get(course_id)
    assert done is not None and done.status is Status.COMPLETE

    # A copy of the first event that EventBridge could not deliver, reported late.
    client = Client(app, stage_name="local")
    late = client.events.generate_sqs_event(
        [json.dumps(envelope(make_event(EventName.EMBEDDING_GENERATED, course_id)))]
    )
    late["Records"][0]["messageAttributes"] = {
        "ERROR_CODE": {"stringValue": "Lambda.TooManyRequestsException", "dataType": "String"}
    }
    client.lambda_.invoke(dead_letters.HANDLER_NAME, late)

    assert flow.deps.state_store.get(course_id) == done


# --- DynamoDB: two deliveries of one event at the same moment -----------------------------------


class ReadTogether(DelegatingStateStore):
    """Holds each delivery's read until the other one has read too, so both decide on the same
    version and race to write it; counts the writes that lose."""

    def __init__(self, inner: StateStore) -> None:
        super().__init__(inner)
        self.barrier: threading.Barrier | None = threading.Barrier(2, timeout=10)
        self.lost = 0

    def get(self, course_id: str) -> CourseState | None:
        state = self.inner.get(course_id)
        if self.barrier is not None:
            self.barrier.wait()
        return state

    def save(self, state: CourseState) -> CourseState:
        try:
            return self.inner.save(state)
        except StaleState:
            self.lost += 1
            raise


def test_two_concurrent_deliveries_of_each_event_apply_it_once_through_dynamodb_conditional_writes(
    embedded: Embedded, dynamodb: Any
) -> None:
    clean_bus = ScriptedBus()
    # One part after another, so that one event waits at a time (test_fan_out races the parts).
    clean_flow = scripted_workflow(embedded, publisher=clean_bus, prefix="ddb-clean", parallel_sections=False)
    clean_id = clean_flow.submit(LOCAL_USER, a_request(hours=2.0)).course_id
    run_in_order(clean_flow, clean_bus)
    clean = snapshot(clean_flow, embedded.connect, clean_id)

    racing = ReadTogether(DynamoDBStateStore("course-state", client=dynamodb))
    bus = ScriptedBus()
    flow = scripted_workflow(
        embedded, state_store=racing, publisher=bus, prefix="ddb", parallel_sections=False
    )
    course_id = flow.submit(LOCAL_USER, a_request(hours=2.0)).course_id

    rounds = 0
    while bus.pending:
        [event] = bus.pending  # one step at a time, each delivered twice at once
        bus.pending.clear()
        published, lost = len(bus.history), racing.lost
        errors: list[BaseException] = []

        def one_delivery(event: Any = event, errors: list[BaseException] = errors) -> None:
            try:
                deliver(flow, event)
            except BaseException as error:  # collected: a thread cannot fail the test itself
                errors.append(error)

        threads = [threading.Thread(target=one_delivery) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert not errors, errors
        # Exactly one delivery applied the step: one lost write, one next event.
        assert racing.lost == lost + 1, event
        assert len(bus.history) == published + 1, event
        rounds += 1

    racing.barrier = None
    assert rounds == len(clean_bus.history) - 1  # every step raced (CourseStored has no handler)
    assert_same_course(snapshot(flow, embedded.connect, course_id), clean)
