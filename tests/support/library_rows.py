"""Books written into the library's tables with plain SQL, as an older version of the loader
wrote them: for migration tests, where today's loader cannot run on the schema of before."""

from __future__ import annotations

import json

from chalicelib.adapters.pg import Connection
from chalicelib.adapters.pg_library import vector_literal
from chalicelib.core.books import Book, book_id


def insert_books(conn: Connection, books: list[Book], vectors: list[list[list[float]]], kind: str) -> None:
    """`books` with `vectors[i][j]` for chapter j of book i, and the embedder in library_meta,
    using only the columns of migration 001."""
    dimension = len(vectors[0][0])
    conn.run(
        "INSERT INTO library_meta (embedder_kind, dimension) VALUES (:k, :d) ON CONFLICT DO NOTHING",
        k=kind,
        d=dimension,
    )
    for book, book_vectors in zip(books, vectors, strict=True):
        conn.run(
            "INSERT INTO books (id, title, author, summary) VALUES (:id, :title, :author, :summary)",
            id=book_id(book),
            title=book.title,
            author=book.author,
            summary=book.summary,
        )
        for chapter, vector in zip(book.chapters, book_vectors, strict=True):
            conn.run(
                "INSERT INTO chapters (book_id, number, title, summary, topics, key_concepts, embedding)"
                " VALUES (:id, :n, :t, :s, CAST(:topics AS jsonb), CAST(:concepts AS jsonb),"
                " CAST(:v AS vector))",
                id=book_id(book),
                n=chapter.number,
                t=chapter.title,
                s=chapter.summary,
                topics=json.dumps(chapter.topics),
                concepts=json.dumps(chapter.key_concepts),
                v=vector_literal(vector),
            )
