"""PgLibrary against a real PostgreSQL + pgvector: loading, searching, refusing wrong embedders."""

from __future__ import annotations

import math
import random
from contextlib import closing
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from chalicelib.adapters.book_files import read_book_file
from chalicelib.adapters.offline_embedder import WordLlamaEmbedder
from chalicelib.adapters.pg import ConnectionFactory, ConnInfo, connect, patient
from chalicelib.adapters.pg_library import (
    IndexParams,
    PgLibrary,
    index_name,
    search_sql,
    vector_literal,
)
from chalicelib.core.books import Book, book_id, chapter_text
from chalicelib.errors import EmbedderMismatch, EmptyLibrary, LibraryError
from chalicelib.ports import Embedder, SearchParams

READER = "reader"  # the user searches are made for: sees the shared books, owns none

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "library"
KIND = "fake:4"
ALL = SearchParams(top_k=50, min_similarity=0.25, max_per_book=50)


def make_book(title: str, chapters: list[str], author: str = "A. Author") -> Book:
    return Book.model_validate(
        {
            "title": title,
            "author": author,
            "chapters": [
                {
                    "number": n,
                    "title": name,
                    "summary": f"About {name}.",
                    "topics": [name],
                    "key_concepts": [name.upper()],
                }
                for n, name in enumerate(chapters, start=1)
            ],
        }
    )


def unit(*values: float) -> list[float]:
    norm = math.sqrt(sum(v * v for v in values))
    return [v / norm for v in values]


# Three books on four orthogonal "themes"; the cosines between chapters are easy to read off.
VALUATION = make_book("Valuation", ["dcf", "free cash flow", "options"])
STATISTICS = make_book("Statistics", ["regression", "sampling"])
COOKING = make_book("Cooking", ["bread"])
VECTORS = [
    [unit(1, 0, 0, 0), unit(0.8, 0.6, 0, 0), unit(0, 0, 1, 0)],
    [unit(0.6, 0.8, 0, 0), unit(0, 1, 0, 0)],
    [unit(0, 0, 0, 1)],
]


@pytest.fixture
def library(pg_conn_factory: ConnectionFactory) -> PgLibrary:
    lib = PgLibrary(pg_conn_factory)
    lib.load_books([VALUATION, STATISTICS, COOKING], VECTORS, KIND)
    return lib


def found(hits: list[Any]) -> list[tuple[str, int]]:
    return [(hit.book_title, hit.chapter_number) for hit in hits]


def test_search_finds_similar_chapters_with_their_cosine_similarity(library: PgLibrary) -> None:
    hits = library.search(unit(1, 0, 0, 0), KIND, ALL, caller=READER)
    assert found(hits) == [("Valuation", 1), ("Valuation", 2), ("Statistics", 1)]
    assert [round(hit.similarity, 4) for hit in hits] == [1.0, 0.8, 0.6]


def test_search_hits_carry_what_planning_needs(library: PgLibrary) -> None:
    [hit] = library.search(unit(1, 0, 0, 0), KIND, SearchParams(top_k=1), caller=READER)
    assert hit.book_id == book_id(VALUATION)
    assert (hit.chapter_title, hit.summary) == ("dcf", "About dcf.")
    assert (hit.topics, hit.key_concepts) == (["dcf"], ["DCF"])


def test_top_k_keeps_the_most_similar_chapters(library: PgLibrary) -> None:
    hits = library.search(unit(1, 0, 0, 0), KIND, SearchParams(top_k=2, min_similarity=0.0), caller=READER)
    assert found(hits) == [("Valuation", 1), ("Valuation", 2)]


def test_chapters_below_the_similarity_threshold_are_left_out(library: PgLibrary) -> None:
    query = unit(1, 0, 0, 0)
    assert found(library.search(query, KIND, SearchParams(min_similarity=0.7), caller=READER)) == [
        ("Valuation", 1),
        ("Valuation", 2),
    ]
    assert library.search(unit(-1, 0, 0, 0), KIND, ALL, caller=READER) == []


