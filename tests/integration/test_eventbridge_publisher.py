"""EventBridgePublisher against moto: a custom bus, one rule per handler (the patterns from
chalicelib.core.events) and an SQS queue behind each rule, standing in for the handler."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from chalicelib.adapters.eventbridge import EventBridgePublisher, PublishError
from chalicelib.core.events import (
    SOURCE,
    EventName,
    make_event,
    parse_detail,
    pattern_for,
)
from chalicelib.core.registry import BY_EVENT, HANDLERS
from chalicelib.errors import TransientError

REGION = "us-east-1"
BUS = "docprof-test-course-events"


@dataclass
class Bus:
    events: Any
    sqs: Any
    queues: dict[EventName, str]  # the event a handler consumes -> its stand-in queue's URL

    def received(self, name: EventName) -> list[dict[str, Any]]:
        messages = self.sqs.receive_message(
            QueueUrl=self.queues[name], MaxNumberOfMessages=10, WaitTimeSeconds=0
        ).get("Messages", [])
        return [json.loads(message["Body"]) for message in messages]


@pytest.fixture
def bus(aws_credentials: None) -> Iterator[Bus]:
    with mock_aws():
        events = boto3.client("events", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        events.create_event_bus(Name=BUS)
        queues: dict[EventName, str] = {}
        for handler, name in ((spec.handler, spec.consumes) for spec in HANDLERS):
            url = sqs.create_queue(QueueName=handler)["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            rule = f"{handler}-event"
            events.put_rule(Name=rule, EventBusName=BUS, EventPattern=json.dumps(pattern_for(name)))
            events.put_targets(Rule=rule, EventBusName=BUS, Targets=[{"Id": handler, "Arn": arn}])
            queues[name] = url
        yield Bus(events=events, sqs=sqs, queues=queues)


def test_a_published_event_reaches_the_queue_of_the_rule_for_its_name(bus: Bus) -> None:
    EventBridgePublisher(BUS, client=bus.events).publish(
        make_event(EventName.EMBEDDING_GENERATED, "course-1")
    )

    [delivered] = bus.received(EventName.EMBEDDING_GENERATED)
    assert delivered["source"] == SOURCE
    assert delivered["detail-type"] == "EmbeddingGenerated"
    assert delivered["detail"] == {"course_id": "course-1"}
    assert parse_detail(EventName.EMBEDDING_GENERATED, delivered["detail"]).course_id == "course-1"


def test_an_event_with_another_name_does_not_reach_that_queue(bus: Bus) -> None:
    publisher = EventBridgePublisher(BUS, client=bus.events)

    publisher.publish(make_event(EventName.PART_SECTIONS_GENERATED, "course-1", part_index=2))

    assert bus.received(EventName.EMBEDDING_GENERATED) == []
    [delivered] = bus.received(EventName.PART_SECTIONS_GENERATED)
    assert delivered["detail-type"] == "PartSectionsGenerated"
    assert delivered["detail"] == {"course_id": "course-1", "part_index": 2}


def test_every_handler_event_reaches_only_its_own_handlers_queue(bus: Bus) -> None:
    publisher = EventBridgePublisher(BUS, client=bus.events)
    for name in BY_EVENT:
        fields = {"part_index": 0} if name is EventName.PART_SECTIONS_GENERATED else {}
        publisher.publish(make_event(name, f"course-{name.value}", **fields))

    for name in BY_EVENT:
        assert [message["detail"]["course_id"] for message in bus.received(name)] == [f"course-{name.value}"]


def test_an_event_no_handler_consumes_reaches_no_handler_queue(bus: Bus) -> None:
    EventBridgePublisher(BUS, client=bus.events).publish(
        make_event(EventName.COURSE_FAILED, "course-1", phase="planning", reason="no books")
    )

    assert all(bus.received(name) == [] for name in BY_EVENT)


def test_a_rejected_entry_raises_a_transient_publish_error_naming_the_cause(aws_credentials: None) -> None:
    client = boto3.client("events", region_name=REGION)
    event = make_event(EventName.OUTLINE_REVIEW, "course-7")
    with Stubber(client) as stub:
        stub.add_response(
            "put_events",
            {
                "FailedEntryCount": 1,
                "Entries": [{"ErrorCode": "ThrottlingException", "ErrorMessage": "Rate exceeded"}],
            },
            expected_params={
                "Entries": [
                    {
                        "Source": SOURCE,
                        "DetailType": "OutlineReview",
                        "Detail": json.dumps({"course_id": "course-7"}),
                        "EventBusName": BUS,
                    }
                ]
            },
        )

        with pytest.raises(PublishError, match="ThrottlingException: Rate exceeded") as raised:
            EventBridgePublisher(BUS, client=client).publish(event)

        stub.assert_no_pending_responses()
    assert isinstance(raised.value, TransientError)
    assert "course-7" in str(raised.value)


def test_a_lazily_created_client_retries_in_standard_mode(aws_credentials: None) -> None:
    publisher = EventBridgePublisher(BUS)

    # botocore counts max_attempts=5 as retries: at most 6 calls in all.
    assert publisher.client.meta.config.retries == {"mode": "standard", "total_max_attempts": 6}
