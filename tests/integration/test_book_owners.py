"""Books a user uploads serve only that user: a real PostgreSQL library holding shared books and
books owned by two users, searched, listed, re-indexed and migrated."""

from __future__ import annotations

from contextlib import closing

import pytest

from chalicelib.adapters.migrate import available_migrations, migrate
from chalicelib.adapters.pg import ConnectionFactory, ConnInfo, connect, connection_factory
from chalicelib.adapters.pg_library import PgLibrary, index_name
from chalicelib.core.books import Book, Chapter, book_id
from chalicelib.errors import LibraryError
from chalicelib.ports import Embedder, SearchParams
from tests.support.library_rows import insert_books
from tests.support.search_plans import search_plan, unit

KIND = "fake:4"
ALL = SearchParams(top_k=50, min_similarity=-1.0, max_per_book=50)
ALICE, BOB = "alice-sub", "bob-sub"


def book(title: str, source: str = "") -> Book:
    chapters = [Chapter(number=1, title=f"{title} Monopoly", summary="Prices.", topics=["Monopoly"])]
    return Book(title=title, author="A. Author", source_sha256=source, chapters=chapters)


SHARED, ALICES, BOBS = book("Shared Economics"), book("Alice Notes"), book("Bob Notes")


@pytest.fixture
def library(pg_conn_factory: ConnectionFactory) -> PgLibrary:
    lib = PgLibrary(pg_conn_factory)
    lib.load_books([SHARED], [[unit(1, 0, 0, 0)]], KIND)
    lib.load_books([ALICES], [[unit(1, 0.1, 0, 0)]], KIND, owner=ALICE)
    lib.load_books([BOBS], [[unit(1, 0, 0.1, 0)]], KIND, owner=BOB)
    return lib


def titles(lib: PgLibrary, caller: str, terms: list[str] | None = None) -> set[str]:
    return {hit.book_title for hit in lib.search(unit(1, 0, 0, 0), KIND, ALL, terms or [], caller=caller)}


def test_a_search_sees_the_shared_books_and_the_callers_own_never_another_users(library: PgLibrary) -> None:
    assert titles(library, ALICE) == {"Shared Economics", "Alice Notes"}
    assert titles(library, BOB) == {"Shared Economics", "Bob Notes"}
    assert titles(library, "carol") == {"Shared Economics"}
    # the full-text side too: Bob's book named by the query's words still stays out
    assert titles(library, ALICE, ["bob", "monopoli"]) == {"Shared Economics", "Alice Notes"}


def test_a_user_lists_the_shared_books_and_their_own_and_the_operator_lists_all(library: PgLibrary) -> None:
    assert [(b.title, b.owner) for b in library.list_books(visible_to=ALICE)] == [
        ("Alice Notes", ALICE),
        ("Shared Economics", None),
    ]
    assert [b.owner for b in library.list_books()] == [ALICE, BOB, None]


def test_the_chapters_carry_their_books_owner(library: PgLibrary, pg_conn_factory: ConnectionFactory) -> None:
    with closing(pg_conn_factory()) as conn:
        rows = conn.run("SELECT b.owner, c.owner FROM books b JOIN chapters c ON c.book_id = b.id")
        assert sorted(rows, key=str) == sorted([[None, None], [ALICE, ALICE], [BOB, BOB]], key=str)
        # whatever a writer says, a chapter takes its book's owner (migration 005's trigger)
        conn.run("UPDATE chapters SET owner = :bob WHERE book_id = :id", bob=BOB, id=book_id(ALICES, ALICE))
        assert conn.run("SELECT owner FROM chapters WHERE book_id = :id", id=book_id(ALICES, ALICE)) == [
            [ALICE]
        ]


