"""The dead-letter consumer: both message shapes AWS puts on the queue end their course as failed."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from app import app
from chalicelib import bootstrap, dead_letters
from chalicelib.adapters.memory_state import InMemoryStateStore
from chalicelib.core.events import EventName
from chalicelib.core.models import Status
from chalicelib.planning.offline import OfflinePlanner
from chalicelib.workflow import Deps, Workflow
from tests.support.factories import a_state
from tests.support.fakes import Clock, FakeCourseStore, FakeEmbedder, FakeLibrary, RecordingPublisher


def workflow_event(detail_type: str = "PartsGenerated", course_id: str = "c-1") -> dict[str, Any]:
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": detail_type,
        "source": "docprof.course",
        "time": "2026-01-01T00:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {"course_id": course_id},
    }


def delivery_failure(event: dict[str, Any]) -> dict[str, Any]:
    """What an EventBridge target DLQ receives: the event, the error in message attributes."""
    return {
        "body": json.dumps(event),
        "messageAttributes": {
            "ERROR_CODE": {"stringValue": "Lambda.TooManyRequestsException", "dataType": "String"},
            "ERROR_MESSAGE": {"stringValue": "Rate exceeded", "dataType": "String"},
        },
    }


def invocation_failure(
    event: dict[str, Any],
    response: dict[str, Any] | None = None,
    condition: str = "RetriesExhausted",
) -> dict[str, Any]:
    """What a Lambda on-failure destination receives: an invocation record around the event."""
    record = {
        "version": "1.0",
        "timestamp": "2026-01-01T00:10:00.000Z",
        "requestContext": {
            "requestId": "e4b46cbf-b738-xmpl-8880-a18cdf61200e",
            "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:coursegen-dev-course-parts",
            "condition": condition,
            "approximateInvokeCount": 3,
        },
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": response
        if response is not None
        else {"errorMessage": "PostgreSQL is unavailable: connection refused", "errorType": "TransientError"},
    }
    return {"body": json.dumps(record), "messageAttributes": {}}


def test_an_invocation_record_names_the_course_the_phase_and_the_error() -> None:
    letter = dead_letters.parse(invocation_failure(workflow_event()))
    assert letter == dead_letters.DeadLetter(
        course_id="c-1",
        phase="sections",
        reason="gave up after 3 attempts: PostgreSQL is unavailable: connection refused",
    )


def test_an_undelivered_event_names_the_course_the_phase_and_the_delivery_error() -> None:
    letter = dead_letters.parse(delivery_failure(workflow_event("OutlineReview")))
    assert letter is not None
    assert (letter.course_id, letter.phase) == ("c-1", "storage")
    assert letter.reason == "EventBridge could not deliver the event: Rate exceeded"


def reason_of(response: dict[str, Any], condition: str = "RetriesExhausted") -> str:
    letter = dead_letters.parse(invocation_failure(workflow_event(), response, condition))
    assert letter is not None
    return letter.reason


@pytest.mark.parametrize(
    ("response", "condition", "reason"),
    [
        (  # ours: the message is the sentence
            {"errorType": "DatabasePasswordRefused", "errorMessage": "the database refused the password"},
            "RetriesExhausted",
            "gave up after 3 attempts: the database refused the password",
        ),
        (  # ours, from a module the consumer imports only when it builds its workflow
            {"errorType": "PublishError", "errorMessage": "EventBridge refused 1 event"},
            "RetriesExhausted",
            "gave up after 3 attempts: EventBridge refused 1 event",
        ),
        (  # anything else is unexpected: its message, without its class
            {"errorType": "KeyError", "errorMessage": "'detail'"},
            "RetriesExhausted",
            "gave up after 3 attempts: an unexpected error occurred ('detail')",
        ),
        (  # Lambda's own: a timeout
            {"errorType": "Sandbox.Timedout", "errorMessage": "Task timed out after 30.00 seconds"},
            "RetriesExhausted",
            "gave up after 3 attempts: the function stopped: Task timed out after 30.00 seconds",
        ),
        (
            {"errorType": "TransientError", "errorMessage": "the model server answered 503"},
            "EventAgeExceeded",
            "gave up after 3 attempts, the event being too old to try again: the model server answered 503",
        ),
        ({}, "RetriesExhausted", "gave up after 3 attempts: the function reported no error"),
    ],
)
def test_an_invocation_record_s_reason_is_a_sentence_without_class_names(
    response: dict[str, Any], condition: str, reason: str
) -> None:
    assert reason_of(response, condition) == reason


@pytest.mark.slow  # a fresh interpreter
def test_the_reason_names_no_class_even_in_a_consumer_that_has_imported_nothing_else() -> None:
    # A cold consumer parses its first record before it builds the workflow (which imports the
    # adapters); the adapters' errors must read as theirs all the same.
    script = (
        "import json, sys\n"
        "from chalicelib import dead_letters\n"
        "assert 'chalicelib.adapters.eventbridge' not in sys.modules\n"
        "print(dead_letters.parse(json.loads(sys.stdin.read())).reason)\n"
    )
    record = invocation_failure(workflow_event(), {"errorType": "PublishError", "errorMessage": "refused"})
    done = subprocess.run(
        [sys.executable, "-c", script], input=json.dumps(record), capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "gave up after 3 attempts: refused"


@pytest.mark.parametrize(
    ("code", "message", "reason"),
    [
        ("Lambda.TooManyRequestsException", "", "lambda: too many requests"),
        ("NO_PERMISSIONS", "", "no permissions"),
        ("", "", "no reason given"),
    ],
)
def test_an_undelivered_event_without_a_message_says_its_code_in_words(
    code: str, message: str, reason: str
) -> None:
    record = delivery_failure(workflow_event())
    record["messageAttributes"]["ERROR_CODE"]["stringValue"] = code
    record["messageAttributes"]["ERROR_MESSAGE"]["stringValue"] = message
    letter = dead_letters.parse(record)
    assert letter is not None
    assert letter.reason == f"EventBridge could not deliver the event: {reason}"


@pytest.mark.parametrize(
    "body",
    ["not json", "[]", json.dumps({"detail": {}}), json.dumps({"requestPayload": {"detail": "x"}})],
)
def test_a_message_without_a_course_id_is_dropped_not_retried(body: str) -> None:
    calls: list[tuple[str, str, str]] = []

    def fail_course(course_id: str, phase: str, reason: str) -> bool:
        calls.append((course_id, phase, reason))
        return True

    assert dead_letters.handle([{"body": body}], fail_course) == 0
    assert calls == []


def test_an_error_of_the_state_store_propagates_so_sqs_redelivers() -> None:
    def failing(*_: str) -> bool:
        raise ConnectionError("DynamoDB unreachable")

    with pytest.raises(ConnectionError):
        dead_letters.handle([delivery_failure(workflow_event())], failing)


def test_a_long_error_is_cut_to_fit_the_course_failed_event() -> None:
    event = invocation_failure(workflow_event())
    record = json.loads(event["body"])
    record["responsePayload"]["errorMessage"] = "x" * 5000
    letter = dead_letters.parse({"body": json.dumps(record)})
    assert letter is not None and len(letter.reason) == 500


DeployedFlow = tuple[Workflow, InMemoryStateStore, RecordingPublisher]


@pytest.fixture
def deployed_flow() -> Iterator[DeployedFlow]:
    store, publisher = InMemoryStateStore(), RecordingPublisher()
    deps = Deps(
        state_store=store,
        publisher=publisher,
        library=FakeLibrary([]),
        course_store=FakeCourseStore(),
        planner=OfflinePlanner(),
        embedder=FakeEmbedder(),
        clock=Clock(),
        new_id=lambda: "unused",
    )
    flow = Workflow(deps)
    bootstrap.configure_workflow(flow)
    yield flow, store, publisher
    bootstrap.reset()


def test_the_app_handler_ends_the_course_as_failed_and_announces_it(deployed_flow: DeployedFlow) -> None:
    flow, store, publisher = deployed_flow
    store.create(a_state(Status.PLANNING, course_id="c-9"))
    sqs_event = {"Records": [{**invocation_failure(workflow_event(course_id="c-9")), "receiptHandle": "r-1"}]}

    app.handler_map[dead_letters.HANDLER_NAME](sqs_event, None)

    state = store.get("c-9")
    assert state is not None and state.status is Status.FAILED
    assert [event.name for event in publisher.events] == [EventName.COURSE_FAILED]
    reason = flow.view(state.user_id, "c-9").state.error.reason  # type: ignore[union-attr]
    assert reason == "gave up after 3 attempts: PostgreSQL is unavailable: connection refused"


def test_a_course_that_already_finished_is_left_alone(deployed_flow: DeployedFlow) -> None:
    _, store, publisher = deployed_flow
    store.create(a_state(Status.COMPLETE, course_id="c-8"))
    sqs_event = {"Records": [{**delivery_failure(workflow_event(course_id="c-8")), "receiptHandle": "r-2"}]}

    app.handler_map[dead_letters.HANDLER_NAME](sqs_event, None)

    assert store.get("c-8").status is Status.COMPLETE  # type: ignore[union-attr]
    assert publisher.events == []
