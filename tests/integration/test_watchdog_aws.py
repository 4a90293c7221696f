"""The watchdog on AWS, against moto: the state table with its sparse index of courses in progress,
the custom bus with one rule per handler (an SQS queue behind each, standing in for the handler)
and a rule that catches CourseFailed. The scheduled function runs as Lambda would run it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from app import app
from chalicelib import bootstrap, logs
from chalicelib.adapters.dynamodb_state import IDLE_INDEX, DynamoDBStateStore, create_table
from chalicelib.adapters.eventbridge import EventBridgePublisher
from chalicelib.core.events import EventName, pattern_for
from chalicelib.core.models import CourseRequest, CourseState, PartPlan, SectionPlan, Status
from chalicelib.core.registry import HANDLERS
from chalicelib.core.watchdog import HANDLER_NAME, Policy, format_time
from chalicelib.workflow import Watchdog
from tests.support.factories import a_hit

REGION = "us-east-1"
TABLE = "coursegen-test-course-state"
BUS = "coursegen-test-course-events"
FAILED_QUEUE = "course-failed"
FUNCTION = f"coursegen-dev-{HANDLER_NAME}"


@dataclass
class Aws:
    dynamodb: Any
    events: Any
    sqs: Any
    queues: dict[str, str]  # handler (or FAILED_QUEUE) -> queue URL

    def received(self, queue: str) -> list[dict[str, Any]]:
        messages = self.sqs.receive_message(
            QueueUrl=self.queues[queue], MaxNumberOfMessages=10, WaitTimeSeconds=0
        ).get("Messages", [])
        return [json.loads(message["Body"]) for message in messages]

    def store(self) -> DynamoDBStateStore:
        return DynamoDBStateStore(TABLE, client=self.dynamodb)

    def indexed(self) -> list[str]:
        """The course ids in the idle index (read here by a scan: the test looks at all of it)."""
        items = self.dynamodb.scan(TableName=TABLE, IndexName=IDLE_INDEX)["Items"]
        return sorted(item["course_id"]["S"] for item in items)


@pytest.fixture
def aws(aws_credentials: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        create_table(dynamodb, TABLE)
        events, sqs = boto3.client("events", region_name=REGION), boto3.client("sqs", region_name=REGION)
        events.create_event_bus(Name=BUS)
        queues: dict[str, str] = {}
        routes = [(spec.handler, pattern_for(spec.consumes)) for spec in HANDLERS]
        routes.append((FAILED_QUEUE, pattern_for(EventName.COURSE_FAILED)))
        for name, pattern in routes:
            url = sqs.create_queue(QueueName=name)["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            events.put_rule(Name=f"{name}-rule", EventBusName=BUS, EventPattern=json.dumps(pattern))
            events.put_targets(Rule=f"{name}-rule", EventBusName=BUS, Targets=[{"Id": name, "Arn": arn}])
            queues[name] = url
        # What .chalice/config.json gives the function on AWS; the database is never reached.
        for name, value in {
            "COURSEGEN_RUNTIME": "aws",
            "DYNAMODB_COURSE_STATE_TABLE_NAME": TABLE,
            "EVENT_BUS_NAME": BUS,
            "DB_CLUSTER_ENDPOINT": "db.invalid",
            "DB_NAME": "coursegen",
            "DB_MASTER_USERNAME": "coursegen",
            "DB_PASSWORD_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:none",
        }.items():
            monkeypatch.setenv(name, value)
        bootstrap.reset()
        yield Aws(dynamodb, events, sqs, queues)
        bootstrap.reset()


def a_course(course_id: str, status: Status, updated_at: datetime, **changes: Any) -> CourseState:
    return CourseState(
        course_id=course_id,
        user_id="u-1",
        request=CourseRequest(query="Learn DCF valuation", hours=2),
        status=status,
        created_at=format_time(updated_at),
        updated_at=format_time(updated_at),
        **changes,
    )


@dataclass(frozen=True)
class LambdaContext:
    function_name: str
    aws_request_id: str = "0f0e0d0c-0000-4000-8000-000000000000"


def run_scheduled() -> dict[str, Any]:
    """Invoke the scheduled function as Lambda does for the schedule's rule (the environment is
    the test's: chalice's test client would apply a stage's instead)."""
    event = {
        "version": "0",
        "id": "5e2b6a0e-0000-4000-8000-000000000000",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-01-01T00:05:00Z",
        "region": REGION,
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/coursegen-dev-course-watchdog"],
        "detail": {},
    }
    payload: dict[str, Any] = app.handler_map[HANDLER_NAME](event, LambdaContext(FUNCTION))
    return payload


