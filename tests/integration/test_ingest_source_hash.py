"""The document hash (migration 002): a library loaded before it keeps its books, which keep
their ids; books derived from documents are found by their hash and reindexed with it."""

from __future__ import annotations

from contextlib import closing

from chalicelib.adapters.book_files import parse_book
from chalicelib.adapters.migrate import available_migrations, migrate
from chalicelib.adapters.pg import ConnInfo, connect, connection_factory
from chalicelib.adapters.pg_library import PgLibrary
from chalicelib.core.books import Book, book_id
from tests.support.fakes import FakeEmbedder

HASH = "ab" * 32


def book(title: str, source: str = "") -> Book:
    chapter = {"number": 1, "title": "Tides", "summary": "How tides rise and fall.", "topics": ["tides"]}
    return parse_book({"title": title, "author": "A. Sailor", "source_sha256": source, "chapters": [chapter]})


def test_a_library_from_before_the_hash_keeps_working(pg_empty_database: ConnInfo) -> None:
    first = [m for m in available_migrations() if m.version == "001"]
    with closing(connect(pg_empty_database)) as conn:
        migrate(conn, first)
    connect_db = connection_factory(pg_empty_database)
    old = book("Old Book")
    with closing(connect(pg_empty_database)) as conn:  # a load as the code before the hash made it
        conn.run(
            "INSERT INTO books (id, title, author) VALUES (:id, 'Old Book', 'A. Sailor')", id=book_id(old)
        )
        conn.run(
            "INSERT INTO chapters (book_id, number, title, summary, embedding)"
            " VALUES (:id, 1, 'Tides', 'How tides rise and fall.', '[1,0,0]')",
            id=book_id(old),
        )
        conn.run("INSERT INTO library_meta (embedder_kind, dimension) VALUES ('fake:3', 3)")
        assert "002" in migrate(conn)  # and every later migration
    library = PgLibrary(connect_db)
    assert [b.id for b in library.list_books()] == [book_id(old)]
    (kept,) = library.books()
    assert (kept.title, kept.source_sha256, book_id(kept)) == ("Old Book", "", book_id(old))  # same id
    assert library.find_source("") is None


def test_a_derived_book_is_found_by_its_hash_and_keeps_it_through_a_reindex(
    pg_empty_database: ConnInfo,
) -> None:
    with closing(connect(pg_empty_database)) as conn:
        migrate(conn)
    library = PgLibrary(connection_factory(pg_empty_database))
    embedder = FakeEmbedder()
    derived, edition_two = book("Sea Book", HASH), book("Sea Book", "cd" * 32)
    assert book_id(derived) != book_id(edition_two) != book_id(book("Sea Book"))
    library.load([derived, edition_two], embedder)
    found = library.find_source(HASH)
    assert found is not None and found.id == book_id(derived) and found.chapters == 1
    library.reindex(embedder)
    assert sorted(b.source_sha256 for b in library.books()) == sorted([HASH, "cd" * 32])
    assert library.find_source(HASH) is not None and library.find_source("ef" * 32) is None