def test_a_dissimilar_chapter_the_query_names_is_still_a_candidate(library: PgLibrary) -> None:
    hits = library.search(unit(-1, 0, 0, 0), KIND, ALL, ["bread", "baking"], caller=READER)
    assert [(h.book_title, h.chapter_number, h.named) for h in hits] == [("Cooking", 1, ["bread"])]
    assert hits[0].similarity == pytest.approx(0.0, abs=1e-6) and hits[0].lexical > 0


def test_results_are_grouped_by_book_best_book_first_chapters_in_order(library: PgLibrary) -> None:
    # Similarities: Statistics 1 = 1.0, Valuation 2 = 0.96, Statistics 2 = 0.8, Valuation 1 = 0.6.
    hits = library.search(unit(0.6, 0.8, 0, 0), KIND, ALL, caller=READER)
    assert found(hits) == [("Statistics", 1), ("Statistics", 2), ("Valuation", 1), ("Valuation", 2)]


def test_max_per_book_makes_room_for_other_books(library: PgLibrary) -> None:
    hits = library.search(
        unit(1, 0, 0, 0), KIND, SearchParams(top_k=2, min_similarity=0.0, max_per_book=1), caller=READER
    )
    assert found(hits) == [("Valuation", 1), ("Statistics", 1)]


def test_searching_a_library_never_loaded_says_it_is_empty(pg_conn_factory: ConnectionFactory) -> None:
    with pytest.raises(EmptyLibrary, match="the library is empty"):
        PgLibrary(pg_conn_factory).search(unit(1, 0, 0, 0), KIND, ALL, caller=READER)


def test_searching_a_library_whose_books_were_all_removed_says_it_is_empty(library: PgLibrary) -> None:
    for info in library.list_books():
        library.remove(info.id)
    for embedder in (KIND, "other:4"):  # an empty library is empty whatever the query's embedder
        with pytest.raises(EmptyLibrary, match="the library is empty"):
            library.search(unit(1, 0, 0, 0), embedder, ALL, caller=READER)


def test_removing_a_book_by_id_or_title_takes_its_chapters_and_leaves_the_rest(library: PgLibrary) -> None:
    removed = library.remove("Statistics")
    assert (removed.id, removed.title, removed.chapters) == (book_id(STATISTICS), "Statistics", 2)
    assert [info.title for info in library.list_books()] == ["Cooking", "Valuation"]
    assert library.chapter_titles(book_id(STATISTICS)) == {}
    assert library.stats().chapters == 4
    # Statistics 1 was the second-best chapter for this query; searches no longer see it.
    assert found(library.search(unit(0.6, 0.8, 0, 0), KIND, ALL, caller=READER)) == [
        ("Valuation", 1),
        ("Valuation", 2),
    ]
    assert library.remove(book_id(COOKING)).title == "Cooking"
    assert [info.title for info in library.list_books()] == ["Valuation"]


def test_removing_an_unknown_book_is_refused_and_changes_nothing(library: PgLibrary) -> None:
    with pytest.raises(LibraryError, match="no book has the id or title 'statistics'"):
        library.remove("statistics")  # titles match exactly
    assert library.stats().chapters == 6


def test_removing_by_a_title_two_books_share_is_refused_naming_their_ids(library: PgLibrary) -> None:
    other = make_book("Valuation", ["comparables"], author="B. Writer")
    library.load_books([other], [[unit(0, 0, 1, 0)]], KIND)
    with pytest.raises(LibraryError, match="2 books are titled 'Valuation'") as refused:
        library.remove("Valuation")
    assert book_id(VALUATION) in str(refused.value) and book_id(other) in str(refused.value)
    assert library.stats().books == 4
    assert library.remove(book_id(other)).author == "B. Writer"
    assert library.chapter_titles(book_id(VALUATION)) == {1: "dcf", 2: "free cash flow", 3: "options"}


def test_a_query_from_another_embedder_is_refused(library: PgLibrary) -> None:
    with pytest.raises(EmbedderMismatch, match="coursegen library reindex"):
        library.search(unit(1, 0, 0, 0), "other:4", ALL, caller=READER)


def test_a_query_of_another_dimension_is_refused(library: PgLibrary) -> None:
    with pytest.raises(EmbedderMismatch, match="4 dimensions"):
        library.search(unit(1, 0, 0), KIND, ALL, caller=READER)


