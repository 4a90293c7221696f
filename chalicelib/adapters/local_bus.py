"""In-process stand-in for the EventBridge custom bus, for the embedded default, delivering from an
outbox: every published event is a row that stays until its handlers have run, so an event
outlives the process that published it, and any process that starts delivers what is pending.

Published events are wrapped in the EventBridge envelope, matched against the patterns of the
handlers registered in the Chalice app (with moto's implementation of EventBridge pattern
matching) and delivered on worker threads. A handler that raises is retried with exponential
backoff and jitter over a bounded window (about a minute: long enough to ride out a restart of
PostgreSQL), then handed to a dead-letter callback, which is itself retried if it raises.
"""

from __future__ import annotations

import itertools
import json
import logging
import random
import sqlite3
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from .. import logs
from ..config import ConfigError
from ..core.events import SOURCE, Event, EventName, parse_detail
from ..distribution import LOCAL_EXTRA
from ..errors import CourseGenError
from ..ports import EventPublisher
from . import processes

log = logging.getLogger("coursegen.bus")

DeadLetter = Callable[[str, dict[str, Any], BaseException], object]
DEAD_LETTER_ATTEMPTS = 5
# Deliveries run at once, at most: every part of the longest course (five parts, each a model
# call when its sections are planned in parallel) and a few deliveries of other courses. The
# rest wait in the outbox.
DELIVERY_WORKERS = 8
_REASON_LIMIT = 500  # well inside CourseFailed's limit, and enough to read


@dataclass(frozen=True)
class _Target:
    name: str
    matches: Callable[[Any], bool]


@dataclass
class _Task:
    """Work the dispatcher does now and then between deliveries (the watchdog's sweep)."""

    name: str
    interval: float  # seconds
    run: Callable[[], object]
    due: float = 0.0  # time.monotonic(); 0: as soon as the dispatcher starts


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

    try:
        from moto.events.models import EventPattern  # a maintained, faithful matcher
    except ImportError as error:
        raise ConfigError(f"the in-process event bus needs moto: {LOCAL_EXTRA}") from error

    targets = []
    for source in app.event_sources:
        if isinstance(source, CloudWatchEventConfig):
            pattern = EventPattern.load(json.dumps(source.event_pattern))
            targets.append(_Target(source.name, pattern.matches_event))
    return targets


def describe(error: BaseException) -> str:
    """What went wrong, as a person reads it: our errors say it themselves; anything else is
    unexpected, and its class name stays in the log."""
    if isinstance(error, CourseGenError):
        return str(error) or "the step failed"
    if isinstance(error, sqlite3.Error):
        return f"the course state database could not be used ({error})"
    return f"an unexpected error occurred ({error})" if str(error) else "an unexpected error occurred"


class DeliveryFailed(CourseGenError):
    """A delivery that failed on every attempt of its window; the message says so in a sentence
    that ends with what the last attempt met."""


# --- the outbox ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutboxEntry:
    """One event waiting for delivery, with what its earlier attempts left."""

    id: int
    event: Event
    attempts: int = 0
    first_failed_at: float | None = None  # epoch seconds
    targets: tuple[str, ...] | None = None  # the handlers still to run it; None until first tried


def event_from(name: str, detail: str) -> Event:
    event_name = EventName(name)
    return Event(name=event_name, detail=parse_detail(event_name, json.loads(detail)))


class Outbox(Protocol):
    """Where published events wait until delivered. A dispatcher claims due entries under its
    owner token; an entry whose owner died can be claimed again."""

    def add(self, event: Event) -> None: ...

    def listen(self, callback: Callable[[Event], None]) -> None:
        """Call `callback` with every event added from this process, once it is committed."""

    def claim(self, owner: str, now: float, limit: int) -> list[OutboxEntry]: ...

    def settle(self, entry_id: int, now: float) -> None:
        """Mark the entry delivered (or dead-lettered): it is never claimed again."""

    def retry(self, entry: OutboxEntry, available_at: float, error: str) -> None:
        """Give the entry back, with its attempts, to be claimed again from `available_at`."""

    def release(self, owner: str) -> None:
        """Give back every entry `owner` claimed and has not settled."""

    def waiting(self, owner: str) -> int:
        """Entries not delivered that `owner` holds or may claim (now or after their backoff)."""


