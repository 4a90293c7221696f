"""Re-indexing the library with another embedder, on a real PostgreSQL + pgvector."""

from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib.adapters.book_files import read_book_file
from chalicelib.adapters.pg import ConnectionFactory, session
from chalicelib.adapters.pg_library import PgLibrary, index_name
from chalicelib.errors import EmbedderMismatch, LibraryError, TransientError
from chalicelib.ports import Embedder, SearchParams
from tests.support.llm_server import hashed_embedding

READER = "reader"  # the user searches are made for: sees the shared books, owns none

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "library"
WIDE = SearchParams(top_k=10, min_similarity=-1.0, max_per_book=10)


class HashedEmbedder(Embedder):
    """A deterministic bag-of-words embedder; `fail_after` texts, it raises like a model outage."""

    def __init__(self, name: str, dimension: int, fail_after: int | None = None) -> None:
        self.name, self.dimension, self.fail_after, self.seen = name, dimension, fail_after, 0

    def embed(self, texts: list[str]) -> list[list[float]]:
        self.seen += len(texts)
        if self.fail_after is not None and self.seen > self.fail_after:
            raise TransientError("the embedding service is down")
        return [hashed_embedding(text, self.dimension) for text in texts]


@pytest.fixture
def loaded(pg_conn_factory: ConnectionFactory) -> PgLibrary:
    library = PgLibrary(pg_conn_factory)
    books = [read_book_file(path) for path in sorted(SAMPLES.glob("*.json"))[:3]]
    library.load(books, HashedEmbedder("old", 32))
    return library


def indexes(connect: ConnectionFactory) -> list[str]:
    with session(connect) as conn:
        rows = conn.run(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'chapters' AND indexname LIKE '%hnsw%'"
        )
    return sorted(row[0] for row in rows)


def test_reindex_switches_embedder_dimension_and_index_and_keeps_every_chapter(
    loaded: PgLibrary, pg_conn_factory: ConnectionFactory
) -> None:
    before = loaded.books()
    new = HashedEmbedder("new", 48)
    query = hashed_embedding("discounted cash flow valuation", 48)
    with pytest.raises(EmbedderMismatch, match="coursegen library reindex"):
        loaded.search(query, new.kind, WIDE, caller=READER)

    progress: list[tuple[int, int]] = []
    count = loaded.reindex(new, lambda done, total: progress.append((done, total)))

    assert count == sum(len(book.chapters) for book in before)
    assert progress[-1] == (count, count)
    assert loaded.books() == before  # the text of every chapter is untouched
    stats = loaded.stats()
    assert (stats.embedder_kind, stats.dimension, stats.chapters) == ("new:48", 48, count)
    assert indexes(pg_conn_factory) == [index_name(48)]
    hits = loaded.search(query, new.kind, WIDE, caller=READER)
    assert hits and hits[0].similarity > 0
    with pytest.raises(EmbedderMismatch):
        loaded.search(hashed_embedding("x", 32), "old:32", WIDE, caller=READER)


def test_a_reindex_that_fails_midway_leaves_the_old_index_in_place(
    loaded: PgLibrary, pg_conn_factory: ConnectionFactory
) -> None:
    with pytest.raises(TransientError):
        loaded.reindex(HashedEmbedder("new", 48, fail_after=5))
    assert loaded.stats().embedder_kind == "old:32"
    assert indexes(pg_conn_factory) == [index_name(32)]
    assert loaded.search(hashed_embedding("valuation", 32), "old:32", WIDE, caller=READER)


def test_reindexing_an_empty_library_says_how_to_fill_it(pg_conn_factory: ConnectionFactory) -> None:
    with pytest.raises(LibraryError, match="library load"):
        PgLibrary(pg_conn_factory).reindex(HashedEmbedder("new", 8))