def test_books_embedded_by_another_embedder_are_refused_and_nothing_changes(library: PgLibrary) -> None:
    with pytest.raises(EmbedderMismatch):
        library.load_books([make_book("Other", ["x"])], [[unit(1, 0, 0, 0)]], "other:4")
    assert [info.title for info in library.list_books()] == ["Cooking", "Statistics", "Valuation"]
    assert library.stats().embedder_kind == KIND


class FailingConnection:
    """Passes statements through until `fails` says otherwise: a crash in the middle of a load."""

    def __init__(self, conn: Any, fails: Any) -> None:
        self._conn, self._fails = conn, fails

    def run(self, sql: str, **params: Any) -> Any:
        if self._fails(sql, params):
            raise ConnectionError("lost the database in the middle of a load")
        return self._conn.run(sql, **params)

    def close(self) -> None:
        self._conn.close()


def test_a_load_that_fails_midway_leaves_the_library_unchanged(
    library: PgLibrary, pg_conn_factory: ConnectionFactory
) -> None:
    before = (library.list_books(), library.search(unit(1, 0, 0, 0), KIND, ALL, caller=READER))
    changed_valuation = make_book("Valuation", ["only one chapter now"])
    newcomer = make_book("Newcomer", ["a", "b"])

    def fails(sql: str, params: dict[str, Any]) -> bool:
        return sql.startswith("INSERT INTO chapters") and params.get("id") == book_id(newcomer)

    failing = PgLibrary(lambda: FailingConnection(pg_conn_factory(), fails))
    with pytest.raises(ConnectionError):
        failing.load_books([changed_valuation, newcomer], [[unit(0, 0, 1, 1)], [unit(1, 1, 0, 0)] * 2], KIND)
    assert (library.list_books(), library.search(unit(1, 0, 0, 0), KIND, ALL, caller=READER)) == before


@pytest.mark.parametrize(
    ("vectors", "problem"),
    [
        ([[unit(1, 0, 0, 0)], [unit(1, 0, 0, 0)]], "one vector per chapter"),
        ([[unit(1, 0, 0, 0)], [unit(1, 0, 0, 0), [math.nan, 0, 0, 0]]], "NaN"),
        ([[unit(1, 0, 0, 0)], [unit(1, 0, 0, 0), unit(1, 0, 0)]], "one non-zero dimension"),
    ],
)
def test_a_malformed_batch_is_refused_before_anything_is_written(
    pg_conn_factory: ConnectionFactory, vectors: list[list[list[float]]], problem: str
) -> None:
    lib = PgLibrary(pg_conn_factory)
    with pytest.raises(LibraryError, match=problem):
        lib.load_books([make_book("One", ["a"]), make_book("Two", ["b", "c"])], vectors, KIND)
    assert lib.stats().books == 0


def test_the_same_book_twice_in_one_batch_is_refused(pg_conn_factory: ConnectionFactory) -> None:
    twice = make_book("Twice", ["a"])
    with pytest.raises(LibraryError, match="appears twice"):
        PgLibrary(pg_conn_factory).load_books([twice, twice], [[unit(1, 0, 0, 0)]] * 2, KIND)


def test_loading_a_book_again_replaces_its_chapters(library: PgLibrary) -> None:
    library.load_books([make_book("Valuation", ["multiples"])], [[unit(1, 0, 0, 0)]], KIND)
    valuation = next(info for info in library.list_books() if info.title == "Valuation")
    assert valuation.chapters == 1
    hits = library.search(unit(1, 0, 0, 0), KIND, ALL, caller=READER)
    assert ("Valuation", 1, "multiples") in [(h.book_title, h.chapter_number, h.chapter_title) for h in hits]
    assert ("Valuation", 2) not in found(hits)


def test_list_books_and_stats_describe_the_library(library: PgLibrary) -> None:
    assert [(info.title, info.chapters) for info in library.list_books()] == [
        ("Cooking", 1),
        ("Statistics", 2),
        ("Valuation", 3),
    ]
    stats = library.stats()
    assert (stats.books, stats.chapters, stats.embedder_kind, stats.dimension) == (3, 6, KIND, 4)


