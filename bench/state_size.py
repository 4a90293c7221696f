"""State and event sizes: the largest DynamoDB state item and the largest EventBridge entry.

    .venv/bin/python -m bench.state_size

Every depth x pace at the largest allowed course (40 h, a 500-character query), through the real
DynamoDBStateStore (moto) and EventBridgePublisher (moto), with a 1536-d query embedding (the
production size; the state keeps it) and the offline planner. Item sizes follow DynamoDB's rules
(attribute names + values; the body is zlib-compressed JSON). Two libraries: 24 chapters of the
sample library (what search returns at the default top_k), and a stress library of 24 chapters
with summaries and lists five times as long.

Event entries are sized as PutEvents counts them (source + detail-type + detail). Besides the
events the runs publish, the bound: a CourseFailed event with the longest reason the workflow
keeps, in ASCII and in non-ASCII text.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import random
import zlib
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from bench._common import SAMPLES, machine, table, verdict
from chalicelib.core.events import Event, EventName
from chalicelib.core.models import (
    MAX_HOURS,
    MAX_QUERY_CHARS,
    ChapterHit,
    CourseRequest,
    CourseState,
    Depth,
    Outline,
    Pace,
    Status,
)
from chalicelib.ports import CourseStore, Embedder, EventPublisher, Library, SearchParams, StoredCourse

TARGET_ITEM, TARGET_EVENT = 100_000, 4_096
TABLE, BUS = "bench-course-state", "bench-course-bus"
_COURSE_IDS = itertools.count()


# --- what DynamoDB and EventBridge count -------------------------------------------------------


def attribute_size(value: dict[str, Any]) -> int:
    """Bytes of one attribute value, by DynamoDB's item-size rules (scalars we write)."""
    ((kind, raw),) = value.items()
    if kind == "S":
        return len(raw.encode())
    if kind == "B":
        return len(raw)
    if kind == "N":  # about one byte per two significant digits, plus one
        digits = len(str(Decimal(raw).normalize()).replace("-", "").replace(".", "").lstrip("0")) or 1
        return math.ceil(digits / 2) + 1
    raise ValueError(f"no size rule for attribute type {kind}")


def item_size(item: dict[str, dict[str, Any]]) -> int:
    return sum(len(name.encode()) + attribute_size(value) for name, value in item.items())


def entry_size(entry: dict[str, Any]) -> int:
    """PutEvents entry size: Source, DetailType, Detail and Resources, in UTF-8 bytes."""
    size = sum(len(entry.get(key, "").encode()) for key in ("Source", "DetailType", "Detail"))
    return size + sum(len(r.encode()) for r in entry.get("Resources", []))


# --- the workflow's surroundings -------------------------------------------------------------------


class Embedder1536(Embedder):
    """Random unit vectors of the production size: incompressible, like real embeddings."""

    name, dimension = "text-embedding-3-small", 1536

    def __init__(self) -> None:
        self._random = random.Random(1)

    def embed(self, texts: list[str]) -> list[list[float]]:
        out = []
        for _ in texts:
            vector = [self._random.gauss(0, 1) for _ in range(self.dimension)]
            norm = math.sqrt(sum(x * x for x in vector))
            out.append([x / norm for x in vector])
        return out


class FixedLibrary(Library):
    def __init__(self, hits: list[ChapterHit]) -> None:
        self.hits = hits

    def search(
        self,
        embedding: list[float],
        embedder: str,
        params: SearchParams,
        terms: Sequence[str] = (),
        *,
        caller: str,
    ) -> list[ChapterHit]:
        return list(self.hits)


class DiscardingCourseStore(CourseStore):
    def store(self, user_id: str, outline: Outline, created_at: str) -> None:
        pass

    def get(self, course_id: str) -> StoredCourse | None:
        return None

    def list_for_user(self, user_id: str, limit: int = 50) -> list[StoredCourse]:
        return []


