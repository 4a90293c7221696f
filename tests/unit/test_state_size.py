"""The state of the largest allowed course stays far below DynamoDB's 400 KB item limit."""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest

from chalicelib.adapters.book_files import read_book_file
from chalicelib.adapters.memory_state import InMemoryStateStore
from chalicelib.core.models import MAX_HOURS, ChapterHit, CourseRequest, CourseState, Status
from chalicelib.planning.offline import OfflinePlanner
from chalicelib.workflow import Deps, Workflow
from tests.support.fakes import Clock, FakeCourseStore, FakeLibrary, RecordingPublisher

from .test_workflow import run

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "library"


class MeasuringStore(InMemoryStateStore):
    """Records the largest state written, as JSON and as the compressed DynamoDB body."""

    largest_json = 0
    largest_compressed = 0

    def _measure(self, state: CourseState) -> None:
        body = state.model_dump_json().encode()
        self.largest_json = max(self.largest_json, len(body))
        self.largest_compressed = max(self.largest_compressed, len(zlib.compress(body, 6)))

    def create(self, state: CourseState) -> CourseState:
        self._measure(state)
        return super().create(state)

    def save(self, state: CourseState) -> CourseState:
        self._measure(state)
        return super().save(state)


def sample_hits(limit: int = 24) -> list[ChapterHit]:
    """The first chapters of every sample book, as the search would project them."""
    hits: list[ChapterHit] = []
    for path in sorted(SAMPLES.glob("*.json")):
        book = read_book_file(path)
        for chapter in book.chapters:
            hits.append(
                ChapterHit(
                    book_id=path.stem,
                    book_title=book.title,
                    chapter_number=chapter.number,
                    chapter_title=chapter.title,
                    summary=chapter.summary,
                    topics=list(chapter.topics),
                    key_concepts=list(chapter.key_concepts),
                    similarity=0.9 - len(hits) / 1000,
                )
            )
    return hits[:limit]


@pytest.mark.parametrize("pace", ["quick", "moderate", "thorough"])
def test_the_largest_course_state_is_far_below_the_item_limit(pace: str) -> None:
    from tests.support.fakes import FakeEmbedder

    store = MeasuringStore()
    publisher = RecordingPublisher()

    class Embedder1536(FakeEmbedder):
        dimension = 1536  # the production embedding's size

        def embed(self, texts: list[str]) -> list[list[float]]:
            return [[(i % 7) / 7 - 0.43 for i in range(self.dimension)] for _ in texts]

    deps = Deps(
        state_store=store,
        publisher=publisher,
        library=FakeLibrary(sample_hits()),
        course_store=FakeCourseStore(),
        planner=OfflinePlanner(),
        embedder=Embedder1536(),
        clock=Clock(),
        new_id=lambda: "c" * 32,
    )
    flow = Workflow(deps)
    request = CourseRequest.model_validate(
        {
            "query": "Learn DCF valuation " * 20,
            "hours": MAX_HOURS,
            "preferences": {"depth": "expert", "pace": pace},
        }
    )
    state = flow.submit("us-east-1:" + "u" * 36, request)
    run(flow, publisher)
    final = store.get(state.course_id)
    assert final is not None and final.status is Status.COMPLETE
    sections = sum(len(p.sections) for p in final.reviewed)
    sizes = (
        f"40 h {pace}: {sections} sections; largest state {store.largest_json} bytes as JSON,"
        f" {store.largest_compressed} bytes compressed (the DynamoDB body)"
    )
    assert store.largest_compressed < 100_000, sizes
    assert store.largest_json < 400_000 // 2, sizes
