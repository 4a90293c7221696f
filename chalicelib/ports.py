"""Ports: the small interfaces the workflow needs, named by capability.

Adapters (named by technology) implement them; bootstrap.py picks one of each from config.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from .core.books import Book
from .core.events import Event
from .core.models import (
    ChapterHit,
    CourseRequest,
    CourseState,
    Outline,
    PartPlan,
    PartResult,
    PlannedPart,
    SectionPlan,
    Status,
)
from .core.paging import PageKey
from .core.retrieval import Evidence
from .errors import CourseGenError, TransientError


class EventNotPublished(TransientError):
    """The state was written but the event announcing it was not published."""

    def __init__(self, state: CourseState, error: Exception) -> None:
        super().__init__(f"the event was not published: {error}")
        self.state = state


@dataclass(frozen=True)
class RequestKey:
    """An `Idempotency-Key` sent with a new course: whose, the key, a hash of the request it came
    with, when it was sent and until when it holds (epoch seconds)."""

    user_id: str
    key: str
    fingerprint: str
    now: float
    expires_at: float


@dataclass(frozen=True)
class KeyedCourse:
    """What a request key recorded: the course it created and the hash of its request."""

    course_id: str
    fingerprint: str


class RequestKeyTaken(CourseGenError):
    """A course was created with this caller's key already (and the key has not expired)."""

    def __init__(self, key: RequestKey, taken: KeyedCourse) -> None:
        super().__init__(f"the request key {key.key!r} created course {taken.course_id} already")
        self.taken = taken


class StateStore(ABC):
    """Course state between phases, with optimistic concurrency on `version`.

    A write that moves a course on announces it with an event: `create_and_publish` and
    `save_and_publish` publish the event only if the write succeeded. By default they publish
    right after the write (DynamoDB then EventBridge): a crash in between loses the event, and
    the redelivery of the event being handled publishes it again. A store that keeps an outbox
    the publisher delivers from commits the write and the event in one transaction (SQLite).
    """

    @abstractmethod
    def create(self, state: CourseState) -> CourseState:
        """Insert a new state (version 1). Raises StaleState if the course id exists."""

    @abstractmethod
    def get(self, course_id: str) -> CourseState | None:
        """The state, or None if unknown (or expired and removed)."""

    @abstractmethod
    def save(self, state: CourseState) -> CourseState:
        """Write `state` if the stored version still equals state.version; return it with
        version + 1. Raises StaleState when another writer got there first."""

    @abstractmethod
    def list_for_user(self, user_id: str, limit: int = 50) -> list[CourseState]:
        """The user's courses, newest first."""

    def create_and_publish(self, state: CourseState, event: Event, publisher: EventPublisher) -> CourseState:
        """`create`, then publish `event`. Raises EventNotPublished (holding the created state)
        if the state was written and the event was not."""
        created = self.create(state)
        try:
            publisher.publish(event)
        except Exception as error:
            raise EventNotPublished(created, error) from error
        return created

    def save_and_publish(self, state: CourseState, event: Event, publisher: EventPublisher) -> CourseState:
        """`save`, then publish `event`; nothing is published if the save raises."""
        return self.save_and_publish_all(state, (event,), publisher)

    def save_and_publish_all(
        self, state: CourseState, events: Sequence[Event], publisher: EventPublisher
    ) -> CourseState:
        """`save`, then publish each of `events` (one step may announce several)."""
        saved = self.save(state)
        for event in events:
            publisher.publish(event)
        return saved

    # The two below are not abstract so that test doubles wrapping a store need not forward
    # them; every real store implements both (tests/integration/test_state_store_contract.py).
    def list_page(
        self, user_id: str, limit: int, before: PageKey | None = None, status: Status | None = None
    ) -> list[CourseState]:
        """Up to `limit` of the user's courses that sort after `before` (all when None) in the
        newest-first order of (created_at, course_id); only those in `status` when given."""
        raise NotImplementedError(f"{type(self).__name__} cannot list courses by page")

    def delete(self, course_id: str, version: int) -> None:
        """Remove the state if it is still at `version`. Raises StaleState if another writer
        moved it on or it is gone."""
        raise NotImplementedError(f"{type(self).__name__} cannot delete courses")

    # Idempotent creation: a course created with a caller's request key is recorded under
    # (user, key) in the same write as the state, so a request sent again finds it. Not abstract,
    # for the same reason as list_page; every real store implements both.

    def find_keyed(self, user_id: str, key: str, now: float) -> KeyedCourse | None:
        """The course created with this caller's `key`, unless the key expired before `now`."""
        raise NotImplementedError(f"{type(self).__name__} cannot keep request keys")

    def create_keyed_and_publish(
        self,
        state: CourseState,
        key: RequestKey,
        event: Event,
        publisher: EventPublisher,
        replaces: str | None = None,
    ) -> CourseState:
        """`create_and_publish`, recording `key` -> the course in the same write (both or
        neither). Raises RequestKeyTaken, writing and publishing nothing, if the key holds
        another course and has not expired at `key.now`; a key whose course is `replaces` (a
        course since deleted) is taken over."""
        raise NotImplementedError(f"{type(self).__name__} cannot keep request keys")

    def idle(self, status: Status, before: datetime, limit: int) -> list[CourseState]:
        """Up to `limit` courses in `status`, which must be a status in progress, last written
        before `before`, the longest idle first: what the watchdog looks at. Read from an index
        of the courses in progress, never by scanning every course. A store with an outbox
        leaves out a course one of whose events is waiting there for a delivery to pick it up:
        that event is on its way. ValueError for a complete or failed status."""
        raise NotImplementedError(f"{type(self).__name__} cannot list idle courses")

    # Parallel sections: each part's delivery writes its result beside the state, never over
    # another part's and without touching the state's version; the fan-in reads them all.

    @abstractmethod
    def put_part(self, course_id: str, part_index: int, result: PartResult) -> None:
        """Write part `part_index`'s result unless one is written already: the first writer wins
        and a later one raises StaleState. Other parts' results and the state are untouched."""

    @abstractmethod
    def get_parts(self, course_id: str, part_count: int) -> dict[int, PartResult]:
        """The results written for parts 0..part_count-1, by part index (read consistently)."""

    def put_part_and_publish(
        self, course_id: str, part_index: int, result: PartResult, event: Event, publisher: EventPublisher
    ) -> None:
        """`put_part`, then publish `event`; nothing is published if the write raises."""
        self.put_part(course_id, part_index, result)
        publisher.publish(event)


