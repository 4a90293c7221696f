"""Paging a user's courses newest first, across the stores that hold them: the opaque cursor,
the query parameters, and the merge of per-store pages into one without duplicates or gaps."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from ..errors import InvalidRequest
from .models import Status

DEFAULT_LIMIT = 20
MAX_LIMIT = 100

Item = TypeVar("Item")


@dataclass(frozen=True, order=True)
class PageKey:
    """Where a course sits in the listing: courses sort by (created_at, course_id), newest first.
    Timestamps share one fixed-width UTC format, so comparing them as text orders them in time."""

    created_at: str
    course_id: str


def encode_cursor(key: PageKey) -> str:
    """The cursor a client passes back for the next page: opaque, URL-safe, no padding."""
    raw = json.dumps([key.created_at, key.course_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> PageKey:
    """The key a cursor from `encode_cursor` names; InvalidRequest for anything else."""
    invalid = InvalidRequest(
        "cursor is not one this API returned; pass next_cursor unchanged",
        field="cursor",
        code="invalid_cursor",
    )
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise invalid from None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(part, str) and part and "\x00" not in part for part in value)
    ):
        raise invalid
    try:
        datetime.fromisoformat(value[0])
    except ValueError:
        raise invalid from None
    return PageKey(created_at=value[0], course_id=value[1])


def parse_limit(raw: str | None) -> int:
    """The page size asked for: an integer from 1 to MAX_LIMIT, DEFAULT_LIMIT when absent."""
    if raw is None:
        return DEFAULT_LIMIT
    text = raw.strip()
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise InvalidRequest(
            f"limit must be a whole number from 1 to {MAX_LIMIT}, got {raw!r}",
            field="limit",
            code="invalid_field",
        )
    return int(text)


def parse_status(raw: str | None) -> Status | None:
    """The status to filter on, or None for every course."""
    if raw is None:
        return None
    try:
        return Status(raw)
    except ValueError:
        choices = ", ".join(repr(status.value) for status in Status)
        raise InvalidRequest(
            f"status must be one of {choices}, got {raw!r}", field="status", code="invalid_choice"
        ) from None


def is_older(key: PageKey, cursor: PageKey | None) -> bool:
    """Whether `key` comes after `cursor` in the newest-first listing (everything does after none)."""
    return cursor is None or key < cursor


@dataclass(frozen=True)
class SourcePage(Generic[Item]):
    """What one store returned for a page: `items` after any filtering, newest first, and
    `last_read` the key of the last item it read when it may hold more (None when exhausted)."""

    items: Sequence[Item]
    last_read: PageKey | None


@dataclass(frozen=True)
class Page(Generic[Item]):
    items: list[Item]
    next: PageKey | None  # where the next page starts; None on the last page


def merge_newest_first(
    sources: Sequence[SourcePage[Item]], key: Callable[[Item], PageKey], limit: int
) -> Page[Item]:
    """One page of at most `limit` items from several stores' pages, newest first.

    A course held by two stores appears once, as the earlier source has it. Items past the
    newest `last_read` of a store that may hold more are left for the next page: that store's
    unread items could sort before them. Each store asked for limit + 1 items, so a page is
    short only when a store's items were filtered out after reading."""
    boundary = max((source.last_read for source in sources if source.last_read is not None), default=None)
    seen: dict[str, Item] = {}
    for source in sources:
        for item in source.items:
            item_key = key(item)
            if boundary is not None and item_key < boundary:
                continue
            seen.setdefault(item_key.course_id, item)
    merged = sorted(seen.values(), key=key, reverse=True)
    if len(merged) > limit:
        return Page(items=merged[:limit], next=key(merged[limit - 1]))
    return Page(items=merged, next=boundary)
