"""In-process stand-in for the EventBridge custom bus, for the embedded default.

Published events are wrapped in the EventBridge envelope, matched against the patterns of the
handlers registered in the Chalice app (with moto's implementation of EventBridge pattern
matching) and delivered asynchronously on worker threads. Like Lambda's async invocation, a
handler that raises is retried a bounded number of times (exponential backoff with jitter), then
handed to a dead-letter callback, which is itself retried if it raises, as SQS redelivers.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chalicelib import logs
from chalicelib.core.events import SOURCE, Event
from chalicelib.ports import EventPublisher

log = logging.getLogger("coursegen.bus")

DeadLetter = Callable[[str, dict[str, Any], BaseException], object]
DEAD_LETTER_ATTEMPTS = 5


@dataclass(frozen=True)
class _Target:
    name: str
    matches: Callable[[Any], bool]


@dataclass(frozen=True)
class _Context:
    """The few Lambda context attributes a handler might read."""

    function_name: str
    aws_request_id: str


def envelope(event: Event, account: str = "000000000000", region: str = "local") -> dict[str, Any]:
    """The event as EventBridge delivers it to a Lambda target."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": event.name.value,
        "source": SOURCE,
        "account": account,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [],
        "detail": event.detail_json(),
    }


def event_targets(app: Any) -> list[_Target]:
    """The app's CloudWatch-event handlers, each with a matcher for its declared pattern."""
    from chalice.app import CloudWatchEventConfig
    from moto.events.models import EventPattern  # a maintained, faithful matcher

    targets = []
    for source in app.event_sources:
        if isinstance(source, CloudWatchEventConfig):
            pattern = EventPattern.load(json.dumps(source.event_pattern))
            targets.append(_Target(source.name, pattern.matches_event))
    return targets


class LocalBus(EventPublisher):
    def __init__(
        self,
        app: Any,
        *,
        workers: int = 4,
        max_attempts: int = 3,  # as Lambda's async invocation: the call and two retries
        retry_delay: float = 0.5,  # then about 1 s: enough to ride out a restart of PostgreSQL
        copies: int = 1,
        on_dead_letter: DeadLetter | None = None,
    ):
        self._app = app
        self._targets: list[_Target] | None = None
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="coursegen-bus")
        self.max_attempts = max_attempts
        self.retry_delay = retry_delay
        self.copies = copies  # >1 delivers every event several times, as at-least-once allows
        self.on_dead_letter = on_dead_letter
        self._pending = 0
        self._idle = threading.Condition()
        self.history: deque[Event] = deque(maxlen=10_000)

    def targets_for(self, envelope_: dict[str, Any]) -> list[str]:
        if self._targets is None:
            self._targets = event_targets(self._app)
        return [target.name for target in self._targets if target.matches(envelope_)]

    def publish(self, event: Event) -> None:
        self.history.append(event)
        message = envelope(event)
        for name in self.targets_for(message):
            for _ in range(self.copies):
                self._submit(name, message, attempt=1)

    def _submit(self, name: str, message: dict[str, Any], attempt: int, delay: float = 0.0) -> None:
        with self._idle:
            self._pending += 1
        if delay <= 0:
            self._pool.submit(self._deliver, name, message, attempt)
            return
        # A retry waits on a timer, not on a worker, so failing deliveries waiting out their
        # backoff never hold up the events of other courses.
        timer = threading.Timer(delay, self._start_retry, (name, message, attempt))
        timer.daemon = True
        timer.start()

    def _start_retry(self, name: str, message: dict[str, Any], attempt: int) -> None:
        try:
            self._pool.submit(self._deliver, name, message, attempt)
        except RuntimeError:  # the bus was closed meanwhile
            log.warning("%s not retried: the bus is closed", name, extra={"phase": name, "attempt": attempt})
            self._done()

    def _done(self) -> None:
        with self._idle:
            self._pending -= 1
            if self._pending == 0:
                self._idle.notify_all()

    def _deliver(self, name: str, message: dict[str, Any], attempt: int) -> None:
        try:
            handler = self._app.handler_map[name]
            with logs.context(attempt=attempt):
                handler(message, _Context(function_name=name, aws_request_id=str(uuid.uuid4())))
        except Exception as error:
            extra = {"course_id": message["detail"].get("course_id"), "phase": name, "attempt": attempt}
            if attempt < self.max_attempts:
                log.warning(
                    "%s failed (attempt %d of %d), retrying: %s",
                    name,
                    attempt,
                    self.max_attempts,
                    error,
                    extra=extra,
                )
                self._submit(name, message, attempt + 1, delay=self._backoff(attempt))
            else:
                log.error("%s failed %d times, dead-lettered: %s", name, attempt, error, extra=extra)
                self._dead_letter(name, message, error)
        finally:
            self._done()

    def _backoff(self, attempt: int) -> float:
        """Exponential, with jitter so that deliveries that failed together do not retry together."""
        return self.retry_delay * 2.0 ** (attempt - 1) * random.uniform(0.5, 1.5)

    def _dead_letter(self, name: str, message: dict[str, Any], error: BaseException) -> None:
        # Ending the course is the last thing that keeps it from staying in progress forever, so
        # a callback that raises (the state store busy, say) is tried again, as SQS redelivers a
        # dead-letter message its consumer failed on.
        if self.on_dead_letter is None:
            return
        extra = {"course_id": message["detail"].get("course_id"), "phase": name}
        for attempt in range(1, DEAD_LETTER_ATTEMPTS + 1):
            try:
                self.on_dead_letter(name, message, error)
                return
            except Exception as callback_error:
                log.warning(
                    "dead letter of %s not recorded (attempt %d of %d): %s",
                    name,
                    attempt,
                    DEAD_LETTER_ATTEMPTS,
                    callback_error,
                    extra={**extra, "attempt": attempt},
                )
                if attempt < DEAD_LETTER_ATTEMPTS:
                    time.sleep(self._backoff(attempt))
        log.critical("dead letter of %s lost: its course may stay in progress", name, extra=extra)

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Block until no delivery is queued or running; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    def close(self) -> None:
        self._pool.shutdown(wait=True)
