"""The listing's cursor and query parameters, and the merge of per-store pages: paging through
any mix of stores, limits and filters visits every course once, newest first."""

from __future__ import annotations

import random

import pytest

from chalicelib.core.models import Status
from chalicelib.core.paging import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    PageKey,
    SourcePage,
    decode_cursor,
    encode_cursor,
    is_older,
    merge_newest_first,
    parse_limit,
    parse_status,
)
from chalicelib.errors import InvalidRequest


def test_a_cursor_round_trips_and_is_url_safe() -> None:
    key = PageKey("2026-01-01T00:00:00.000Z", "c-\u00e9/+=?&")
    cursor = encode_cursor(key)
    assert decode_cursor(cursor) == key
    assert all(char.isalnum() or char in "-_" for char in cursor)


@pytest.mark.parametrize(
    "cursor",
    ["", "!!!", "e30", encode_cursor(PageKey("yesterday", "c-1")), "WyJ4Il0", "WzEsMl0", "bnVsbA"],
)
def test_a_cursor_the_api_did_not_make_is_refused_naming_the_field(cursor: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        decode_cursor(cursor)
    assert (refused.value.field, refused.value.code) == ("cursor", "invalid_cursor")


def test_limit_defaults_and_bounds() -> None:
    assert parse_limit(None) == DEFAULT_LIMIT
    assert parse_limit("1") == 1 and parse_limit(str(MAX_LIMIT)) == MAX_LIMIT
    for bad in ("0", str(MAX_LIMIT + 1), "-3", "2.5", "ten", "", "\u0661"):
        with pytest.raises(InvalidRequest) as refused:
            parse_limit(bad)
        assert refused.value.field == "limit"


def test_status_is_one_of_the_status_values() -> None:
    assert parse_status(None) is None
    assert parse_status("generating_sections") is Status.GENERATING_SECTIONS
    with pytest.raises(InvalidRequest) as refused:
        parse_status("COMPLETE")
    assert (refused.value.field, refused.value.code) == ("status", "invalid_choice")
    assert "'complete'" in refused.value.message


Course = tuple[PageKey, str]  # (key, which store it came from)


def store_page(
    items: list[PageKey], wanted: int, before: PageKey | None, keep: set[str]
) -> SourcePage[Course]:
    """What a store answers: the first `wanted` keys after `before`, then filtered to `keep`."""
    read = [key for key in sorted(items, reverse=True) if is_older(key, before)][:wanted]
    return SourcePage(
        items=[(key, "s") for key in read if key.course_id in keep],
        last_read=read[-1] if len(read) == wanted else None,
    )


@pytest.mark.parametrize("seed", range(40))
def test_paging_through_merged_stores_visits_each_course_once_newest_first(seed: int) -> None:
    rng = random.Random(seed)
    stamps = [f"2026-01-01T00:00:{s:02d}.000Z" for s in range(rng.randint(1, 12))]
    courses = {f"c{n:02d}": PageKey(rng.choice(stamps), f"c{n:02d}") for n in range(rng.randint(0, 40))}
    ids = list(courses)
    first = [courses[c] for c in ids if rng.random() < 0.6]
    second = [courses[c] for c in ids if rng.random() < 0.6]
    keep = {c for c in ids if rng.random() < 0.7} if rng.random() < 0.5 else set(ids)
    expected = sorted({key for key in first + second if key.course_id in keep}, reverse=True)
    limit = rng.randint(1, 7)

    seen: list[PageKey] = []
    cursor = None
    for _ in range(200):
        pages = [store_page(source, limit + 1, cursor, keep) for source in (first, second)]
        page = merge_newest_first(pages, key=lambda course: course[0], limit=limit)
        assert len(page.items) <= limit
        seen += [key for key, _ in page.items]
        if page.next is None:
            break
        assert cursor is None or page.next < cursor  # always moves on
        cursor = page.next
    assert seen == expected


def test_a_course_in_both_stores_is_listed_as_the_first_store_has_it() -> None:
    key = PageKey("2026-01-01T00:00:00.000Z", "c-1")
    page = merge_newest_first(
        [
            SourcePage(items=[(key, "state")], last_read=None),
            SourcePage(items=[(key, "stored")], last_read=None),
        ],
        key=lambda course: course[0],
        limit=5,
    )
    assert page.items == [(key, "state")] and page.next is None
