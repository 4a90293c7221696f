"""The one place that names the workflow's events, their detail models and their rule patterns.

The publishers, the in-process bus and the handler registry (core.registry: which handler
consumes which event) import from here; no event name is spelled anywhere else.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

SOURCE = "docprof.course"


class EventName(StrEnum):
    EMBEDDING_GENERATED = "EmbeddingGenerated"
    BOOK_SUMMARIES_FOUND = "BookSummariesFound"
    PARTS_GENERATED = "PartsGenerated"
    PART_SECTIONS_GENERATED = "PartSectionsGenerated"
    ALL_PARTS_COMPLETE = "AllPartsComplete"
    OUTLINE_REVIEW = "OutlineReview"
    COURSE_STORED = "CourseStored"
    COURSE_FAILED = "CourseFailed"


class CourseDetail(BaseModel):
    """Events carry ids, not data: the course id and, where needed, a small index."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    course_id: str = Field(min_length=1, max_length=64)


class PartDetail(CourseDetail):
    part_index: int = Field(ge=0)


class PartsDetail(CourseDetail):
    """PartsGenerated: without a part index it asks for part 1's sections (sequential); with
    one, for that part's sections alone (parallel, one event per part)."""

    part_index: int | None = Field(default=None, ge=0)


class FailedDetail(CourseDetail):
    phase: str
    reason: str = Field(max_length=1000)


DETAIL_MODELS: dict[EventName, type[CourseDetail]] = {
    EventName.EMBEDDING_GENERATED: CourseDetail,
    EventName.BOOK_SUMMARIES_FOUND: CourseDetail,
    EventName.PARTS_GENERATED: PartsDetail,
    EventName.PART_SECTIONS_GENERATED: PartDetail,
    EventName.ALL_PARTS_COMPLETE: CourseDetail,
    EventName.OUTLINE_REVIEW: CourseDetail,
    EventName.COURSE_STORED: CourseDetail,
    EventName.COURSE_FAILED: FailedDetail,
}


class Event(BaseModel):
    """An event as the workflow publishes it: a name and its (small) detail."""

    model_config = ConfigDict(frozen=True)

    name: EventName
    detail: CourseDetail

    @property
    def course_id(self) -> str:
        return self.detail.course_id

    def detail_json(self) -> dict[str, Any]:
        return self.detail.model_dump(mode="json", exclude_none=True)

    @property
    def part_index(self) -> int | None:
        """The part index of the detail, for the events that carry one."""
        index = getattr(self.detail, "part_index", None)
        return index if isinstance(index, int) else None


def make_event(name: EventName, course_id: str, **fields: Any) -> Event:
    return Event(name=name, detail=DETAIL_MODELS[name](course_id=course_id, **fields))


def parse_detail(name: EventName, detail: dict[str, Any]) -> CourseDetail:
    return DETAIL_MODELS[name].model_validate(detail)


def pattern_for(name: EventName) -> dict[str, list[str]]:
    """The EventBridge rule pattern of the handler that consumes `name`."""
    return {"source": [SOURCE], "detail-type": [name.value]}