def test_the_scheduled_function_redrives_a_course_left_queued_by_a_killed_request(
    aws: Aws, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The API function wrote the state and was killed before it published EmbeddingGenerated.
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    store = aws.store()
    store.create(a_course("stranded", Status.QUEUED, hour_ago))
    store.create(a_course("fresh", Status.QUEUED, datetime.now(UTC)))  # within its deadline
    assert aws.indexed() == ["fresh", "stranded"]
    monkeypatch.setattr(logs, "_configured", False)  # as in a new Lambda: the function sets logs up
    capsys.readouterr()

    summary = run_scheduled()

    assert summary == {"checked": 1, "redriven": 1, "failed": 0, "raced": 0, "errors": 0}
    [delivered] = aws.received("course-embedding-handler")
    assert (delivered["detail-type"], delivered["detail"]) == (
        "EmbeddingGenerated",
        {"course_id": "stranded"},
    )
    redriven = store.get("stranded")
    assert redriven is not None and redriven.status is Status.QUEUED and redriven.redrives == 1
    assert redriven.version == 2
    out = capsys.readouterr().out  # Lambda sends stdout, a line an event, to CloudWatch Logs
    [line] = [json.loads(text) for text in out.splitlines() if '"watchdog swept"' in text]
    assert (line["StalledCoursesRedriven"], line["StalledCoursesFailed"]) == (1, 0)
    assert line["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["FunctionName"]]
    assert line["FunctionName"] == FUNCTION  # the alarm's dimension
    assert bootstrap.settings().runtime == "aws"


def test_a_course_that_never_moves_is_redriven_three_times_then_fails_and_leaves_the_index(aws: Aws) -> None:
    store = aws.store()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    planned = {  # every part planned: what the review works on
        "chapters": [a_hit()],
        "parts": [PartPlan(title="Foundations", minutes=120)],
        "sections": [[SectionPlan(title="Cash flows", minutes=120, objectives=["Explain FCFF"])]],
    }
    store.create(a_course("lost", Status.REVIEWING, start, **planned))
    watchdog = Watchdog(store, EventBridgePublisher(BUS, client=aws.events), Policy())

    now, outcomes = start, []
    for _ in range(5):
        now += timedelta(minutes=21)  # past the review's deadline every time
        summary = watchdog.sweep(now)
        outcomes.append((summary.redriven, summary.failed))

    assert outcomes == [(1, 0), (1, 0), (1, 0), (0, 1), (0, 0)]
    reviews = aws.received("course-outline-reviewer")
    assert [m["detail-type"] for m in reviews] == ["AllPartsComplete"] * 3
    failed = store.get("lost")
    assert failed is not None and failed.status is Status.FAILED and failed.error is not None
    reason = "stalled in review: no progress for 20 minutes after 3 redrives of its next step"
    assert (failed.error.phase, failed.error.reason) == ("review", reason)
    [announced] = aws.received(FAILED_QUEUE)
    assert announced["detail"] == {"course_id": "lost", "phase": "review", "reason": reason}
    assert aws.indexed() == []  # a failed course is no longer in the sparse index


def test_a_finished_course_is_never_looked_at_and_a_course_that_moved_on_is_not_redriven(aws: Aws) -> None:
    store = aws.store()
    old = datetime(2026, 1, 1, tzinfo=UTC)
    store.create(a_course("done", Status.COMPLETE, old))
    store.create(a_course("failed", Status.FAILED, old))
    moving = store.create(a_course("moving", Status.SEARCHING, old))
    watchdog = Watchdog(store, EventBridgePublisher(BUS, client=aws.events), Policy())
    assert aws.indexed() == ["moving"]

    # The search step writes just before the sweep reads: it is no longer idle.
    store.save(moving.model_copy(update={"updated_at": format_time(old + timedelta(hours=1))}))
    summary = watchdog.sweep(old + timedelta(hours=1, minutes=1))

    assert (summary.checked, summary.redriven, summary.failed) == (0, 0, 0)
    assert aws.received("course-embedding-handler") == []
