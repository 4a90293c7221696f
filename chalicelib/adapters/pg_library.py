"""PgLibrary: the learner's books in PostgreSQL, searched by cosine similarity with pgvector.

The dimension is known only once the first book is embedded, so `chapters.embedding` is an
untyped `vector`. Loading records the embedder and dimension in `library_meta` and creates an
expression HNSW index on `(embedding::vector(d))`; searches order by that same expression, so the
planner can use the index. Below a few thousand chapters it rightly prefers an exact scan (faster
there, and exact). HNSW covers at most 2,000 dimensions; larger vectors are always scanned.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate

from chalicelib.adapters.book_files import Book, book_id, chapter_text
from chalicelib.adapters.pg import Connection, ConnectionFactory, session, transaction
from chalicelib.core.models import ChapterHit
from chalicelib.errors import EmbedderMismatch, LibraryError
from chalicelib.ports import Embedder, Library, SearchParams

MAX_INDEXED_DIMENSION = 2000  # pgvector's HNSW limit for the `vector` type
_LOAD_LOCK_KEY = 0x6C696272617279  # "library": loads run one at a time


def index_name(dimension: int) -> str:
    return f"chapters_embedding_hnsw_{int(dimension)}"


def search_sql(dimension: int) -> str:
    """The search statement; the dimension is a type modifier, which cannot be a parameter."""
    d = int(dimension)
    return f"""
WITH nearest AS MATERIALIZED (
    SELECT book_id, number, (embedding::vector({d})) <=> CAST(:query AS vector({d})) AS distance
    FROM chapters
    ORDER BY (embedding::vector({d})) <=> CAST(:query AS vector({d}))
    LIMIT :candidates
), ranked AS (
    SELECT book_id, number, 1 - distance AS similarity,
           row_number() OVER (PARTITION BY book_id ORDER BY distance, number) AS rank_in_book
    FROM nearest
    WHERE 1 - distance >= :min_similarity
)
SELECT r.book_id, b.title, r.number, c.title, c.summary, c.topics, c.key_concepts, r.similarity
FROM ranked r
JOIN chapters c ON c.book_id = r.book_id AND c.number = r.number
JOIN books b ON b.id = r.book_id
WHERE r.rank_in_book <= :max_per_book
ORDER BY r.similarity DESC, r.book_id, r.number
LIMIT :top_k
"""


@dataclass(frozen=True)
class BookInfo:
    id: str
    title: str
    author: str
    chapters: int


@dataclass(frozen=True)
class LibraryStats:
    books: int
    chapters: int
    embedder_kind: str | None
    dimension: int | None


def vector_literal(vector: Sequence[float]) -> str:
    """pgvector's text form; 9 significant digits round-trip the float4 it stores."""
    return "[" + ",".join(format(float(x), ".9g") for x in vector) + "]"


def group_by_book(hits: list[ChapterHit]) -> list[ChapterHit]:
    """Books in the order of their best hit; chapters of a book by chapter number."""
    books: dict[str, list[ChapterHit]] = {}
    for hit in sorted(hits, key=lambda hit: -hit.similarity):
        books.setdefault(hit.book_id, []).append(hit)
    return [hit for group in books.values() for hit in sorted(group, key=lambda hit: hit.chapter_number)]


