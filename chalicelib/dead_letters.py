"""The dead-letter queue consumer: each message names a workflow event that failed for good, and
the course it carries ends as `failed` with the reason AWS recorded, so no course stays stuck.

One queue receives two shapes of message:
- an EventBridge target's DLQ (delivery failed): the body is the original event; the message
  attributes ERROR_CODE and ERROR_MESSAGE say why;
- a Lambda on-failure destination (the handler kept raising): the body is an invocation record
  whose `requestPayload` is the original event and whose `responsePayload` holds the error.
"""

from __future__ import annotations

import importlib
import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .core.events import EventName
from .core.registry import BY_EVENT
from .errors import CourseGenError

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
    """Why Lambda gave up on the event, as a sentence a learner reads: how many attempts, then
    what the last one met, never a class name (those stay in the function's log)."""
    context = body.get("requestContext") or {}
    attempts = context.get("approximateInvokeCount")
    tried = f"gave up after {attempts} attempts" if isinstance(attempts, int) else "gave up"
    if context.get("condition") == "EventAgeExceeded":
        tried += ", the event being too old to try again"
    return f"{tried}: {_error_sentence(body.get('responsePayload'))}"


def _error_sentence(response: Any) -> str:
    """What the handler's error says: ours say it themselves; Lambda's own (a timeout, a crash)
    and anything unexpected are introduced as such."""
    if not isinstance(response, dict):
        return "the function reported no error"
    message = str(response.get("errorMessage") or "").strip()
    kind = str(response.get("errorType") or "")
    if not kind and not message:
        return "the function reported no error"
    if kind in _our_error_names():
        return message or "the step failed"
    if not kind or "." in kind:  # Lambda's own: Sandbox.Timedout, Runtime.ExitError, ...
        return f"the function stopped: {message}" if message else "the function stopped"
    return f"an unexpected error occurred ({message})" if message else "an unexpected error occurred"


# The modules outside errors.py whose errors a handler may raise, imported before the error
# classes are listed: a consumer that has not built its workflow yet has not imported them.
_ERROR_MODULES = (".config", ".ports", ".adapters.eventbridge", ".adapters.migrate")


def _our_error_names() -> set[str]:
    """The names of this project's error classes, whose messages are sentences by design."""
    for module in _ERROR_MODULES:
        importlib.import_module(module, __package__)
    names, pending = set(), [CourseGenError]
    while pending:
        cls = pending.pop()
        names.add(cls.__name__)
        pending += cls.__subclasses__()
    return names


def _delivery_reason(attributes: Mapping[str, Any]) -> str:
    def value(name: str) -> str:
        attribute = attributes.get(name) or {}
        return str(attribute.get("stringValue") or attribute.get("StringValue") or "").strip()

    code, message = value("ERROR_CODE"), value("ERROR_MESSAGE")
    return f"EventBridge could not deliver the event: {message or _words(code) or 'no reason given'}"


def _words(code: str) -> str:
    """An error code in words: "Lambda.TooManyRequestsException" -> "lambda: too many requests",
    "NO_PERMISSIONS" -> "no permissions"."""
    parts = []
    for part in code.split("."):
        part = re.sub(r"(Exception|Error)$", "", part)
        part = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", part).replace("_", " ")
        if part.strip():
            parts.append(part.strip().lower())
    return ": ".join(parts)