def test_one_document_two_uploaders_two_books_and_an_upload_again_replaces_its_own(
    pg_conn_factory: ConnectionFactory,
) -> None:
    # Two users uploading one document get a book each: making it shared would show one user's
    # upload to everyone. Loading it again for the same user replaces that user's book.
    lib = PgLibrary(pg_conn_factory)
    document = book("Sea Book", source="ab" * 32)
    for owner in (ALICE, BOB, ALICE):
        lib.load_books([document], [[unit(0, 1, 0, 0)]], KIND, owner=owner)
    listed = lib.list_books()
    assert sorted((b.owner, b.id) for b in listed) == sorted(
        [(ALICE, book_id(document, ALICE)), (BOB, book_id(document, BOB))]
    )
    assert len({b.id for b in listed}) == 2
    found = lib.find_source("ab" * 32, ALICE)
    assert found is not None and (found.id, found.owner) == (book_id(document, ALICE), ALICE)
    assert lib.find_source("ab" * 32, "carol") is None and lib.find_source("ab" * 32) is None
    # once the document is a shared book, every user finds that one first
    lib.load_books([document], [[unit(0, 1, 0, 0)]], KIND)
    shared = lib.find_source("ab" * 32, ALICE)
    assert shared is not None and (shared.id, shared.owner) == (book_id(document), None)


def test_a_blank_owner_is_refused(pg_conn_factory: ConnectionFactory) -> None:
    with pytest.raises(LibraryError, match="owner must be a user id"):
        PgLibrary(pg_conn_factory).load_books([SHARED], [[unit(1, 0, 0, 0)]], KIND, owner=" ")


class Doubling(Embedder):
    name, dimension = "doubling", 8

    def embed(self, texts: list[str]) -> list[list[float]]:
        return [unit(1, 0, 0, 0, 0, 0, 0, 0.1) for _ in texts]


def test_reindexing_keeps_each_books_owner(library: PgLibrary) -> None:
    before = sorted((b.id, b.owner) for b in library.list_books())
    library.reindex(Doubling())
    assert sorted((b.id, b.owner) for b in library.list_books()) == before
    hits = library.search(unit(1, 0, 0, 0, 0, 0, 0, 0.1), Doubling().kind, ALL, caller=BOB)
    assert {hit.book_title for hit in hits} == {"Shared Economics", "Bob Notes"}


def test_remove_takes_an_owned_book_by_id_and_names_owners_when_a_title_is_ambiguous(
    library: PgLibrary,
) -> None:
    library.load_books([book("Alice Notes")], [[unit(0, 0, 0, 1)]], KIND, owner=BOB)
    with pytest.raises(
        LibraryError, match=f"owned by {ALICE}.*owned by {BOB}|owned by {BOB}.*owned by {ALICE}"
    ):
        library.remove("Alice Notes")
    removed = library.remove(book_id(ALICES, ALICE))
    assert (removed.title, removed.owner) == ("Alice Notes", ALICE)
    assert titles(library, ALICE) == {"Shared Economics"}


def test_the_search_still_uses_the_hnsw_and_gin_indexes_with_the_owner_filter(
    library: PgLibrary, pg_conn_factory: ConnectionFactory
) -> None:
    plan = search_plan(pg_conn_factory, "monopoly", ALICE)
    assert index_name(4) in plan and "chapters_named_terms_gin" in plan
    assert "Seq Scan" not in plan


def test_a_library_of_before_owners_becomes_shared_in_place(pg_empty_database: ConnInfo) -> None:
    factory = connection_factory(pg_empty_database)
    migrate(factory, [m for m in available_migrations() if m.version < "005"])
    with closing(connect(pg_empty_database)) as conn:  # as the loader of before wrote them
        insert_books(conn, [SHARED, ALICES], [[unit(1, 0, 0, 0)], [unit(0, 1, 0, 0)]], KIND)
    assert "005" in migrate(factory)
    lib = PgLibrary(factory)
    assert [(b.title, b.owner) for b in lib.list_books(visible_to=BOB)] == [
        ("Alice Notes", None),
        ("Shared Economics", None),
    ]
    assert titles(lib, BOB) == {"Shared Economics", "Alice Notes"}
    with closing(connect(pg_empty_database)) as conn:
        assert conn.run("SELECT count(*) FROM chapters WHERE owner IS NOT NULL") == [[0]]