class PgLibrary(Library):
    """Books and chapters in PostgreSQL; one short-lived connection per call."""

    def __init__(self, connect: ConnectionFactory) -> None:
        self._connect = connect

    # --- search ---------------------------------------------------------------------------

    def search(self, embedding: list[float], embedder: str, params: SearchParams) -> list[ChapterHit]:
        with session(self._connect) as conn, transaction(conn):
            meta = conn.run("SELECT embedder_kind, dimension FROM library_meta")
            if not meta:
                return []  # nothing loaded yet: the caller reports "no books found"
            kind, dimension = meta[0]
            if kind != embedder or dimension != len(embedding):
                raise EmbedderMismatch(
                    f"the library was indexed with embedder {kind!r} ({dimension} dimensions) but the "
                    f"query was embedded with {embedder!r} ({len(embedding)} dimensions): re-index the "
                    "library with the query's embedder (`coursegen library reindex` with the same "
                    "COURSEGEN_EMBEDDER), or set COURSEGEN_EMBEDDER back to the library's"
                )
            # The index scan yields at most ef_search rows, so it must cover every candidate.
            candidates = max(params.ef_search, params.top_k)
            conn.run("SELECT set_config('hnsw.ef_search', :value, true)", value=str(candidates))
            rows = conn.run(
                search_sql(dimension),
                query=vector_literal(embedding),
                candidates=candidates,
                min_similarity=float(params.min_similarity),
                max_per_book=params.max_per_book,
                top_k=params.top_k,
            )
        hits = [
            ChapterHit(
                book_id=row[0],
                book_title=row[1],
                chapter_number=row[2],
                chapter_title=row[3],
                summary=row[4],
                topics=list(row[5]),
                key_concepts=list(row[6]),
                similarity=float(row[7]),
            )
            for row in rows
        ]
        return group_by_book(hits)

    # --- loading --------------------------------------------------------------------------

    def load(self, books: list[Book], embedder: Embedder) -> list[BookInfo]:
        """Embed every chapter and load all books in one transaction (all or nothing)."""
        texts = [chapter_text(chapter) for book in books for chapter in book.chapters]
        flat = embedder.embed(texts)
        if len(flat) != len(texts):
            raise LibraryError(
                f"embedder {embedder.kind!r} returned {len(flat)} vectors for {len(texts)} texts"
            )
        ends = list(accumulate(len(book.chapters) for book in books))
        vectors = [flat[end - len(book.chapters) : end] for book, end in zip(books, ends, strict=True)]
        return self.load_books(books, vectors, embedder.kind)

    def load_books(
        self, books: list[Book], vectors: list[list[list[float]]], embedder_kind: str
    ) -> list[BookInfo]:
        """Upsert `books` with `vectors[i][j]` for chapter j of book i; a book loaded again is
        replaced. Nothing is written unless every book is."""
        dimension = _check_batch(books, vectors, embedder_kind)
        new_chapters = sum(len(book.chapters) for book in books)
        with session(self._connect) as conn, transaction(conn):
            conn.run("SELECT pg_advisory_xact_lock(:key)", key=_LOAD_LOCK_KEY)
            _record_embedder(conn, embedder_kind, dimension)
            indexed = dimension <= MAX_INDEXED_DIMENSION
            existing = conn.run("SELECT count(*) FROM chapters")[0][0]
            # Building an HNSW index over all rows is ~5x faster than inserting into it row by
            # row, so a load that at least doubles the library rebuilds it. (Searches wait for
            # the load to commit meanwhile; loads are rare.)
            rebuild = indexed and new_chapters >= existing
            if rebuild:
                conn.run(f"DROP INDEX IF EXISTS {index_name(dimension)}")
            for book, book_vectors in zip(books, vectors, strict=True):
                _upsert_book(conn, book, book_vectors)
            if indexed:
                d = int(dimension)
                conn.run(
                    f"CREATE INDEX IF NOT EXISTS {index_name(d)} ON chapters"
                    f" USING hnsw ((embedding::vector({d})) vector_cosine_ops)"
                )
            if rebuild:
                conn.run("ANALYZE chapters")  # the planner picks the index only once it knows the size
        return [BookInfo(book_id(b), b.title, b.author, len(b.chapters)) for b in books]

    # --- inspection -----------------------------------------------------------------------

    def list_books(self) -> list[BookInfo]:
        with session(self._connect) as conn:
            rows = conn.run(
                "SELECT b.id, b.title, b.author, count(c.number) FROM books b"
                " LEFT JOIN chapters c ON c.book_id = b.id"
                " GROUP BY b.id ORDER BY lower(b.title), b.id"
            )
        return [BookInfo(id=r[0], title=r[1], author=r[2], chapters=int(r[3])) for r in rows]

    def stats(self) -> LibraryStats:
        with session(self._connect) as conn:
            books, chapters = conn.run(
                "SELECT (SELECT count(*) FROM books), (SELECT count(*) FROM chapters)"
            )[0]
            meta = conn.run("SELECT embedder_kind, dimension FROM library_meta")
        kind, dimension = meta[0] if meta else (None, None)
        return LibraryStats(books=int(books), chapters=int(chapters), embedder_kind=kind, dimension=dimension)


