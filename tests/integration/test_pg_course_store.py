"""PgCourseStore against a real PostgreSQL: idempotent upserts, shrinking outlines, listing."""

from __future__ import annotations

import threading
from contextlib import closing
from typing import Any

import pytest

from chalicelib.adapters.pg import ConnectionFactory
from chalicelib.adapters.pg_course_store import PgCourseStore
from chalicelib.core.models import Outline
from chalicelib.core.paging import PageKey

CREATED = "2025-03-01T09:30:00.123Z"  # the format of the project's clock


def make_outline(
    course_id: str = "c-1", sections_per_part: tuple[int, ...] = (2, 3), **changes: Any
) -> Outline:
    parts = []
    for p, count in enumerate(sections_per_part):
        sections = [
            {
                "title": f"Part {p} section {s}",
                "minutes": 20,
                "objectives": [f"Explain idea {p}.{s}", f"Apply idea {p}.{s}"],
                "sources": [
                    {
                        "book_id": "val-1",
                        "book_title": "Valuation",
                        "chapter_number": s + 1,
                        "chapter_title": "DCF",
                    }
                ],
            }
            for s in range(count)
        ]
        parts.append({"title": f"Part {p}", "minutes": 20 * count, "sections": sections})
    data = {
        "course_id": course_id,
        "title": "DCF valuation",
        "query": "Learn DCF valuation",
        "hours": 1.5,
        "preferences": {"depth": "balanced", "pace": "moderate"},
        "total_minutes": 20 * sum(sections_per_part),
        "parts": parts,
        **changes,
    }
    return Outline.model_validate(data)


@pytest.fixture
def store(pg_conn_factory: ConnectionFactory) -> PgCourseStore:
    return PgCourseStore(pg_conn_factory)


def dump(factory: ConnectionFactory) -> tuple[list[Any], list[Any]]:
    """Every column of every row, including stored_at and the row versions (xmin)."""
    with closing(factory()) as conn:
        courses = conn.run("SELECT xmin::text, * FROM courses ORDER BY course_id")
        sections = conn.run("SELECT xmin::text, * FROM course_sections ORDER BY course_id, position")
    return courses, sections


def section_rows(factory: ConnectionFactory, course_id: str) -> list[Any]:
    with closing(factory()) as conn:
        return list(
            conn.run(
                "SELECT id, part_index, part_title, position, title FROM course_sections"
                " WHERE course_id = :id ORDER BY position",
                id=course_id,
            )
        )


def test_a_stored_course_reads_back_unchanged(store: PgCourseStore) -> None:
    outline = make_outline()
    store.store("user-1", outline, CREATED)
    stored = store.get("c-1")
    assert stored is not None
    assert (stored.user_id, stored.outline, stored.created_at) == ("user-1", outline, CREATED)


def test_an_unknown_course_is_none(store: PgCourseStore) -> None:
    assert store.get("nope") is None


def test_sections_get_deterministic_ids_and_positions(
    store: PgCourseStore, pg_conn_factory: ConnectionFactory
) -> None:
    store.store("user-1", make_outline(sections_per_part=(2, 1)), CREATED)
    assert section_rows(pg_conn_factory, "c-1") == [
        ["c-1:0", 0, "Part 0", 0, "Part 0 section 0"],
        ["c-1:1", 0, "Part 0", 1, "Part 0 section 1"],
        ["c-1:2", 1, "Part 1", 2, "Part 1 section 0"],
    ]


def test_storing_the_same_course_twice_leaves_identical_rows(
    store: PgCourseStore, pg_conn_factory: ConnectionFactory
) -> None:
    store.store("user-1", make_outline(), CREATED)
    before = dump(pg_conn_factory)
    store.store("user-1", make_outline(), CREATED)
    after = dump(pg_conn_factory)
    assert after == before  # same rows, same count, not even rewritten (same xmin)
    assert (len(after[0]), len(after[1])) == (1, 5)


def test_storing_a_revised_outline_updates_it(store: PgCourseStore) -> None:
    store.store("user-1", make_outline(), CREATED)
    revised = make_outline(title="DCF valuation, revised")
    store.store("user-1", revised, CREATED)
    stored = store.get("c-1")
    assert stored is not None and stored.outline.title == "DCF valuation, revised"


