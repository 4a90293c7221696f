"""Hybrid search against a real PostgreSQL: full-text candidates fused with the vector ones in one
statement, the evidence each chapter carries, and the upgrade of a library loaded before it."""

from __future__ import annotations

from contextlib import closing
from dataclasses import replace

from chalicelib.adapters.migrate import available_migrations, migrate
from chalicelib.adapters.pg import ConnectionFactory, ConnInfo, connect, connection_factory
from chalicelib.adapters.pg_library import PgLibrary
from chalicelib.core.books import Book, Chapter
from chalicelib.core.retrieval import query_terms, relevant_chapters, search_text
from chalicelib.ports import SearchParams
from tests.support.library_rows import insert_books
from tests.support.search_plans import search_plan, unit

READER = "reader"  # the user searches are made for: sees the shared books, owns none

KIND = "fake:4"


def chapter(number: int, title: str, topics: list[str], summary: str) -> Chapter:
    return Chapter(number=number, title=title, summary=summary, topics=topics, key_concepts=[])


ECONOMICS = Book(
    title="Principles of Economics",
    author="A. Author",
    chapters=[
        chapter(
            1, "Monopoly", ["How a Monopoly Chooses Output and Price"], "A single seller sets the price."
        ),
        chapter(
            2, "Perfect Competition", ["Entry and Exit", "Efficiency"], "Many firms take the price as given."
        ),
        chapter(3, "Labour Markets", ["Wages"], "Workers supply labour and firms demand it."),
    ],
)
PROGRAMMING = Book(
    title="Programming in Python",
    author="B. Author",
    chapters=[chapter(1, "Classes", ["Objects", "Methods"], "A class bundles data with behaviour.")],
)
# The query vector is (1, 0, 0, 0). Perfect Competition's embedding is deliberately weak (0.5)
# and Classes' deliberately strong (0.8): only the words tell them apart.
VECTORS = [
    [unit(1, 0.2, 0, 0), unit(0.5, 0, 0.866, 0), unit(0.45, 0, 0, 0.893)],
    [unit(0.8, 0, 0.6, 0)],
]
QUERY = "Market structures: perfect competition and monopoly"


def search(library: PgLibrary, query: str = QUERY) -> list[tuple[str, int, list[str]]]:
    terms = query_terms(search_text(query))
    hits = library.search(unit(1, 0, 0, 0), KIND, SearchParams(), terms, caller=READER)
    return [(hit.book_title, hit.chapter_number, hit.named) for hit in hits]


def chosen(library: PgLibrary, query: str = QUERY) -> list[tuple[str, int]]:
    terms = query_terms(search_text(query))
    params = SearchParams()
    hits = relevant_chapters(
        library.search(unit(1, 0, 0, 0), KIND, params, terms, caller=READER), terms, params.evidence()
    )
    return [(hit.book_title, hit.chapter_number) for hit in hits]


def test_chapters_carry_the_query_terms_their_titles_and_topics_name(
    pg_conn_factory: ConnectionFactory,
) -> None:
    library = PgLibrary(pg_conn_factory)
    library.load_books([ECONOMICS, PROGRAMMING], VECTORS, KIND)
    hits = {(title, number): named for title, number, named in search(library)}
    assert hits[("Principles of Economics", 1)] == ["monopoli"]  # stemmed as the text search does
    assert hits[("Principles of Economics", 2)] == ["competit", "perfect"]
    assert hits[("Programming in Python", 1)] == []


def test_a_named_chapter_enters_and_an_unnamed_similar_one_does_not(
    pg_conn_factory: ConnectionFactory,
) -> None:
    library = PgLibrary(pg_conn_factory)
    library.load_books([ECONOMICS, PROGRAMMING], VECTORS, KIND)
    assert chosen(library) == [("Principles of Economics", 1), ("Principles of Economics", 2)]