def _check_batch(books: list[Book], vectors: list[list[list[float]]], embedder_kind: str) -> int:
    """Refuse a malformed batch before touching the database; return the dimension."""
    if not books:
        raise LibraryError("no books to load")
    ids = [book_id(book) for book in books]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise LibraryError(f"the same book (title and author) appears twice in this batch: {repeated}")
    if len(vectors) != len(books) or any(
        len(v) != len(b.chapters) for b, v in zip(books, vectors, strict=False)
    ):
        raise LibraryError("need exactly one vector per chapter")
    dimensions = {len(vector) for book_vectors in vectors for vector in book_vectors}
    if len(dimensions) != 1 or 0 in dimensions:
        raise LibraryError(f"all vectors must have one non-zero dimension, got {sorted(dimensions)}")
    dimension = dimensions.pop()
    _, _, suffix = embedder_kind.rpartition(":")
    if suffix.isdigit() and int(suffix) != dimension:
        raise LibraryError(f"embedder {embedder_kind!r} made vectors of dimension {dimension}")
    if not all(math.isfinite(x) for book_vectors in vectors for vector in book_vectors for x in vector):
        raise LibraryError("a chapter vector holds NaN or infinity")
    return dimension


def _record_embedder(conn: Connection, kind: str, dimension: int) -> None:
    """Record the library's embedder on first load; an empty library may switch embedders."""
    meta = conn.run("SELECT embedder_kind, dimension FROM library_meta")
    if meta and tuple(meta[0]) != (kind, dimension):
        old_kind, old_dimension = meta[0]
        if conn.run("SELECT EXISTS (SELECT 1 FROM chapters)")[0][0]:
            raise EmbedderMismatch(
                f"the library was indexed with embedder {old_kind!r} ({old_dimension} dimensions); "
                f"these books were embedded with {kind!r} ({dimension} dimensions): load them with "
                "the library's embedder, or first re-index the library with this one "
                "(`coursegen library reindex`)"
            )
        conn.run(f"DROP INDEX IF EXISTS {index_name(old_dimension)}")
    conn.run(
        "INSERT INTO library_meta (embedder_kind, dimension) VALUES (:kind, :dimension)"
        " ON CONFLICT (singleton) DO UPDATE SET embedder_kind = EXCLUDED.embedder_kind,"
        " dimension = EXCLUDED.dimension, updated_at = now()"
        " WHERE (library_meta.embedder_kind, library_meta.dimension)"
        " IS DISTINCT FROM (EXCLUDED.embedder_kind, EXCLUDED.dimension)",
        kind=kind,
        dimension=dimension,
    )


def _upsert_book(conn: Connection, book: Book, vectors: list[list[float]]) -> None:
    identifier = book_id(book)
    conn.run(
        "INSERT INTO books (id, title, author, summary) VALUES (:id, :title, :author, :summary)"
        " ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title, author = EXCLUDED.author,"
        " summary = EXCLUDED.summary, loaded_at = now()",
        id=identifier,
        title=book.title,
        author=book.author,
        summary=book.summary,
    )
    # Replace the chapters wholesale: a reloaded book may have dropped or renumbered some.
    conn.run("DELETE FROM chapters WHERE book_id = :id", id=identifier)
    rows = [
        {
            "number": chapter.number,
            "title": chapter.title,
            "summary": chapter.summary,
            "topics": chapter.topics,
            "key_concepts": chapter.key_concepts,
            "sections": [section.model_dump() for section in chapter.sections],
            "embedding": vector_literal(vector),
        }
        for chapter, vector in zip(book.chapters, vectors, strict=True)
    ]
    # One statement per book: the rows travel as a single JSON parameter.
    conn.run(
        "INSERT INTO chapters (book_id, number, title, summary, topics, key_concepts, sections, embedding)"
        " SELECT :id, r.number, r.title, r.summary, r.topics, r.key_concepts, r.sections,"
        " CAST(r.embedding AS vector)"
        " FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(number integer, title text, summary text,"
        " topics jsonb, key_concepts jsonb, sections jsonb, embedding text)",
        id=identifier,
        rows=json.dumps(rows),
    )
