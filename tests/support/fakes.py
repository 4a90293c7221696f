"""Hand-written fakes of the ports, for service-layer tests that need no I/O."""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

from chalicelib.core.events import Event
from chalicelib.core.models import ChapterHit, Outline
from chalicelib.ports import CourseStore, Embedder, EventPublisher, Library, SearchParams, StoredCourse


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

    def search(
        self, embedding: list[float], embedder: str, params: SearchParams, terms: Sequence[str] = ()
    ) -> list[ChapterHit]:
        """The hits as given, with the evidence a full-text search would add: the query terms
        their title, topics and key concepts contain (a term matches a word it begins)."""
        self.searches += 1
        self.terms = list(terms)
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
