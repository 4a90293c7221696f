"""Re-index the library with another embedder: every chapter embedded again, then swapped in one
transaction, so a failure (model down, key refused, interrupted) leaves the old index in place."""

from __future__ import annotations

from collections.abc import Callable

from chalicelib.adapters.book_files import Book, BookSection, Chapter, chapter_text
from chalicelib.adapters.pg import ConnectionFactory, session, transaction
from chalicelib.adapters.pg_library import (
    _LOAD_LOCK_KEY,
    MAX_INDEXED_DIMENSION,
    _check_batch,
    _upsert_book,
    build_index,
    index_name,
)
from chalicelib.errors import LibraryError
from chalicelib.ports import Embedder

EMBED_BATCH = 256  # chapters per embed() call, so progress can be shown on a large library
Progress = Callable[[int, int], None]  # (chapters embedded, chapters in all)


def read_books(connect: ConnectionFactory) -> list[Book]:
    """Every book of the library, as the loader would have read it from its file."""
    with session(connect) as conn:
        books = conn.run("SELECT id, title, author, summary FROM books ORDER BY id")
        rows = conn.run(
            "SELECT book_id, number, title, summary, topics, key_concepts, sections"
            " FROM chapters ORDER BY book_id, number"
        )
    chapters: dict[str, list[Chapter]] = {}  # pg8000 returns jsonb as lists and dicts
    for book_id, number, title, summary, topics, key_concepts, sections in rows:
        chapters.setdefault(book_id, []).append(
            Chapter(
                number=number,
                title=title,
                summary=summary,
                topics=topics,
                key_concepts=key_concepts,
                sections=[BookSection(**section) for section in sections],
            )
        )
    return [
        Book(title=title, author=author, summary=summary, chapters=chapters[book_id])
        for book_id, title, author, summary in books
        if chapters.get(book_id)
    ]


def reindex(connect: ConnectionFactory, embedder: Embedder, progress: Progress | None = None) -> int:
    """Embed every chapter with `embedder` and replace the index; returns the chapter count."""
    books = read_books(connect)
    if not books:
        raise LibraryError("the library is empty: load books with `coursegen library load FILE...`")
    texts = [chapter_text(chapter) for book in books for chapter in book.chapters]
    flat: list[list[float]] = []
    for start in range(0, len(texts), EMBED_BATCH):
        batch = embedder.embed(texts[start : start + EMBED_BATCH])
        if len(batch) != len(texts[start : start + EMBED_BATCH]):
            raise LibraryError(f"embedder {embedder.kind!r} returned {len(batch)} vectors for a batch")
        flat += batch
        if progress:
            progress(len(flat), len(texts))
    vectors, offset = [], 0
    for book in books:
        vectors.append(flat[offset : offset + len(book.chapters)])
        offset += len(book.chapters)
    dimension = _check_batch(books, vectors, embedder.kind)
    with session(connect) as conn, transaction(conn):
        conn.run("SELECT pg_advisory_xact_lock(:key)", key=_LOAD_LOCK_KEY)
        meta = conn.run("SELECT dimension FROM library_meta")
        if meta:
            conn.run(f"DROP INDEX IF EXISTS {index_name(meta[0][0])}")
        conn.run(f"DROP INDEX IF EXISTS {index_name(dimension)}")
        conn.run(
            "INSERT INTO library_meta (embedder_kind, dimension) VALUES (:kind, :dimension)"
            " ON CONFLICT (singleton) DO UPDATE SET embedder_kind = EXCLUDED.embedder_kind,"
            " dimension = EXCLUDED.dimension, updated_at = now()",
            kind=embedder.kind,
            dimension=dimension,
        )
        # TRUNCATE rather than DELETE: an index build in this transaction would still see the
        # deleted rows, and their old vectors fail the new dimension's cast. TRUNCATE leaves no
        # such rows and is rolled back like everything else if a later statement fails.
        conn.run("TRUNCATE chapters")
        for book, book_vectors in zip(books, vectors, strict=True):
            _upsert_book(conn, book, book_vectors)
        if dimension <= MAX_INDEXED_DIMENSION:
            build_index(conn, dimension, len(texts))
        conn.run("ANALYZE chapters")
    return len(texts)
