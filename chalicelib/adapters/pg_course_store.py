"""PgCourseStore: finished outlines in PostgreSQL (Aurora in AWS), one row per course and section.

Storing is an idempotent upsert keyed by the course id with deterministic section ids, so a
redelivered `OutlineReview` event rewrites nothing.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from ..core.models import Outline
from ..core.paging import PageKey
from ..errors import PermanentFailure
from ..ports import CourseStore, StoredCourse
from .pg import ConnectionFactory, KeptConnections, transaction

# Each upsert skips the write when nothing changed, so a duplicate store leaves the rows (and
# stored_at) exactly as they were; the conflicting row is still locked, which serialises
# two concurrent stores of one course.
_UPSERT_COURSE = """
INSERT INTO courses (course_id, user_id, title, query, hours, depth, pace, total_minutes, outline, created_at)
VALUES (:course_id, :user_id, :title, :query, :hours, :depth, :pace, :total_minutes,
        CAST(:outline AS jsonb), :created_at)
ON CONFLICT (course_id) DO UPDATE SET
    user_id = EXCLUDED.user_id, title = EXCLUDED.title, query = EXCLUDED.query,
    hours = EXCLUDED.hours, depth = EXCLUDED.depth, pace = EXCLUDED.pace,
    total_minutes = EXCLUDED.total_minutes, outline = EXCLUDED.outline,
    created_at = EXCLUDED.created_at, stored_at = now()
WHERE (courses.user_id, courses.outline, courses.created_at)
    IS DISTINCT FROM (EXCLUDED.user_id, EXCLUDED.outline, EXCLUDED.created_at)
"""

_UPSERT_SECTIONS = """
INSERT INTO course_sections
    (id, course_id, part_index, part_title, position, title, minutes, objectives, sources)
SELECT r.id, :course_id, r.part_index, r.part_title, r.position, r.title, r.minutes, r.objectives, r.sources
FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(
    id text, part_index integer, part_title text, position integer,
    title text, minutes integer, objectives jsonb, sources jsonb)
ON CONFLICT (id) DO UPDATE SET
    part_index = EXCLUDED.part_index, part_title = EXCLUDED.part_title, title = EXCLUDED.title,
    minutes = EXCLUDED.minutes, objectives = EXCLUDED.objectives, sources = EXCLUDED.sources
WHERE (course_sections.part_index, course_sections.part_title, course_sections.title,
       course_sections.minutes, course_sections.objectives, course_sections.sources)
    IS DISTINCT FROM (EXCLUDED.part_index, EXCLUDED.part_title, EXCLUDED.title,
                      EXCLUDED.minutes, EXCLUDED.objectives, EXCLUDED.sources)
"""

_SELECT = "SELECT user_id, outline, created_at FROM courses"


def section_id(course_id: str, position: int) -> str:
    return f"{course_id}:{position}"


def parse_timestamp(value: str) -> datetime:
    """ISO 8601 to an aware datetime; a timestamp without an offset is taken as UTC."""
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def format_timestamp(value: datetime) -> str:
    """UTC in the project clock's format (`2025-03-01T09:30:00.123Z`); microseconds if present."""
    timespec = "milliseconds" if value.microsecond % 1000 == 0 else "microseconds"
    return value.astimezone(UTC).isoformat(timespec=timespec).replace("+00:00", "Z")


def _section_rows(outline: Outline) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for part_index, part in enumerate(outline.parts):
        for section in part.sections:
            rows.append(
                {
                    "id": section_id(outline.course_id, len(rows)),
                    "part_index": part_index,
                    "part_title": part.title,
                    "position": len(rows),
                    "title": section.title,
                    "minutes": section.minutes,
                    "objectives": section.objectives,
                    "sources": [source.model_dump(mode="json") for source in section.sources],
                }
            )
    return rows


class PgCourseStore(CourseStore):
    """Courses and their sections, over connections kept between calls."""

    def __init__(self, connect: ConnectionFactory) -> None:
        self._connections = KeptConnections(connect)

    def store(self, user_id: str, outline: Outline, created_at: str) -> None:
        if _holds_nul(outline.model_dump()):
            # PostgreSQL text and jsonb cannot hold NUL: no retry can store this outline.
            raise PermanentFailure(
                "the outline contains a NUL character (in the query or a planned title), which "
                "PostgreSQL cannot store; remove it and ask again"
            )
        rows = _section_rows(outline)
        with self._connections.session() as conn, transaction(conn):
            conn.run(
                _UPSERT_COURSE,
                course_id=outline.course_id,
                user_id=user_id,
                title=outline.title,
                query=outline.query,
                hours=float(outline.hours),
                depth=outline.preferences.depth.value,
                pace=outline.preferences.pace.value,
                total_minutes=outline.total_minutes,
                outline=outline.model_dump_json(),
                created_at=parse_timestamp(created_at),
            )
            # A revised outline can be shorter than the one stored before it.
            conn.run(
                "DELETE FROM course_sections WHERE course_id = :course_id AND position >= :count",
                course_id=outline.course_id,
                count=len(rows),
            )
            conn.run(_UPSERT_SECTIONS, course_id=outline.course_id, rows=json.dumps(rows))

    def get(self, course_id: str) -> StoredCourse | None:
        if "\x00" in course_id:
            return None  # no stored id holds NUL, and PostgreSQL refuses it as a parameter
        with self._connections.session() as conn:
            rows = conn.run(f"{_SELECT} WHERE course_id = :course_id", course_id=course_id)
        return _stored(rows[0]) if rows else None

    def list_for_user(self, user_id: str, limit: int = 50) -> list[StoredCourse]:
        """The user's stored courses, newest first."""
        if "\x00" in user_id:
            return []
        with self._connections.session() as conn:
            rows = conn.run(
                f"{_SELECT} WHERE user_id = :user_id ORDER BY created_at DESC, course_id DESC LIMIT :limit",
                user_id=user_id,
                limit=limit,
            )
        return [_stored(row) for row in rows]

    def list_page(self, user_id: str, limit: int, before: PageKey | None = None) -> list[StoredCourse]:
        """The user's stored courses after `before`, newest first. Ids compare byte-wise (the
        C collation), as the state stores compare them, whatever the database's locale."""
        if "\x00" in user_id or limit < 1:
            return []
        where = "user_id = :user_id"
        params: dict[str, Any] = {"user_id": user_id, "limit": limit}
        if before is not None:
            where += (
                " AND (created_at < :before_at"
                ' OR (created_at = :before_at AND course_id COLLATE "C" < :before_id))'
            )
            params["before_at"] = parse_timestamp(before.created_at)
            params["before_id"] = before.course_id
        with self._connections.session() as conn:
            rows = conn.run(
                f'{_SELECT} WHERE {where} ORDER BY created_at DESC, course_id COLLATE "C" DESC LIMIT :limit',
                **params,
            )
        return [_stored(row) for row in rows]

    def delete(self, course_id: str) -> bool:
        """The course and its sections, in one transaction."""
        if "\x00" in course_id:
            return False
        with self._connections.session() as conn, transaction(conn):
            conn.run("DELETE FROM course_sections WHERE course_id = :course_id", course_id=course_id)
            removed = conn.run(
                "DELETE FROM courses WHERE course_id = :course_id RETURNING course_id", course_id=course_id
            )
        return bool(removed)


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(item) for item in value.values())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False


def _stored(row: list[Any]) -> StoredCourse:
    user_id, outline, created_at = row
    return StoredCourse(
        user_id=user_id, outline=Outline.model_validate(outline), created_at=format_timestamp(created_at)
    )