def test_hostile_text_is_stored_and_returned_verbatim(pg_conn_factory: ConnectionFactory) -> None:
    hostile = "Robert'); DROP TABLE books; -- :id $1 %s \\x \u00e9\U0001f4da"
    lib = PgLibrary(pg_conn_factory)
    lib.load_books([make_book(hostile, [hostile], author=hostile)], [[unit(1, 0, 0, 0)]], KIND)
    [hit] = lib.search(unit(1, 0, 0, 0), KIND, ALL, caller=READER)
    assert (hit.book_title, hit.chapter_title, hit.topics) == (hostile, hostile, [hostile])
    assert [info.author for info in lib.list_books()] == [hostile]


def test_the_search_query_can_use_the_hnsw_index(
    library: PgLibrary, pg_conn_factory: ConnectionFactory
) -> None:
    # A tiny library is scanned exactly (cheaper); with seq scans priced out, the plan shows
    # that the search expression matches the index expression.
    assert plan(pg_conn_factory, 4, seqscan=False).count(index_name(4)) == 1


@pytest.mark.slow
def test_a_large_enough_library_is_searched_through_the_hnsw_index(
    pg_conn_factory: ConnectionFactory,
) -> None:
    rnd = random.Random(7)
    books = [make_book(f"Book {b}", [f"chapter {c}" for c in range(100)]) for b in range(30)]
    vectors = [[unit(*(rnd.gauss(0, 1) for _ in range(8))) for _ in book.chapters] for book in books]
    lib = PgLibrary(pg_conn_factory)
    lib.load_books(books, vectors, "fake:8")
    assert index_name(8) in plan(pg_conn_factory, 8)
    assert (
        len(lib.search(vectors[0][0], "fake:8", SearchParams(min_similarity=-1.0), caller=READER))
        == SearchParams.top_k
    )


def plan(factory: ConnectionFactory, dimension: int, seqscan: bool = True) -> str:
    params = SearchParams()
    with closing(factory()) as conn:
        conn.run("BEGIN")
        conn.run("SELECT set_config('hnsw.ef_search', :v, true)", v=str(params.ef_search))
        conn.run("SELECT set_config('enable_seqscan', :v, true)", v="on" if seqscan else "off")
        rows = conn.run(
            "EXPLAIN " + search_sql(dimension),
            query=vector_literal(unit(*([1.0] + [0.0] * (dimension - 1)))),
            any_term="chapter | dcf",
            words="chapter dcf",
            candidates=params.ef_search,
            min_similarity=params.min_similarity,
            common_chapters=params.common_term_chapters,
            rrf_k=params.rrf_k,
            max_per_book=params.max_per_book,
            top_k=params.top_k,
            caller=READER,
        )
        conn.run("ROLLBACK")
    return "\n".join(row[0] for row in rows)


def test_vectors_too_wide_for_hnsw_are_still_searchable(pg_conn_factory: ConnectionFactory) -> None:
    wide = [1.0] + [0.0] * 2000
    lib = PgLibrary(pg_conn_factory)
    lib.load_books([make_book("Wide", ["a"])], [[wide]], "wide:2001")
    assert found(lib.search(wide, "wide:2001", ALL, caller=READER)) == [("Wide", 1)]
    with closing(pg_conn_factory()) as conn:
        assert conn.run("SELECT indexname FROM pg_indexes WHERE indexname LIKE 'chapters_embedding%'") == []


def test_an_emptied_library_may_be_reloaded_with_another_embedder(
    library: PgLibrary, pg_conn_factory: ConnectionFactory
) -> None:
    with closing(pg_conn_factory()) as conn:
        conn.run("DELETE FROM books")
    library.load_books([make_book("Fresh", ["a"])], [[unit(1, 0, 0)]], "other:3")
    assert library.stats().embedder_kind == "other:3"
    assert found(library.search(unit(1, 0, 0), "other:3", ALL, caller=READER)) == [("Fresh", 1)]
    with closing(pg_conn_factory()) as conn:
        names = {row[0] for row in conn.run("SELECT indexname FROM pg_indexes WHERE tablename = 'chapters'")}
    assert index_name(3) in names and index_name(4) not in names