def test_a_chapter_only_the_words_find_is_a_candidate(pg_conn_factory: ConnectionFactory) -> None:
    # With a single vector candidate, the HNSW side finds Monopoly only; the text side adds
    # Perfect Competition with its cosine computed all the same.
    library = PgLibrary(pg_conn_factory)
    library.load_books([ECONOMICS, PROGRAMMING], VECTORS, KIND)
    terms = query_terms(QUERY)
    hits = library.search(
        unit(1, 0, 0, 0), KIND, SearchParams(ef_search=1, top_k=1, max_per_book=5), terms, caller=READER
    )
    assert [(h.chapter_title, round(h.similarity, 3)) for h in hits] == [("Monopoly", 0.981)]
    hits = library.search(
        unit(1, 0, 0, 0), KIND, SearchParams(ef_search=1, top_k=2, max_per_book=5), terms, caller=READER
    )
    assert [(h.chapter_title, round(h.similarity, 3), h.named) for h in hits] == [
        ("Monopoly", 0.981, ["monopoli"]),
        ("Perfect Competition", 0.5, ["competit", "perfect"]),
    ]


def test_query_words_that_look_like_query_syntax_are_only_words(pg_conn_factory: ConnectionFactory) -> None:
    library = PgLibrary(pg_conn_factory)
    library.load_books([ECONOMICS, PROGRAMMING], VECTORS, KIND)
    assert search(library, "monopoly & !perfect | (competition):* <-> 'x'") != []
    assert search(library, "the and of") != []  # no terms at all: vectors alone


def test_the_statement_uses_both_indexes(pg_conn_factory: ConnectionFactory) -> None:
    library = PgLibrary(pg_conn_factory)
    library.load_books([ECONOMICS, PROGRAMMING], VECTORS, KIND)
    plan = search_plan(pg_conn_factory, "perfect competition", READER)
    assert "chapters_embedding_hnsw_4" in plan and "chapters_named_terms_gin" in plan


def test_a_library_loaded_before_the_text_index_is_upgraded_in_place(pg_empty_database: ConnInfo) -> None:
    factory = connection_factory(pg_empty_database)
    before = [m for m in available_migrations() if m.version < "003"]
    migrate(factory, before)
    with closing(connect(pg_empty_database)) as conn:
        assert not conn.run(
            "SELECT 1 FROM information_schema.columns"
            " WHERE table_name = 'chapters' AND column_name = 'search_terms'"
        )
    library = PgLibrary(factory)
    with closing(connect(pg_empty_database)) as conn:  # as the loader of before wrote them
        insert_books(conn, [ECONOMICS, PROGRAMMING], VECTORS, KIND)
    assert migrate(factory) == [m.version for m in available_migrations() if m.version >= "003"]
    assert chosen(library) == [("Principles of Economics", 1), ("Principles of Economics", 2)]
    # a book loaded after the upgrade is searchable by its words too: the column is generated
    library.load_books(
        [
            Book(
                title="Market Structures",
                author="C. Author",
                chapters=[chapter(1, "Oligopoly", ["Cartels"], "x")],
            )
        ],
        [[unit(0.1, 0, 0, 1)]],
        KIND,
    )
    assert ("Market Structures", 1, ["oligopoli"]) in search(library, "market structures: oligopoly")


def test_a_term_in_most_titles_finds_no_candidates_but_a_rare_one_does(
    pg_conn_factory: ConnectionFactory,
) -> None:
    # "systems" names five of six chapters; with a limit of 2 chapters a term, only the rare
    # "lymphatic" finds text candidates (the vector side is kept out: no vector is near).
    organs = ["Nervous", "Muscular", "Digestive", "Urinary", "Lymphatic"]
    book = Book(
        title="Anatomy",
        author="D. Author",
        chapters=[chapter(n, f"The {organ} Systems", [], "x") for n, organ in enumerate(organs, 1)]
        + [chapter(6, "Cells", [], "x")],
    )
    library = PgLibrary(pg_conn_factory)
    library.load_books([book], [[unit(0, 0, 0, 1)] * 6], KIND)
    with closing(pg_conn_factory()) as conn:
        conn.run("ANALYZE chapters")  # the statistics that say which terms are common
    params = SearchParams(min_similarity=0.5, common_term_chapters=2)
    hits = library.search(unit(1, 0, 0, 0), KIND, params, ["lymphatic", "systems"], caller=READER)
    assert [(h.chapter_title, h.named) for h in hits] == [("The Lymphatic Systems", ["lymphat", "system"])]
    everything = library.search(
        unit(1, 0, 0, 0), KIND, replace(params, common_term_chapters=500), ["systems"], caller=READER
    )
    assert len(everything) == 5