class EventPublisher(ABC):
    @abstractmethod
    def publish(self, event: Event) -> None:
        """Publish one event on the course bus; raise if it was not accepted."""


@dataclass(frozen=True)
class SearchParams:
    top_k: int = 24
    # Cosine below which a chapter needs its title, topics or key concepts to name the query's
    # terms to enter a course (core.retrieval.Evidence; measured on real books in docs/planning.md).
    min_similarity: float = 0.3
    max_per_book: int = 12
    # HNSW candidates per search, with the index of pg_library.IndexParams: the value that meets
    # the recall and latency targets whether or not the index fits in memory, measured in
    # bench/RESULTS.md ("Vector search"). The full-text side takes as many candidates.
    ef_search: int = 40
    relative_floor: float = 0.75  # similarity within this share of the best: vector evidence
    rrf_k: int = 60  # reciprocal rank fusion: 1/(k + rank) per ranking, the usual constant
    # A query term in the titles and topics of more chapters than this finds no full-text
    # candidates (it still ranks them): keeps a search's cost bounded on a large library
    # (bench/RESULTS.md, "Vector search"); no term of a library this small is left out.
    common_term_chapters: int = 500

    def evidence(self) -> Evidence:
        return Evidence(min_similarity=self.min_similarity, relative_floor=self.relative_floor)


class Library(ABC):
    """The learner's books, searchable by vector similarity and by their words (what the
    workflow uses). A book is shared (every user's courses may cite it) or owned by the user who
    uploaded it (only that user's courses may)."""

    @abstractmethod
    def search(
        self,
        embedding: list[float],
        embedder: str,
        params: SearchParams,
        terms: Sequence[str] = (),
        *,
        caller: str,
    ) -> list[ChapterHit]:
        """The chapters most similar to `embedding` and those whose text best matches any of
        `terms` (core.retrieval.query_terms), fused into one ranking, grouped by book (best book
        first), each with its evidence (similarity, lexical, named), from the shared books and
        those `caller` (a user id) owns, never another user's. No terms: vector search alone.
        Raises EmbedderMismatch if the library was indexed by another embedder/dimension."""


@dataclass(frozen=True)
class BookInfo:
    id: str
    title: str
    author: str
    chapters: int
    owner: str | None = None  # None: a shared book


@dataclass(frozen=True)
class LibraryStats:
    books: int
    chapters: int
    embedder_kind: str | None  # None until the first book is loaded
    dimension: int | None


ReindexProgress = Callable[[int, int], None]  # (chapters embedded, chapters in all)