class QueueingPublisher(EventPublisher):
    """Publishes through the real EventBridge publisher and queues the event for delivery."""

    def __init__(self, real: EventPublisher) -> None:
        self.real = real
        self.queue: list[Event] = []

    def publish(self, event: Event) -> None:
        self.real.publish(event)
        self.queue.append(event)


def sample_hits(stretch: int = 1, limit: int = 24) -> list[ChapterHit]:
    """The first chapters of the sample books. With `stretch` > 1, each text is `stretch` times
    as long, made of words drawn at random from the sample library (new text, not repeats,
    which zlib would compress away)."""
    from chalicelib.adapters.book_files import read_book_file
    from chalicelib.core.books import book_id

    books = [read_book_file(path) for path in sorted(SAMPLES.glob("*.json"))]
    words = [w for b in books for c in b.chapters for w in c.summary.split()]
    rnd = random.Random(2)

    def longer(text: str) -> str:
        return text if stretch == 1 else " ".join(rnd.choices(words, k=len(text.split()) * stretch))

    def longer_list(items: list[str]) -> list[str]:
        return items if stretch == 1 else [longer(item) for item in items for _ in range(stretch)]

    hits: list[ChapterHit] = []
    for book in books:
        for chapter in book.chapters[:3]:
            hits.append(
                ChapterHit(
                    book_id=book_id(book),
                    book_title=book.title,
                    chapter_number=chapter.number,
                    chapter_title=chapter.title,
                    summary=longer(chapter.summary),
                    topics=longer_list(chapter.topics),
                    key_concepts=longer_list(chapter.key_concepts),
                    similarity=round(0.9 - len(hits) / 100, 4),
                )
            )
    return hits[:limit]


# --- measuring ----------------------------------------------------------------------------------


def measure(hits: list[ChapterHit], depth: Depth, pace: Pace, hours: float) -> dict[str, Any]:
    import boto3

    from chalicelib.adapters.dynamodb_state import DynamoDBStateStore, create_table
    from chalicelib.adapters.eventbridge import EventBridgePublisher
    from chalicelib.planning.offline import OfflinePlanner
    from chalicelib.workflow import Deps, Workflow

    dynamodb, events = boto3.client("dynamodb"), boto3.client("events")
    if TABLE not in dynamodb.list_tables()["TableNames"]:
        create_table(dynamodb, TABLE)
        events.create_event_bus(Name=BUS)

    largest: dict[str, Any] = {"item": 0, "json": 0, "entry": 0, "detail": 0}
    store = DynamoDBStateStore(TABLE, client=dynamodb)
    put_item = dynamodb.put_item

    def measured_put(**kwargs: Any) -> Any:
        item = kwargs["Item"]
        largest["item"] = max(largest["item"], item_size(item))
        largest["json"] = max(largest["json"], len(zlib.decompress(item["body"]["B"])))
        return put_item(**kwargs)

    put_events = events.put_events

    def measured_put_events(**kwargs: Any) -> Any:
        for entry in kwargs["Entries"]:
            largest["entry"] = max(largest["entry"], entry_size(entry))
            largest["detail"] = max(largest["detail"], len(entry["Detail"].encode()))
        return put_events(**kwargs)

    dynamodb.put_item = measured_put  # type: ignore[method-assign]
    events.put_events = measured_put_events  # type: ignore[method-assign]
    publisher = QueueingPublisher(EventBridgePublisher(BUS, client=events))
    flow = Workflow(
        Deps(
            state_store=store,
            publisher=publisher,
            library=FixedLibrary(hits),
            course_store=DiscardingCourseStore(),
            planner=OfflinePlanner(),
            embedder=Embedder1536(),
            clock=lambda: "2026-01-01T00:00:00.000Z",
            new_id=lambda: f"{next(_COURSE_IDS):032x}",
        )
    )
    query = ("Learn discounted cash flow valuation and the cost of capital " * 10)[:MAX_QUERY_CHARS]
    request = CourseRequest.model_validate(
        {"query": query, "hours": hours, "preferences": {"depth": depth.value, "pace": pace.value}}
    )
    state = flow.submit("us-east-1:" + "0" * 36, request)
    while publisher.queue:
        event = publisher.queue.pop(0)
        if event.name in (EventName.COURSE_STORED, EventName.COURSE_FAILED):
            continue
        flow.handle(event.name, event.detail_json())
    final: CourseState | None = store.get(state.course_id)
    if final is None or final.status is not Status.COMPLETE:
        raise SystemExit(f"course did not complete: {final.error if final else 'no state'}")
    largest["sections"] = sum(len(part.sections) for part in final.reviewed)
    return largest


