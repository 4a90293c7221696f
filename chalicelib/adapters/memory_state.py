"""In-memory StateStore: the fake for pure-logic tests and the reference for the contract suite.

It keeps JSON copies, like the real stores, so callers can neither mutate what is stored nor
see values the real stores would not give back (the embedding comes back as float32).
"""

from __future__ import annotations

import threading
from datetime import datetime

from ..core.events import Event
from ..core.models import CourseState, PartResult, Status
from ..core.paging import PageKey, is_older
from ..core.watchdog import format_time, sort_key
from ..errors import StaleState
from ..ports import EventNotPublished, EventPublisher, KeyedCourse, RequestKey, RequestKeyTaken, StateStore


class InMemoryStateStore(StateStore):
    """Course states in a dict guarded by a lock: course id -> (version, JSON body)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[str, tuple[int, str]] = {}
        self._parts: dict[tuple[str, int], str] = {}  # (course id, part index) -> JSON result
        # (user, request key) -> (the course it created, request hash, expires at)
        self._keys: dict[tuple[str, str], tuple[KeyedCourse, float]] = {}

    def create(self, state: CourseState) -> CourseState:
        body = state.model_copy(update={"version": 1}).model_dump_json()
        with self._lock:
            if state.course_id in self._rows:
                raise StaleState(f"course {state.course_id} already exists")
            self._rows[state.course_id] = (1, body)
        return CourseState.model_validate_json(body)

    def find_keyed(self, user_id: str, key: str, now: float) -> KeyedCourse | None:
        with self._lock:
            found = self._keys.get((user_id, key))
        return found[0] if found is not None and found[1] >= now else None

    def create_keyed_and_publish(
        self,
        state: CourseState,
        key: RequestKey,
        event: Event,
        publisher: EventPublisher,
        replaces: str | None = None,
    ) -> CourseState:
        body = state.model_copy(update={"version": 1}).model_dump_json()
        with self._lock:  # the key and the state, both or neither
            held = self._keys.get((key.user_id, key.key))
            if held is not None and held[1] >= key.now and held[0].course_id != replaces:
                raise RequestKeyTaken(key, held[0])
            if state.course_id in self._rows:
                raise StaleState(f"course {state.course_id} already exists")
            self._rows[state.course_id] = (1, body)
            self._keys[key.user_id, key.key] = (KeyedCourse(state.course_id, key.fingerprint), key.expires_at)
        created = CourseState.model_validate_json(body)
        try:
            publisher.publish(event)
        except Exception as error:
            raise EventNotPublished(created, error) from error
        return created

    def get(self, course_id: str) -> CourseState | None:
        with self._lock:
            row = self._rows.get(course_id)
        return None if row is None else CourseState.model_validate_json(row[1])

    def save(self, state: CourseState) -> CourseState:
        version = state.version + 1
        body = state.model_copy(update={"version": version}).model_dump_json()
        with self._lock:
            row = self._rows.get(state.course_id)
            if row is None or row[0] != state.version:
                raise StaleState(f"course {state.course_id} is no longer at version {state.version}")
            self._rows[state.course_id] = (version, body)
        return CourseState.model_validate_json(body)

    def list_for_user(self, user_id: str, limit: int = 50) -> list[CourseState]:
        with self._lock:
            bodies = [body for _, body in self._rows.values()]
        states = [CourseState.model_validate_json(body) for body in bodies]
        mine = [state for state in states if state.user_id == user_id]
        mine.sort(key=lambda state: (state.created_at, state.course_id), reverse=True)
        return mine[: max(limit, 0)]

    def list_page(
        self, user_id: str, limit: int, before: PageKey | None = None, status: Status | None = None
    ) -> list[CourseState]:
        with self._lock:
            bodies = [body for _, body in self._rows.values()]
        states = [CourseState.model_validate_json(body) for body in bodies]
        mine = [
            state
            for state in states
            if state.user_id == user_id
            and (status is None or state.status is status)
            and is_older(PageKey(state.created_at, state.course_id), before)
        ]
        mine.sort(key=lambda state: (state.created_at, state.course_id), reverse=True)
        return mine[: max(limit, 0)]

    def idle(self, status: Status, before: datetime, limit: int) -> list[CourseState]:
        if status.is_terminal:
            raise ValueError(f"a {status.value} course is not in progress")
        cutoff = format_time(before)
        with self._lock:
            bodies = [body for _, body in self._rows.values()]
        states = [CourseState.model_validate_json(body) for body in bodies]
        idle = [s for s in states if s.status is status and sort_key(s.updated_at) < cutoff]
        idle.sort(key=lambda s: (sort_key(s.updated_at), s.course_id))
        return idle[: max(limit, 0)]

    def delete(self, course_id: str, version: int) -> None:
        with self._lock:
            row = self._rows.get(course_id)
            if row is None or row[0] != version:
                raise StaleState(f"course {course_id} is no longer at version {version}")
            del self._rows[course_id]
            for key in [key for key in self._parts if key[0] == course_id]:
                del self._parts[key]

    def put_part(self, course_id: str, part_index: int, result: PartResult) -> None:
        body = result.model_dump_json()
        with self._lock:
            if (course_id, part_index) in self._parts:
                raise StaleState(f"course {course_id}: part {part_index + 1} is written already")
            self._parts[course_id, part_index] = body

    def get_parts(self, course_id: str, part_count: int) -> dict[int, PartResult]:
        with self._lock:
            bodies = {k: self._parts.get((course_id, k)) for k in range(part_count)}
        return {k: PartResult.model_validate_json(body) for k, body in bodies.items() if body is not None}
