"""Hand-written fakes of the ports, for service-layer tests that need no I/O."""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from datetime import datetime

from chalicelib.core.events import Event
from chalicelib.core.models import ChapterHit, CourseState, Outline, PartResult, Status
from chalicelib.core.paging import PageKey, is_older
from chalicelib.ports import (
    CourseStore,
    Embedder,
    EventPublisher,
    KeyedCourse,
    Library,
    SearchParams,
    StateStore,
    StoredCourse,
)


class DelegatingStateStore(StateStore):
    """A real store behind a test double: forwards each primitive read and write to `inner`, so
    a double overrides only what it watches or breaks. The composite writes (`create_and_publish`,
    `save_and_publish`, ...) stay the port's own, built on the primitives, so an override sees
    every write the workflow makes (the inner store's outbox is bypassed, which is what a
    fault-injecting double wants)."""

    def __init__(self, inner: StateStore) -> None:
        self.inner = inner

    def create(self, state: CourseState) -> CourseState:
        return self.inner.create(state)

    def get(self, course_id: str) -> CourseState | None:
        return self.inner.get(course_id)

    def save(self, state: CourseState) -> CourseState:
        return self.inner.save(state)

    def list_for_user(self, user_id: str, limit: int = 50) -> list[CourseState]:
        return self.inner.list_for_user(user_id, limit)

    def list_page(
        self, user_id: str, limit: int, before: PageKey | None = None, status: Status | None = None
    ) -> list[CourseState]:
        return self.inner.list_page(user_id, limit, before, status)

    def delete(self, course_id: str, version: int) -> None:
        self.inner.delete(course_id, version)

    def find_keyed(self, user_id: str, key: str, now: float) -> KeyedCourse | None:
        return self.inner.find_keyed(user_id, key, now)

    def idle(self, status: Status, before: datetime, limit: int) -> list[CourseState]:
        return self.inner.idle(status, before, limit)

    def put_part(self, course_id: str, part_index: int, result: PartResult) -> None:
        self.inner.put_part(course_id, part_index, result)

    def get_parts(self, course_id: str, part_count: int) -> dict[int, PartResult]:
        return self.inner.get_parts(course_id, part_count)


class RecordingPublisher(EventPublisher):
    """Keeps published events in order; the test decides when (and how often) to deliver them."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.fail_next = 0

    def publish(self, event: Event) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise ConnectionError("bus unavailable")
        self.events.append(event)


class FakeLibrary(Library):
    def __init__(self, hits: list[ChapterHit]) -> None:
        self.hits = hits
        self.searches = 0
        self.terms: list[str] = []  # the terms of the last search
        self.caller: str | None = None  # the user the last search was for

    def search(
        self,
        embedding: list[float],
        embedder: str,
        params: SearchParams,
        terms: Sequence[str] = (),
        *,
        caller: str,
    ) -> list[ChapterHit]:
        """The hits as given, with the evidence a full-text search would add: the query terms
        their title, topics and key concepts contain (a term matches a word it begins)."""
        self.searches += 1
        self.terms = list(terms)
        self.caller = caller
        return [self._with_evidence(hit, terms) for hit in self.hits]

    @staticmethod
    def _with_evidence(hit: ChapterHit, terms: Sequence[str]) -> ChapterHit:
        if hit.named or hit.lexical or not terms:
            return hit
        text = " ".join([hit.chapter_title, *hit.topics, *hit.key_concepts]).casefold()
        words = re.findall(r"[^\W_]+", text)
        named = [term for term in terms if any(word.startswith(term[:5]) for word in words)]
        return hit.model_copy(update={"named": named, "lexical": len(named) / len(terms)})


class FakeCourseStore(CourseStore):
    def __init__(self) -> None:
        self.courses: dict[str, StoredCourse] = {}
        self.writes = 0

    def store(self, user_id: str, outline: Outline, created_at: str) -> None:
        self.writes += 1
        self.courses[outline.course_id] = StoredCourse(
            user_id=user_id, outline=outline, created_at=created_at
        )

    def get(self, course_id: str) -> StoredCourse | None:
        return self.courses.get(course_id)

    def list_for_user(self, user_id: str, limit: int = 50) -> list[StoredCourse]:
        mine = [c for c in self.courses.values() if c.user_id == user_id]
        return sorted(mine, key=lambda c: c.created_at, reverse=True)[:limit]

    def list_page(self, user_id: str, limit: int, before: PageKey | None = None) -> list[StoredCourse]:
        keyed = [(PageKey(c.created_at, c.outline.course_id), c) for c in self.courses.values()]
        mine = [(key, c) for key, c in keyed if c.user_id == user_id and is_older(key, before)]
        return [c for _, c in sorted(mine, key=lambda pair: pair[0], reverse=True)[:limit]]

    def delete(self, course_id: str) -> bool:
        return self.courses.pop(course_id, None) is not None


class FakeEmbedder(Embedder):
    name = "fake"
    dimension = 4

    def embed(self, texts: list[str]) -> list[list[float]]:
        return [[0.5, 0.5, 0.5, 0.5] for _ in texts]


class Clock:
    def __init__(self) -> None:
        self._ticks = itertools.count()

    def __call__(self) -> str:
        return f"2026-01-01T00:00:{next(self._ticks) % 60:02d}.000Z"
