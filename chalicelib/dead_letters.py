"""The dead-letter queue consumer: each message names a workflow event that failed for good, and
the course it carries ends as `failed` with the reason AWS recorded, so no course stays stuck.

One queue receives two shapes of message:
- an EventBridge target's DLQ (delivery failed): the body is the original event; the message
  attributes ERROR_CODE and ERROR_MESSAGE say why;
- a Lambda on-failure destination (the handler kept raising): the body is an invocation record
  whose `requestPayload` is the original event and whose `responsePayload` holds the error.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .core.events import EventName
from .core.registry import BY_EVENT

log = logging.getLogger("coursegen.dead_letters")

HANDLER_NAME = "course-dead-letter-handler"
# Chalice needs a queue name when it packages the app; the Terraform post-processor replaces the
# ARN it derives from this name with the dead-letter queue of the eventbridge module.
QUEUE_PLACEHOLDER = "course-dead-letters"
_MAX_REASON = 500  # well inside CourseFailed's limit, and enough to read the error


FailCourse = Callable[[str, str, str], bool]


@dataclass(frozen=True)
class DeadLetter:
    course_id: str
    phase: str
    reason: str


def parse(record: Mapping[str, Any]) -> DeadLetter | None:
    """The course, phase and reason of one SQS record; None if it carries no workflow event."""
    try:
        body = json.loads(record.get("body") or "")
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    if isinstance(body.get("requestPayload"), dict):
        event, reason = body["requestPayload"], _lambda_reason(body)
    else:
        event, reason = body, _delivery_reason(record.get("messageAttributes") or {})
    detail = event.get("detail")
    course_id = detail.get("course_id") if isinstance(detail, dict) else None
    if not isinstance(course_id, str) or not course_id:
        return None
    return DeadLetter(course_id, _phase(event.get("detail-type")), reason[:_MAX_REASON])


def handle(records: Iterable[Mapping[str, Any]], fail_course: FailCourse) -> int:
    """Fail the course of every record; return how many courses changed. A record that is not a
    workflow event is logged and dropped (retrying it cannot help); errors reaching the state
    store propagate, so SQS redelivers the message later."""
    failed = 0
    for record in records:
        letter = parse(record)
        if letter is None:
            log.error("dead letter without a course id dropped", extra={"phase": HANDLER_NAME})
            continue
        changed = fail_course(letter.course_id, letter.phase, letter.reason)
        log.warning(
            "dead letter: %s",
            letter.reason if changed else "course already finished or unknown",
            extra={"course_id": letter.course_id, "phase": letter.phase},
        )
        failed += int(changed)
    return failed


def _phase(detail_type: Any) -> str:
    """The workflow phase that consumes the event (as a failed step and the local bus report
    it), else the event name."""
    try:
        spec = BY_EVENT.get(EventName(detail_type))
    except ValueError:
        return str(detail_type or "unknown")
    return spec.phase.value if spec is not None else str(detail_type)


def _lambda_reason(body: Mapping[str, Any]) -> str:
    context = body.get("requestContext") or {}
    response = body.get("responsePayload")
    error = "no error reported"
    if isinstance(response, dict) and response.get("errorType"):
        error = f"{response['errorType']}: {response.get('errorMessage', '')}"
    condition = context.get("condition", "RetriesExhausted")
    attempts = context.get("approximateInvokeCount", "?")
    return f"{condition} after {attempts} attempts: {error}"


def _delivery_reason(attributes: Mapping[str, Any]) -> str:
    def value(name: str) -> str:
        attribute = attributes.get(name) or {}
        return str(attribute.get("stringValue") or attribute.get("StringValue") or "")

    code, message = value("ERROR_CODE"), value("ERROR_MESSAGE")
    return f"EventBridge could not deliver the event: {code or 'unknown error'}: {message}".rstrip(": ")
