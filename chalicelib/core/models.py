"""Pydantic models shared by the API, the workflow state, the planners, storage and the CLI."""

from __future__ import annotations

import base64
import struct
import unicodedata
from enum import StrEnum
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_serializer,
    field_validator,
    model_validator,
)

MIN_HOURS = 0.25
MAX_HOURS = 40.0
MIN_QUERY_CHARS = 3
MAX_QUERY_CHARS = 500


class Depth(StrEnum):
    OVERVIEW = "overview"
    BALANCED = "balanced"
    TECHNICAL = "technical"
    EXPERT = "expert"


class Pace(StrEnum):
    QUICK = "quick"
    MODERATE = "moderate"
    THOROUGH = "thorough"


class Status(StrEnum):
    QUEUED = "queued"
    SEARCHING = "searching"
    PLANNING = "planning"
    GENERATING_SECTIONS = "generating_sections"
    REVIEWING = "reviewing"
    STORING = "storing"
    COMPLETE = "complete"
    FAILED = "failed"

    @property
    def is_terminal(self) -> bool:
        return self in (Status.COMPLETE, Status.FAILED)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Preferences(_Strict):
    depth: Depth = Depth.BALANCED
    pace: Pace = Pace.MODERATE


class CourseRequest(_Strict):
    """What a learner asks for; validated at the edge, then carried in the state unchanged."""

    query: str
    hours: Annotated[float, Field(ge=MIN_HOURS, le=MAX_HOURS, allow_inf_nan=False)]
    preferences: Preferences = Preferences()

    @field_validator("hours", mode="before")
    @classmethod
    def _hours_is_a_number(cls, value: object) -> object:
        # JSON numbers only: no "2", no true (a bool is an int to Python).
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("hours must be a number")
        if not MIN_HOURS <= value <= MAX_HOURS:  # NaN too: it compares false
            raise ValueError(f"hours must be from {MIN_HOURS:g} to {MAX_HOURS:g}, got {value:g}")
        return value

    @field_validator("query", mode="before")
    @classmethod
    def _trim_query(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        trimmed = " ".join(value.split())
        for char in trimmed:
            # NUL cannot be stored by PostgreSQL, a lone surrogate cannot be encoded at all.
            if unicodedata.category(char) in ("Cc", "Cs"):
                kind = (
                    "an unpaired surrogate" if unicodedata.category(char) == "Cs" else "a control character"
                )
                raise ValueError(f"query contains {kind} (U+{ord(char):04X})")
        if len(trimmed) < MIN_QUERY_CHARS:
            raise ValueError(f"query must be at least {MIN_QUERY_CHARS} characters")
        if len(trimmed) > MAX_QUERY_CHARS:
            raise ValueError(f"query must be at most {MAX_QUERY_CHARS} characters")
        return trimmed

    @property
    def target_minutes(self) -> int:
        return round(self.hours * 60)


class ChapterRef(_Strict):
    """Identifies one chapter of the library: the citation key."""

    book_id: str
    chapter_number: int

    @property
    def key(self) -> str:
        return f"{self.book_id}#{self.chapter_number}"


class ChapterTwin(_Strict):
    """Another book's copy of a retrieved chapter (the same material, near-identical text): not
    taught again, but a section teaching the chapter may cite it too."""

    book_id: str
    book_title: str
    chapter_number: int
    chapter_title: str

    @property
    def ref(self) -> ChapterRef:
        return ChapterRef(book_id=self.book_id, chapter_number=self.chapter_number)


class ChapterHit(_Strict):
    """Compact projection of a retrieved chapter: what planning needs, nothing more.

    `similarity` is the cosine between the query's and the chapter's embeddings; `lexical` the
    full-text rank of the chapter for the query's terms and `named` the query's terms (stemmed)
    that its title, topics or key concepts contain. `relevance` (0-1, 1 for the best chapter) is
    what retrieval makes of all three: planners rank chapters by it."""

    book_id: str
    book_title: str
    chapter_number: int
    chapter_title: str
    summary: str
    topics: list[str]
    key_concepts: list[str]
    similarity: float
    lexical: float = 0.0
    named: list[str] = []
    relevance: float = 0.0  # filled from the similarity when not given (see below)
    twins: list[ChapterTwin] = []

    @model_validator(mode="before")
    @classmethod
    def _default_relevance(cls, data: object) -> object:
        """A hit built without retrieval's judgement (a state stored before it existed, a test)
        is as relevant as it is similar."""
        if isinstance(data, dict) and "relevance" not in data and "similarity" in data:
            similarity = data["similarity"]
            if isinstance(similarity, int | float):
                return {**data, "relevance": max(0.0, min(1.0, float(similarity)))}
        return data

    @property
    def ref(self) -> ChapterRef:
        return ChapterRef(book_id=self.book_id, chapter_number=self.chapter_number)

    def as_twin(self, twin: ChapterTwin) -> ChapterHit:
        """This chapter as its twin would be cited: the twin's book and chapter, this content."""
        return self.model_copy(
            update={
                "book_id": twin.book_id,
                "book_title": twin.book_title,
                "chapter_number": twin.chapter_number,
                "chapter_title": twin.chapter_title,
                "twins": [],
            }
        )


class PartPlan(_Strict):
    """One part of the course: a title, its minutes and the chapters it draws on."""

    title: str
    minutes: int
    chapters: list[ChapterRef] = []


class SectionPlan(_Strict):
    title: str
    minutes: int
    objectives: list[str]
    sources: list[ChapterRef] = []

    @property
    def is_cited(self) -> bool:
        return bool(self.sources)


class PlannedPart(_Strict):
    """A part with its sections: the unit the reviewer checks and the store saves."""

    title: str
    minutes: int
    sections: list[SectionPlan]


class ReviewNotes(_Strict):
    failed_checks: list[str] = []  # what the first check found
    changes: list[str] = []  # what revision, repairs and rebalancing changed
    revised: bool = False  # whether the planner was asked to revise
    remaining: list[str] = []  # always empty: an outline still failing a check is never stored


class PhaseUsage(_Strict):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    calls: int = 0


class TokenUsage(_Strict):
    """Model tokens of one course, per planning phase (zero with the offline planner). The fields
    are the phases the registry marks as spending tokens (core.registry.TOKEN_PHASES)."""

    parts: PhaseUsage = PhaseUsage()
    sections: PhaseUsage = PhaseUsage()
    review: PhaseUsage = PhaseUsage()

    def add(self, phase: str, prompt_tokens: int, completion_tokens: int) -> TokenUsage:
        """This usage with one more model call of `phase`."""
        old: PhaseUsage = getattr(self, phase)
        new = PhaseUsage(
            prompt_tokens=old.prompt_tokens + prompt_tokens,
            completion_tokens=old.completion_tokens + completion_tokens,
            calls=old.calls + 1,
        )
        return self.model_copy(update={phase: new})

    def plus(self, other: TokenUsage) -> TokenUsage:
        merged = {}
        for phase in type(self).model_fields:
            mine, theirs = getattr(self, phase), getattr(other, phase)
            merged[phase] = PhaseUsage(
                prompt_tokens=mine.prompt_tokens + theirs.prompt_tokens,
                completion_tokens=mine.completion_tokens + theirs.completion_tokens,
                calls=mine.calls + theirs.calls,
            )
        return TokenUsage(**merged)

    @property
    def prompt_tokens(self) -> int:
        return sum(getattr(self, phase).prompt_tokens for phase in type(self).model_fields)

    @property
    def completion_tokens(self) -> int:
        return sum(getattr(self, phase).completion_tokens for phase in type(self).model_fields)

    @property
    def calls(self) -> int:
        return sum(getattr(self, phase).calls for phase in type(self).model_fields)


class PartResult(_Strict):
    """One part's sections as the delivery that planned them wrote them, beside the course state,
    with the model tokens that delivery spent; the fan-in gathers them (parallel sections)."""

    sections: list[SectionPlan]
    usage: TokenUsage = TokenUsage()


class Failure(_Strict):
    phase: str
    reason: str


# --- the outline: the stable, user-facing format (docs/formats.md#the-outline) -------------


class SourceCitation(_Strict):
    book_title: str
    chapter_number: int
    chapter_title: str
    book_id: str


class OutlineSection(_Strict):
    title: str
    minutes: int
    objectives: list[str]
    sources: list[SourceCitation]


class OutlinePart(_Strict):
    title: str
    minutes: int
    sections: list[OutlineSection]


class Outline(_Strict):
    course_id: str
    title: str
    query: str
    hours: float
    preferences: Preferences
    total_minutes: int
    parts: list[OutlinePart]
    usage: TokenUsage = TokenUsage()  # model tokens spent planning it (an addition to the format)


# --- the workflow state ---------------------------------------------------------------------


def pack_vector(vector: list[float]) -> str:
    """float32 little-endian, base64: a 1536-d vector costs 8 KB instead of ~30 KB of numbers."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


def unpack_vector(packed: str) -> list[float]:
    raw = base64.b64decode(packed)
    return list(struct.unpack(f"<{len(raw) // 4}f", raw))


class CourseState(BaseModel):
    """Everything a course carries between phases. Events carry only the course id."""

    model_config = ConfigDict(extra="forbid")

    course_id: str
    user_id: str
    request: CourseRequest
    status: Status = Status.QUEUED
    version: int = 0
    created_at: str
    updated_at: str
    embedder: str = ""
    query_embedding: list[float] = []
    title: str = ""
    chapters: list[ChapterHit] = []
    parts: list[PartPlan] = []
    sections: list[list[SectionPlan]] = []
    reviewed: list[PlannedPart] = []
    review: ReviewNotes | None = None
    error: Failure | None = None
    usage: TokenUsage = TokenUsage()
    retries: int = 0  # how often the learner resumed this course after it failed
    past_failures: list[Failure] = []  # the failures those retries resumed from, the latest few
    # How often the watchdog published this course's next event again since a step last moved
    # it on (core.watchdog); every step's write resets it.
    redrives: int = 0
    # Parallel sections: every part is planned by a delivery of its own, which writes its result
    # beside the state (StateStore.put_part); the fan-in gathers them into `sections` and records
    # which part's delivery did it.
    fan_out: bool = False
    fan_in_part: int | None = None
    # The part results written so far, loaded by the workflow while sections are planned in
    # parallel; never part of the stored body.
    planned: dict[int, PartResult] = Field(default_factory=dict, exclude=True)

    @field_validator("query_embedding", mode="before")
    @classmethod
    def _unpack_embedding(cls, value: object) -> object:
        return unpack_vector(value) if isinstance(value, str) else value

    @field_serializer("query_embedding", when_used="json")
    def _pack_embedding(self, value: list[float]) -> str:
        return pack_vector(value)

    @property
    def parts_done(self) -> int:
        # Parts planned at once are counted by their written results until the fan-in gathers them.
        return len(self.reviewed) if self.reviewed else max(len(self.sections), len(self.planned))

    @property
    def parts_total(self) -> int:
        return len(self.reviewed) if self.reviewed else len(self.parts)

    def chapter(self, ref: ChapterRef) -> ChapterHit | None:
        """The retrieved chapter `ref` names, or the chapter it is a twin of (as the twin)."""
        for hit in self.chapters:
            if hit.book_id == ref.book_id and hit.chapter_number == ref.chapter_number:
                return hit
        for hit in self.chapters:
            for twin in hit.twins:
                if twin.book_id == ref.book_id and twin.chapter_number == ref.chapter_number:
                    return hit.as_twin(twin)
        return None