def failure_bound() -> list[tuple[str, int, int]]:
    """The CourseFailed entry for the longest reason the workflow keeps, as published."""
    from chalicelib.adapters.eventbridge import EventBridgePublisher
    from chalicelib.core import phases

    class Capture:
        entries: list[dict[str, Any]] = []

        def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
            self.entries.extend(Entries)
            return {"FailedEntryCount": 0}

    rows = []
    state = CourseState(
        course_id="f" * 32,
        user_id="u",
        request=CourseRequest(query="Learn DCF valuation", hours=1.0),
        created_at="2026-01-01T00:00:00.000Z",
        updated_at="2026-01-01T00:00:00.000Z",
    )
    for label, char in (("ASCII", "x"), ("accented Latin", "é"), ("CJK", "価"), ("emoji", "😀")):
        _, event = phases.record_failure(state, "sections", char * 5000, "2026-01-01T00:00:01.000Z")
        capture = Capture()
        capture.entries = []
        EventBridgePublisher(BUS, client=capture).publish(event)  # type: ignore[arg-type]
        entry = capture.entries[-1]
        rows.append((label, len(entry["Detail"].encode()), entry_size(entry)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.parse_args()
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    )
    from moto import mock_aws

    libraries = {"sample": sample_hits(), "stress (5x text)": sample_hits(stretch=5)}
    rows, worst = [], {"item": 0, "entry": 0}
    with mock_aws():
        for label, hits in libraries.items():
            chapter_bytes = sum(len(h.model_dump_json()) for h in hits)
            for depth, pace in itertools.product(Depth, Pace):
                got = measure(hits, depth, pace, MAX_HOURS)
                worst = {k: max(worst[k], got[k]) for k in worst}
                rows.append(
                    (
                        label,
                        f"{len(hits)} ({chapter_bytes / 1000:.0f} KB)",
                        f"{depth.value}/{pace.value}",
                        got["sections"],
                        f"{got['json']:,}",
                        f"{got['item']:,}",
                        f"{got['item'] / 400_000:.0%}",
                        f"{got['entry']:,}",
                    )
                )
        bound = failure_bound()

    print(machine())
    table(
        f"Largest state item and event per {MAX_HOURS:g} h course (bytes)",
        (
            "library",
            "chapters (JSON)",
            "depth/pace",
            "sections",
            "state JSON",
            "DynamoDB item",
            "of 400 KB",
            "largest event",
        ),
        rows,
    )
    table(
        "CourseFailed with the longest reason kept (bytes)",
        ("reason text", "detail", "PutEvents entry"),
        bound,
    )
    print(
        f"largest state item: {worst['item']:,} bytes (target <= {TARGET_ITEM:,}) ->"
        f" {verdict(worst['item'] <= TARGET_ITEM)}"
    )
    print(
        f"largest event published in these runs: {worst['entry']:,} bytes (target <= {TARGET_EVENT:,}) ->"
        f" {verdict(worst['entry'] <= TARGET_EVENT)}"
    )
    largest_failure = max(row[2] for row in bound)
    print(
        f"largest CourseFailed possible: {largest_failure:,} bytes (target <= {TARGET_EVENT:,}) ->"
        f" {verdict(largest_failure <= TARGET_EVENT)}"
    )


if __name__ == "__main__":
    main()