class RecordingEmbedder(Embedder):
    """Maps each text to a fixed vector by keyword, and remembers what it was asked to embed."""

    name = "recording"
    dimension = 4

    def __init__(self) -> None:
        self.texts: list[str] = []

    def embed(self, texts: list[str]) -> list[list[float]]:
        self.texts += texts
        return [unit(1, 0, 0, 0) if "dcf" in text.lower() else unit(0, 1, 0, 0) for text in texts]


def test_load_embeds_each_chapters_text_with_the_given_embedder(pg_conn_factory: ConnectionFactory) -> None:
    embedder = RecordingEmbedder()
    lib = PgLibrary(pg_conn_factory)
    infos = lib.load([VALUATION, COOKING], embedder)
    assert [(info.id, info.chapters) for info in infos] == [(book_id(VALUATION), 3), (book_id(COOKING), 1)]
    assert embedder.texts == [chapter_text(c) for book in (VALUATION, COOKING) for c in book.chapters]
    assert lib.stats().embedder_kind == "recording:4"
    assert found(lib.search(unit(1, 0, 0, 0), "recording:4", SearchParams(top_k=1), caller=READER)) == [
        ("Valuation", 1)
    ]


def test_the_offline_embedder_finds_the_relevant_sample_chapters(pg_conn_factory: ConnectionFactory) -> None:
    paths = sorted(SAMPLES.glob("*.json"))
    embedder = WordLlamaEmbedder()
    lib = PgLibrary(pg_conn_factory)
    lib.load([read_book_file(path) for path in paths], embedder)
    [query] = embedder.embed(["Learn DCF valuation: free cash flow, discount rates and terminal value"])
    hits = lib.search(query, embedder.kind, SearchParams(), caller=READER)
    assert hits, "nothing found"
    best = max(hits, key=lambda hit: hit.similarity)
    assert hits[0].book_id == best.book_id  # the best book comes first
    assert best.book_id == book_id(read_book_file(SAMPLES / "corporate-finance-valuation.json"))


def test_an_embedder_that_returns_too_few_vectors_is_refused(pg_conn_factory: ConnectionFactory) -> None:
    class Forgetful(RecordingEmbedder):
        def embed(self, texts: list[str]) -> list[list[float]]:
            return super().embed(texts)[:-1]

    lib = PgLibrary(pg_conn_factory)
    with pytest.raises(LibraryError, match="returned 3 vectors for 4 texts"):
        lib.load([VALUATION, COOKING], Forgetful())
    assert lib.stats().books == 0


def backends(factory: ConnectionFactory) -> int:
    """Other connections to this test's database."""
    with closing(factory()) as conn:
        return int(
            conn.run(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )[0][0]
        )


def test_searches_reuse_one_idle_connection(library: PgLibrary, pg_conn_factory: ConnectionFactory) -> None:
    for _ in range(3):
        library.search(unit(1, 0, 0, 0), KIND, ALL, caller=READER)
    assert backends(pg_conn_factory) == 1


def test_a_search_after_the_server_dropped_its_idle_connection_still_succeeds(
    library: PgLibrary, pg_conn_factory: ConnectionFactory
) -> None:
    before = library.search(unit(1, 0, 0, 0), KIND, ALL, caller=READER)
    with closing(pg_conn_factory()) as conn:  # what a restart, a failover or an idle timeout does
        conn.run(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    assert library.search(unit(1, 0, 0, 0), KIND, ALL, caller=READER) == before


def test_an_index_build_may_outlast_the_connections_timeout(pg_database: ConnInfo) -> None:
    conn = connect(replace(pg_database, timeout=0.2))
    with closing(conn):
        with patient(conn, 5.0):
            conn.run("SELECT pg_sleep(0.5)")  # a build over a large library takes minutes
        with pytest.raises(Exception, match="timed out"):
            conn.run("SELECT pg_sleep(0.5)")  # every other statement keeps the timeout


def test_the_index_is_built_with_the_configured_hnsw_parameters(
    library: PgLibrary, pg_conn_factory: ConnectionFactory
) -> None:
    with closing(pg_conn_factory()) as conn:
        [[definition]] = conn.run("SELECT indexdef FROM pg_indexes WHERE indexname = :n", n=index_name(4))
    assert f"m='{IndexParams().m}'" in definition
    assert f"ef_construction='{IndexParams().ef_construction}'" in definition