def test_restoring_with_fewer_sections_removes_the_extra_ones(
    store: PgCourseStore, pg_conn_factory: ConnectionFactory
) -> None:
    store.store("user-1", make_outline(sections_per_part=(3, 3)), CREATED)
    store.store("user-1", make_outline(sections_per_part=(2,)), CREATED)
    assert [row[0] for row in section_rows(pg_conn_factory, "c-1")] == ["c-1:0", "c-1:1"]
    stored = store.get("c-1")
    assert stored is not None and len(stored.outline.parts) == 1


def test_concurrent_duplicate_stores_both_succeed_with_one_set_of_rows(
    store: PgCourseStore, pg_conn_factory: ConnectionFactory
) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def run() -> None:
        try:
            barrier.wait()
            store.store("user-1", make_outline(), CREATED)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    courses, sections = dump(pg_conn_factory)
    assert (len(courses), len(sections)) == (1, 5)


def test_list_for_user_shows_only_that_users_courses_newest_first(store: PgCourseStore) -> None:
    store.store("user-1", make_outline("old"), "2025-01-01T00:00:00+00:00")
    store.store("user-1", make_outline("new"), "2025-02-01T00:00:00+00:00")
    store.store("user-1", make_outline("middle"), "2025-01-15T12:00:00+00:00")
    store.store("user-2", make_outline("theirs"), "2025-03-01T00:00:00+00:00")
    assert [c.outline.course_id for c in store.list_for_user("user-1")] == ["new", "middle", "old"]
    assert [c.outline.course_id for c in store.list_for_user("user-1", limit=1)] == ["new"]
    assert store.list_for_user("nobody") == []


def test_timestamps_with_other_offsets_sort_by_the_instant_they_name(store: PgCourseStore) -> None:
    store.store("user-1", make_outline("earlier"), "2025-01-01T10:00:00+02:00")  # 08:00 UTC
    store.store("user-1", make_outline("later"), "2025-01-01T09:00:00Z")
    listed = store.list_for_user("user-1")
    assert [c.outline.course_id for c in listed] == ["later", "earlier"]
    assert listed[1].created_at == "2025-01-01T08:00:00.000Z"


def test_hostile_text_is_stored_verbatim(store: PgCourseStore, pg_conn_factory: ConnectionFactory) -> None:
    hostile = "x'); DROP TABLE courses; -- :course_id $1 %s \u00e9\U0001f4da"
    outline = make_outline(hostile, title=hostile, query=hostile)
    store.store(hostile, outline, CREATED)
    stored = store.get(hostile)
    assert stored is not None and stored.outline == outline and stored.user_id == hostile
    assert [c.outline.course_id for c in store.list_for_user(hostile)] == [hostile]
    assert section_rows(pg_conn_factory, hostile)[0][0] == f"{hostile}:0"


def test_paging_lists_the_users_courses_newest_first_ids_breaking_ties_byte_wise(
    store: PgCourseStore,
) -> None:
    # Upper case sorts before lower case byte-wise, whatever the database's collation says.
    stamps = {"c-a": "09:00", "c-B": "10:00", "c-b": "10:00", "c-d": "11:00", "c-e": "08:00"}
    for course_id, stamp in stamps.items():
        store.store("user-a", make_outline(course_id), f"2025-03-01T{stamp}:00.000Z")
    store.store("user-b", make_outline("c-x"), "2025-03-01T10:00:00.000Z")
    expected = ["c-d", "c-b", "c-B", "c-a", "c-e"]
    for limit in (1, 2, 4, 10):
        seen: list[str] = []
        before = None
        while True:
            page = store.list_page("user-a", limit, before)
            seen += [course.outline.course_id for course in page]
            if len(page) < limit:
                break
            before = PageKey(page[-1].created_at, page[-1].outline.course_id)
        assert seen == expected, limit


def test_deleting_a_course_removes_it_and_its_sections(
    store: PgCourseStore, pg_conn_factory: ConnectionFactory
) -> None:
    store.store("user-a", make_outline("c-1"), CREATED)
    store.store("user-a", make_outline("c-2"), CREATED)

    assert store.delete("c-1") is True
    assert store.get("c-1") is None
    assert section_rows(pg_conn_factory, "c-1") == []
    assert len(section_rows(pg_conn_factory, "c-2")) == 5
    assert store.delete("c-1") is False
    assert store.delete("bad\x00id") is False