class MemoryOutbox:
    """An outbox in memory, for a bus that needs no durability (tests that build their own)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._entries: dict[int, tuple[OutboxEntry, float, str | None]] = {}  # entry, due, owner
        self._listeners: list[Callable[[Event], None]] = []

    def add(self, event: Event) -> None:
        with self._lock:
            entry_id = next(self._ids)
            self._entries[entry_id] = (OutboxEntry(entry_id, event), 0.0, None)
        for listener in list(self._listeners):
            listener(event)

    def listen(self, callback: Callable[[Event], None]) -> None:
        self._listeners.append(callback)

    def claim(self, owner: str, now: float, limit: int) -> list[OutboxEntry]:
        with self._lock:
            due = sorted(
                (entry for entry, at, holder in self._entries.values() if holder is None and at <= now),
                key=lambda entry: entry.id,
            )[: max(limit, 0)]
            for entry in due:
                self._entries[entry.id] = (entry, now, owner)
            return due

    def settle(self, entry_id: int, now: float) -> None:
        with self._lock:
            self._entries.pop(entry_id, None)

    def retry(self, entry: OutboxEntry, available_at: float, error: str) -> None:
        with self._lock:
            self._entries[entry.id] = (entry, available_at, None)

    def release(self, owner: str) -> None:
        with self._lock:
            for entry_id, (entry, at, holder) in list(self._entries.items()):
                if holder == owner:
                    self._entries[entry_id] = (entry, at, None)

    def waiting(self, owner: str) -> int:
        with self._lock:
            return sum(holder in (None, owner) for _, _, holder in self._entries.values())


# --- the bus ------------------------------------------------------------------------------------


class LocalBus(EventPublisher):
    def __init__(
        self,
        app: Any,
        *,
        outbox: Outbox | None = None,
        workers: int = DELIVERY_WORKERS,
        max_attempts: int = 16,
        retry_delay: float = 0.5,  # the first backoff; it doubles up to max_delay
        max_delay: float = 5.0,
        retry_window: float = 60.0,  # no retry starts later than this after the first failure
        poll_interval: float = 0.2,  # how soon events other processes left behind are noticed
        copies: int = 1,
        on_dead_letter: DeadLetter | None = None,
    ):
        self._app = app
        self._targets: list[_Target] | None = None
        self.outbox: Outbox = outbox if outbox is not None else MemoryOutbox()
        self.workers = workers
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="coursegen-bus")
        self.max_attempts = max_attempts
        self.retry_delay = retry_delay
        self.max_delay = max_delay
        self.retry_window = retry_window
        self.poll_interval = poll_interval
        self.copies = copies  # >1 delivers every event several times at once, as at-least-once allows
        self.on_dead_letter = on_dead_letter
        # Who holds a claimed entry: this process (its pid and start time) and this bus.
        self.owner = f"{processes.token()}:{uuid.uuid4().hex[:8]}"
        self._in_flight = 0
        self._changed = threading.Condition()
        self._woken = False
        self._closing = False
        self._dispatcher: threading.Thread | None = None
        self._tasks: list[_Task] = []
        self.history: deque[Event] = deque(maxlen=10_000)
        self.outbox.listen(self._added)

    def targets_for(self, envelope_: dict[str, Any]) -> list[str]:
        if self._targets is None:
            self._targets = event_targets(self._app)
        return [target.name for target in self._targets if target.matches(envelope_)]

    def publish(self, event: Event) -> None:
        """Keep the event in the outbox; a worker delivers it from there."""
        self.outbox.add(event)

    def _added(self, event: Event) -> None:
        self.history.append(event)
        self.start()
        self._wake()

    def every(self, interval: float, task: Callable[[], object], name: str) -> None:
        """Run `task` on the dispatcher when it starts and then every `interval` seconds while it
        runs; an error is logged and the task runs again at its next time."""
        if interval <= 0:
            raise ValueError(f"the interval of {name} must be positive, not {interval}")
        with self._changed:
            self._tasks.append(_Task(name=name, interval=interval, run=task))
        self._wake()

    @property
    def periodic(self) -> list[str]:
        """The names of the tasks the dispatcher runs now and then."""
        with self._changed:
            return [task.name for task in self._tasks]

    def _run_due_tasks(self) -> None:
        now = time.monotonic()
        for task in list(self._tasks):
            if task.due > now:
                continue
            task.due = now + task.interval
            try:
                task.run()
            except Exception as error:  # the state database busy, the bus refusing: next time
                log.warning("%s did not run: %s", task.name, describe(error), extra={"phase": task.name})

    # --- dispatching ------------------------------------------------------------------------

    def start(self) -> None:
        """Start delivering from the outbox, what other processes left behind included."""
        with self._changed:
            if self._dispatcher is not None or self._closing:
                return
            self._dispatcher = threading.Thread(target=self._dispatch, name="coursegen-outbox", daemon=True)
            self._dispatcher.start()

    def _wake(self) -> None:
        with self._changed:
            self._woken = True
            self._changed.notify_all()

    def _dispatch(self) -> None:
        while not self._closing:
            self._run_due_tasks()
            claimed = 0
            free = self.workers - self._in_flight
            if free > 0:
                try:
                    for entry in self.outbox.claim(self.owner, time.time(), free):
                        if not self._run(entry):
                            break
                        claimed += 1
                except Exception as error:  # the state database busy or gone: try again later
                    log.warning("the outbox could not be read: %s", describe(error))
            with self._changed:
                if claimed == free > 0:
                    continue  # there may be more due right now
                if not self._woken and not self._closing:
                    self._changed.wait(self.poll_interval)
                self._woken = False

    def _run(self, entry: OutboxEntry) -> bool:
        with self._changed:
            self._in_flight += 1
        try:
            self._pool.submit(self._deliver, entry)
            return True
        except RuntimeError:  # the bus or the interpreter is shutting down: leave it to the next
            self._finished()
            self.outbox.release(self.owner)  # if this fails too, the entry waits for this process to end
            return False

    def _finished(self) -> None:
        with self._changed:
            self._in_flight -= 1
            self._woken = True
            self._changed.notify_all()

    def _deliver(self, entry: OutboxEntry) -> None:
        event = entry.event
        extra = {"course_id": event.course_id, "phase": event.name.value}
        try:
            message = envelope(event)
            targets = list(entry.targets) if entry.targets is not None else self.targets_for(message)
            attempt = entry.attempts + 1
            failed = {name: error for name in targets if (error := self._call(name, message, attempt))}
            if not failed:
                self._settle(entry)
                return
            now = time.time()
            first_failed = entry.first_failed_at or now
            delay = self._backoff(attempt)
            last = next(iter(failed.values()))
            if attempt < self.max_attempts and now + delay - first_failed <= self.retry_window:
                for name, error in failed.items():
                    log.warning(
                        "%s failed (attempt %d), retrying in %.1f s: %s",
                        name,
                        attempt,
                        delay,
                        describe(error),
                        extra={**extra, "phase": name, "attempt": attempt},
                    )
                again = replace(entry, attempts=attempt, first_failed_at=first_failed, targets=tuple(failed))
                self._keep(self.outbox.retry, again, now + delay, describe(last))
                return
            for name, error in failed.items():
                log.error(
                    "%s failed %d times, dead-lettered: %s",
                    name,
                    attempt,
                    describe(error),
                    extra={**extra, "phase": name, "attempt": attempt},
                )
                gave_up = DeliveryFailed(
                    f"gave up after {attempt} attempt{'s' if attempt > 1 else ''} in "
                    f"{now - first_failed:.0f} s: {describe(error)}"[:_REASON_LIMIT]
                )
                gave_up.__cause__ = error
                if not self._dead_letter(name, message, gave_up):
                    # Not recorded: keep the event, so a later delivery or dead letter ends the course.
                    kept = replace(
                        entry, attempts=attempt, first_failed_at=first_failed, targets=tuple(failed)
                    )
                    reason = describe(error)
                    self._keep(self.outbox.retry, kept, now + self.max_delay, reason)
                    return
            self._settle(entry)
        except Exception:
            log.exception("delivery of %s broke down; it is kept for later", event.name.value, extra=extra)
        finally:
            self._finished()

    def _call(self, name: str, message: dict[str, Any], attempt: int) -> BaseException | None:
        """Run the handler `copies` times at once; the first error any copy raised, or None."""
        errors: list[BaseException] = []

        def once() -> None:
            try:
                handler = self._app.handler_map[name]
                with logs.context(attempt=attempt):
                    handler(message, _Context(function_name=name, aws_request_id=str(uuid.uuid4())))
            except Exception as error:
                errors.append(error)

        extra = [threading.Thread(target=once, daemon=True) for _ in range(self.copies - 1)]
        for thread in extra:
            thread.start()
        once()
        for thread in extra:
            thread.join()
        return errors[0] if errors else None

    def _settle(self, entry: OutboxEntry) -> None:
        self._keep(self.outbox.settle, entry.id, time.time())

    def _keep(self, write: Callable[..., None], *args: Any) -> None:
        """Record an outcome in the outbox, patiently: if it is never recorded, the entry stays
        claimed by this process and is delivered again only after the process ends."""
        for attempt in range(1, DEAD_LETTER_ATTEMPTS + 1):
            try:
                write(*args)
                return
            except Exception as error:
                log.warning("the outbox could not be updated (attempt %d): %s", attempt, describe(error))
                time.sleep(self._backoff(attempt))
        log.critical("an outbox entry stays claimed until this process ends")

    def _backoff(self, attempt: int) -> float:
        """Exponential up to max_delay, with jitter so that deliveries that failed together do
        not retry together."""
        return min(self.retry_delay * 2.0 ** (attempt - 1), self.max_delay) * random.uniform(0.5, 1.5)

    def _dead_letter(self, name: str, message: dict[str, Any], error: BaseException) -> bool:
        # Ending the course is the last thing that keeps it from staying in progress forever, so
        # a callback that raises (the state store busy, say) is tried again, as SQS redelivers a
        # dead-letter message its consumer failed on.
        if self.on_dead_letter is None:
            return True
        extra = {"course_id": message["detail"].get("course_id"), "phase": name}
        for attempt in range(1, DEAD_LETTER_ATTEMPTS + 1):
            try:
                self.on_dead_letter(name, message, error)
                return True
            except Exception as callback_error:
                log.warning(
                    "dead letter of %s not recorded (attempt %d of %d): %s",
                    name,
                    attempt,
                    DEAD_LETTER_ATTEMPTS,
                    describe(callback_error),
                    extra={**extra, "attempt": attempt},
                )
                if attempt < DEAD_LETTER_ATTEMPTS:
                    time.sleep(self._backoff(attempt))
        log.critical("dead letter of %s not recorded: the event is kept and retried", name, extra=extra)
        return False

    # --- waiting and closing ------------------------------------------------------------------

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Block until nothing this bus holds or may claim is waiting or running; False on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            with self._changed:
                busy = self._in_flight > 0
            if not busy and not self._safe_waiting():
                with self._changed:
                    if self._in_flight == 0:
                        return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            with self._changed:
                self._changed.wait(min(remaining, 0.02))

    def _safe_waiting(self) -> int:
        try:
            return self.outbox.waiting(self.owner)
        except Exception as error:
            log.warning("the outbox could not be read: %s", describe(error))
            return 1

    def close(self) -> None:
        """Stop claiming, let running deliveries finish, and give back what this bus claimed."""
        with self._changed:
            self._closing = True
            self._changed.notify_all()
        if self._dispatcher is not None and self._dispatcher is not threading.current_thread():
            self._dispatcher.join(timeout=10)
        self._pool.shutdown(wait=True)
        try:
            self.outbox.release(self.owner)
        except Exception as error:
            log.warning("the outbox could not be released: %s", describe(error))