class LibraryAdmin(ABC):
    """Filling and inspecting the library (what the CLI and the deploy tooling use)."""

    @abstractmethod
    def load(self, books: list[Book], embedder: Embedder, owner: str | None = None) -> list[BookInfo]:
        """Embed every chapter and load all books in one transaction (all or nothing), shared
        (`owner` None) or owned by the user `owner`; a book loaded again is replaced (its id
        includes the owner: core.books.book_id). Raises EmbedderMismatch if the library holds
        chapters embedded by another embedder."""

    @abstractmethod
    def reindex(self, embedder: Embedder, progress: ReindexProgress | None = None) -> int:
        """Embed every chapter again with `embedder` and switch the library to it atomically;
        returns the number of chapters. Raises LibraryError if the library is empty."""

    @abstractmethod
    def list_books(self, visible_to: str | None = None) -> list[BookInfo]:
        """The loaded books, by title: every one (None), or the shared books and those the user
        `visible_to` owns."""

    @abstractmethod
    def find_source(self, source_sha256: str, owner: str | None = None) -> BookInfo | None:
        """The loaded book derived from the document with this content hash that `owner` sees (a
        shared one first, else their own; None: shared books only), if any."""

    @abstractmethod
    def stats(self) -> LibraryStats:
        """How many books and chapters, and the embedder they are indexed with."""

    @abstractmethod
    def chapter_titles(self, book_id: str) -> dict[int, str]:
        """The loaded chapters of a book, number -> title (empty for an unknown book)."""

    @abstractmethod
    def remove(self, book: str) -> BookInfo:
        """Remove one book and its chapters in one transaction; `book` is its id or its exact
        title. Raises LibraryError if no book matches, or if the title is ambiguous (naming the
        ids to choose from)."""


INGESTION_STATUSES = ("queued", "reading", "summarising", "loaded", "failed")


@dataclass(frozen=True)
class Ingestion:
    """One uploaded document on its way into the library (books/<owner>/<file> in the books
    bucket). `upload` tells two uploads of one key apart (S3's event sequencer); `reason` is a
    sentence when the upload failed, or a note (already in the library); `chapters` counts the
    chapters summarised so far, then the book's."""

    key: str
    upload: str
    owner: str
    status: str
    reason: str | None = None
    book_id: str | None = None
    title: str | None = None
    chapters: int = 0
    updated_at: str = ""  # set by the store


class IngestionLog(ABC):
    """Where each upload's progress is recorded, for GET /books to show."""

    @abstractmethod
    def save(self, ingestion: Ingestion) -> None:
        """Insert or replace the record of (key, upload); the store stamps updated_at."""

    @abstractmethod
    def get(self, key: str, upload: str) -> Ingestion | None: ...

    @abstractmethod
    def list_for_owner(self, owner: str, limit: int = 50) -> list[Ingestion]:
        """The owner's uploads, the most recently updated first."""


@dataclass(frozen=True)
class StoredCourse:
    user_id: str
    outline: Outline
    created_at: str


class CourseStore(ABC):
    """Finished outlines (Aurora / PostgreSQL)."""

    @abstractmethod
    def store(self, user_id: str, outline: Outline, created_at: str) -> None:
        """Upsert the course and its sections in one transaction; storing twice changes nothing."""

    @abstractmethod
    def get(self, course_id: str) -> StoredCourse | None: ...

    @abstractmethod
    def list_for_user(self, user_id: str, limit: int = 50) -> list[StoredCourse]:
        """The user's stored courses, newest first."""

    @abstractmethod
    def list_page(self, user_id: str, limit: int, before: PageKey | None = None) -> list[StoredCourse]:
        """Up to `limit` of the user's stored courses that sort after `before` (all when None)
        in the newest-first order of (created_at, course_id)."""

    @abstractmethod
    def delete(self, course_id: str) -> bool:
        """Remove the course and its sections in one transaction; False if it was not stored."""


class Embedder(ABC):
    name: str
    dimension: int

    @abstractmethod
    def embed(self, texts: list[str]) -> list[list[float]]:
        """One unit-length vector per text."""

    @property
    def kind(self) -> str:
        """What a library records: the embedder and its dimension, e.g. 'wordllama-l2-supercat:256'."""
        return f"{self.name}:{self.dimension}"


class Planner(ABC):
    """Decides the outline. Deterministic checks and fixes around it live in core.checks and core.fixes."""

    @abstractmethod
    def plan_parts(self, request: CourseRequest, chapters: list[ChapterHit]) -> tuple[str, list[PartPlan]]:
        """The course title and its parts (titles, minutes summing to the target, chapters)."""

    @abstractmethod
    def plan_sections(
        self,
        request: CourseRequest,
        chapters: list[ChapterHit],
        parts: list[PartPlan],
        part_index: int,
        earlier: list[list[SectionPlan]],
    ) -> list[SectionPlan]:
        """The sections of part `part_index`, given the sections already planned before it."""

    @abstractmethod
    def revise(
        self,
        request: CourseRequest,
        chapters: list[ChapterHit],
        outline: list[PlannedPart],
        failed_checks: list[str],
    ) -> list[PlannedPart]:
        """A revised outline addressing `failed_checks`."""
