"""PgLibrary: the learner's books in PostgreSQL, searched by cosine similarity with pgvector
fused with full-text search.

The dimension is known only once the first book is embedded, so `chapters.embedding` is an
untyped `vector`. Loading records the embedder and dimension in `library_meta` and creates an
expression HNSW index on `(embedding::vector(d))`; searches order by that same expression and
tell the planner to use the index (see `search`). HNSW covers at most 2,000 dimensions; larger
vectors are always scanned. Searches reuse a few idle connections.

A book has an optional owner: NULL for a shared book, else the user whose upload it is. A search
sees the shared books and the caller's own; the chapters carry their book's owner (migration 005),
so both index scans filter the rows they read.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

from ..core.books import Book, BookSection, Chapter, book_id, chapter_text
from ..core.models import ChapterHit
from ..core.retrieval import any_term_query
from ..errors import EmbedderMismatch, EmptyLibrary, LibraryError
from ..ports import (
    BookInfo,
    Embedder,
    Library,
    LibraryAdmin,
    LibraryStats,
    ReindexProgress,
    SearchParams,
)
from .pg import (
    Connection,
    ConnectionFactory,
    KeptConnections,
    patient,
    run_prepared,
    session,
    transaction,
)

MAX_INDEXED_DIMENSION = 2000  # pgvector's HNSW limit for the `vector` type
INDEX_BUILD_TIMEOUT = 3600.0  # seconds to wait for CREATE INDEX (100k 1536-d chapters: minutes)
_LOAD_LOCK_KEY = 0x6C696272617279  # "library": loads run one at a time
EMPTY_LIBRARY = "the library is empty: load books with `coursegen library load FILE...` first"


@dataclass(frozen=True)
class IndexParams:
    """How the HNSW index is built: denser than pgvector's defaults (m=16, ef_construction=64),
    which miss the recall target at the default ef_search, for a somewhat longer build; the
    comparison is in bench/RESULTS.md ("Vector search", from bench/vector_search.py)."""

    m: int = 24
    ef_construction: int = 100
    max_build_memory_mb: int = 2048  # cap on maintenance_work_mem for one build


def index_name(dimension: int) -> str:
    return f"chapters_embedding_hnsw_{int(dimension)}"


def create_index_sql(dimension: int, params: IndexParams | None = None) -> str:
    """The index the search statement is written for: HNSW over `embedding::vector(d)`."""
    d, p = int(dimension), params or IndexParams()
    return (
        f"CREATE INDEX IF NOT EXISTS {index_name(d)} ON chapters"
        f" USING hnsw ((embedding::vector({d})) vector_cosine_ops)"
        f" WITH (m = {int(p.m)}, ef_construction = {int(p.ef_construction)})"
    )


def build_memory_mb(chapters: int, dimension: int, params: IndexParams | None = None) -> int:
    """maintenance_work_mem for building the index over `chapters` rows: enough for the whole
    graph (each element holds its vector and about 2m neighbours at layer 0), so pgvector never
    falls back to its much slower on-disk build; never below PostgreSQL's 64 MB default."""
    p = params or IndexParams()
    per_element = 4 * int(dimension) + 8 + 2 * p.m * 8 + 256
    needed = math.ceil(chapters * per_element * 1.25 / 2**20)
    return max(64, min(needed, p.max_build_memory_mb))


def search_sql(dimension: int) -> str:
    """The hybrid search statement: the nearest chapters by the HNSW index and the best full-text
    matches by the GIN index, fused by reciprocal rank, in one statement. The dimension is a type
    modifier, which cannot be a parameter.

    Full-text candidates are the chapters whose title, topics or key concepts contain a query
    term, ranked by those names (title first; reading all their text for every candidate would
    cost more than the rest of the search on a large library). A term in the titles and topics
    of more than `common_chapters` chapters (by the planner's statistics) ranks but finds no
    candidates: it would match thousands of chapters, all of which would have to be ranked.
    Vector candidates below `min_similarity` count only if the text search found them too. Each
    returned chapter carries its cosine similarity (computed here for those only the text search
    found), its text rank over all its text, and the query terms (stemmed) its title, topics and
    key concepts name: the evidence `core.retrieval.select_relevant` judges.

    Only the shared chapters and the caller's own (`:caller`) are candidates on either side. The
    vector side's filter applies to the rows the HNSW scan returns; with pgvector 0.8 or later the
    search lets the scan go on until enough rows pass it (`hnsw.iterative_scan`), so other users'
    books never crowd the caller's candidates out. In the common case every row passes and the
    scan reads what it read before."""
    d = int(dimension)
    return f"""
WITH terms AS MATERIALIZED (
    SELECT tsvector_to_array(to_tsvector('english', :words)) AS lexemes
), common AS MATERIALIZED (
    SELECT array_agg(e.lexeme) AS lexemes
    FROM pg_stats s
    CROSS JOIN LATERAL unnest(s.most_common_elems::text::text[], s.most_common_elem_freqs)
        AS e(lexeme, share)
    CROSS JOIN (SELECT reltuples FROM pg_class WHERE oid = 'chapters'::regclass) t
    WHERE s.schemaname = current_schema() AND s.tablename = 'chapters' AND s.attname = 'named_terms'
      AND e.lexeme IS NOT NULL  -- the frequencies run three longer than the lexemes
      AND e.share * t.reltuples > :common_chapters
), query AS MATERIALIZED (
    SELECT to_tsquery('english', :any_term) AS any_term,
           array_to_string(ARRAY(
               SELECT l FROM unnest(terms.lexemes) l WHERE l <> ALL(coalesce(common.lexemes, '{{}}'))
           ), ' | ')::tsquery AS named_term,
           terms.lexemes
    FROM terms, common
), nearest AS MATERIALIZED (
    SELECT book_id, number, (embedding::vector({d})) <=> CAST(:query AS vector({d})) AS distance
    FROM chapters
    WHERE owner IS NULL OR owner = :caller
    ORDER BY (embedding::vector({d})) <=> CAST(:query AS vector({d}))
    LIMIT :candidates
), lexical AS MATERIALIZED (
    SELECT c.book_id, c.number, ts_rank(c.named_terms, q.any_term) AS text_rank
    FROM chapters c, query q
    WHERE c.named_terms @@ q.named_term AND (c.owner IS NULL OR c.owner = :caller)
    ORDER BY text_rank DESC, c.book_id, c.number
    LIMIT :candidates
), fused AS (
    SELECT book_id, number,
           coalesce(1.0 / (:rrf_k + n.rank), 0) + coalesce(1.0 / (:rrf_k + l.rank), 0) AS score
    FROM (SELECT book_id, number, row_number() OVER (ORDER BY distance, book_id, number) AS rank
          FROM nearest WHERE 1 - distance >= :min_similarity) n
    FULL JOIN (SELECT book_id, number,
                      row_number() OVER (ORDER BY text_rank DESC, book_id, number) AS rank
               FROM lexical) l
        USING (book_id, number)
), ranked AS (
    SELECT book_id, number, score,
           row_number() OVER (PARTITION BY book_id ORDER BY score DESC, number) AS rank_in_book
    FROM fused
), top AS (
    SELECT book_id, number, score FROM ranked
    WHERE rank_in_book <= :max_per_book
    ORDER BY score DESC, book_id, number
    LIMIT :top_k
)
SELECT t.book_id, b.title, t.number, c.title, c.summary, c.topics, c.key_concepts,
       1 - ((c.embedding::vector({d})) <=> CAST(:query AS vector({d}))) AS similarity,
       ts_rank(c.search_terms, q.any_term) AS lexical,
       ARRAY(SELECT u.lexeme FROM unnest(c.named_terms) u
             WHERE u.lexeme = ANY(q.lexemes) ORDER BY u.lexeme) AS named
FROM top t
JOIN chapters c ON c.book_id = t.book_id AND c.number = t.number
JOIN books b ON b.id = t.book_id
CROSS JOIN query q
ORDER BY t.score DESC, t.book_id, t.number
"""


def vector_literal(vector: Sequence[float]) -> str:
    """pgvector's text form; 9 significant digits round-trip the float4 it stores."""
    return "[" + ",".join(format(float(x), ".9g") for x in vector) + "]"


def group_by_book(hits: list[ChapterHit]) -> list[ChapterHit]:
    """Books in the order of their best hit; chapters of a book by chapter number."""
    books: dict[str, list[ChapterHit]] = {}
    for hit in sorted(hits, key=lambda hit: -hit.similarity):
        books.setdefault(hit.book_id, []).append(hit)
    return [hit for group in books.values() for hit in sorted(group, key=lambda hit: hit.chapter_number)]


def build_index(conn: Connection, dimension: int, chapters: int, params: IndexParams | None = None) -> None:
    """Create the search index (if missing) in the caller's transaction, with the memory and
    the time a build over `chapters` rows needs."""
    memory = build_memory_mb(chapters, dimension, params)
    conn.run("SELECT set_config('maintenance_work_mem', :v, true)", v=f"{memory}MB")
    with patient(conn, INDEX_BUILD_TIMEOUT):  # minutes over 100k chapters
        conn.run(create_index_sql(dimension, params))


class PgLibrary(Library, LibraryAdmin):
    """Books and chapters in PostgreSQL. Searches reuse idle connections; everything else opens
    a short-lived connection per call."""

    def __init__(self, connect: ConnectionFactory, index: IndexParams | None = None) -> None:
        self._connect = connect
        self._index = index or IndexParams()
        self._kept = KeptConnections(connect)  # searches reuse connections

    # --- search ---------------------------------------------------------------------------

    def search(
        self,
        embedding: list[float],
        embedder: str,
        params: SearchParams,
        terms: Sequence[str] = (),
        *,
        caller: str,
    ) -> list[ChapterHit]:
        with self._kept.session() as conn:
            rows = self._search(conn, embedding, embedder, params, terms, caller)
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
                lexical=float(row[8]),
                named=list(row[9]),
            )
            for row in rows
        ]
        return group_by_book(hits)

    @staticmethod
    def _search(
        conn: Connection,
        embedding: list[float],
        embedder: str,
        params: SearchParams,
        terms: Sequence[str],
        caller: str,
    ) -> list[list[Any]]:
        # The index scan yields at most ef_search rows, so it must cover every candidate.
        candidates = max(params.ef_search, params.top_k)
        with transaction(conn):
            # One round trip: the library's embedder, and this transaction's planner settings.
            # PostgreSQL prices an exact scan as if vectors were read for free, but 1536-d ones
            # live out of line (TOAST) and the scan is far slower (bench/RESULTS.md, query plans).
            # pgvector 0.8 and later can scan on past rows the owner filter drops (search_sql).
            meta = run_prepared(
                conn,
                "SELECT embedder_kind, dimension, set_config('hnsw.ef_search', :ef_search, true),"
                " set_config('enable_seqscan', 'off', true),"
                " (SELECT set_config('hnsw.iterative_scan', 'strict_order', true) FROM pg_extension"
                "  WHERE extname = 'vector' AND string_to_array(extversion, '.')::int[] >= '{0,8}')"
                " FROM library_meta",
                ef_search=str(candidates),
            )
            if not meta:
                raise EmptyLibrary(EMPTY_LIBRARY)
            kind, dimension = meta[0][:2]
            if kind != embedder or dimension != len(embedding):
                if not _holds_chapters(conn):
                    raise EmptyLibrary(EMPTY_LIBRARY)
                raise EmbedderMismatch(
                    f"the library was indexed with embedder {kind!r} ({dimension} dimensions) but the "
                    f"query was embedded with {embedder!r} ({len(embedding)} dimensions): re-index the "
                    "library with the query's embedder (`coursegen library reindex` with the same "
                    "COURSEGEN_EMBEDDER), or set COURSEGEN_EMBEDDER back to the library's"
                )
            rows = run_prepared(
                conn,
                search_sql(dimension),
                query=vector_literal(embedding),
                any_term=any_term_query(terms),
                words=" ".join(terms),
                common_chapters=params.common_term_chapters,
                candidates=candidates,
                min_similarity=float(params.min_similarity),
                rrf_k=params.rrf_k,
                max_per_book=params.max_per_book,
                top_k=params.top_k,
                caller=caller,
            )
            # Every book removed leaves the embedder recorded: say so rather than "nothing close".
            if not rows and not _holds_chapters(conn):
                raise EmptyLibrary(EMPTY_LIBRARY)
            return rows

    # --- loading --------------------------------------------------------------------------

    def load(self, books: list[Book], embedder: Embedder, owner: str | None = None) -> list[BookInfo]:
        """Embed every chapter and load all books in one transaction (all or nothing), shared
        (`owner` None) or `owner`'s own."""
        return self.load_books(books, _embed_chapters(books, embedder), embedder.kind, owner)

    def reindex(self, embedder: Embedder, progress: ReindexProgress | None = None) -> int:
        """Embed every chapter again with `embedder` and swap the vectors, the recorded embedder
        and the index in one transaction: a failure (model down, key refused, interrupted)
        leaves the old index in place. Returns the number of chapters."""
        owned = self._books()
        books = [book for book, _ in owned]
        if not books:
            raise LibraryError("the library is empty: load books with `coursegen library load FILE...`")
        vectors = _embed_chapters(books, embedder, progress)
        dimension = _check_batch(books, vectors, embedder.kind)
        chapters = sum(len(book.chapters) for book in books)
        with session(self._connect) as conn, transaction(conn):
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
            # TRUNCATE rather than DELETE: an index build in this transaction would still see
            # the deleted rows, and their old vectors fail the new dimension's cast. TRUNCATE
            # leaves no such rows and is rolled back like the rest if a later statement fails.
            conn.run("TRUNCATE chapters")
            for (book, owner), book_vectors in zip(owned, vectors, strict=True):
                _upsert_book(conn, book, book_vectors, owner)
            if dimension <= MAX_INDEXED_DIMENSION:
                build_index(conn, dimension, chapters, self._index)
            conn.run("ANALYZE chapters")
        return chapters

    def load_books(
        self,
        books: list[Book],
        vectors: list[list[list[float]]],
        embedder_kind: str,
        owner: str | None = None,
    ) -> list[BookInfo]:
        """Upsert `books` with `vectors[i][j]` for chapter j of book i, shared (`owner` None) or
        `owner`'s; a book loaded again is replaced. Nothing is written unless every book is."""
        if owner is not None and not owner.strip():
            raise LibraryError("a book's owner must be a user id, not blank (None: a shared book)")
        dimension = _check_batch(books, vectors, embedder_kind)
        new_chapters = sum(len(book.chapters) for book in books)
        with session(self._connect) as conn, transaction(conn):
            conn.run("SELECT pg_advisory_xact_lock(:key)", key=_LOAD_LOCK_KEY)
            _record_embedder(conn, embedder_kind, dimension)
            indexed = dimension <= MAX_INDEXED_DIMENSION
            existing = conn.run("SELECT count(*) FROM chapters")[0][0]
            # Building an HNSW index over all rows is much faster than inserting into it row by
            # row, so a load that at least doubles the library rebuilds it. (Searches wait for
            # the load to commit meanwhile; loads are rare.)
            rebuild = indexed and new_chapters >= existing
            if rebuild:
                conn.run(f"DROP INDEX IF EXISTS {index_name(dimension)}")
            for book, book_vectors in zip(books, vectors, strict=True):
                _upsert_book(conn, book, book_vectors, owner)
            if indexed:
                # an upper bound of the rows: a reloaded book counts twice
                build_index(conn, dimension, existing + new_chapters, self._index)
            if rebuild:
                conn.run("ANALYZE chapters")  # the planner picks the index only once it knows the size
        return [BookInfo(book_id(b, owner), b.title, b.author, len(b.chapters), owner) for b in books]

    # --- inspection -----------------------------------------------------------------------

    def list_books(self, visible_to: str | None = None) -> list[BookInfo]:
        """Every book (None), or those `visible_to` sees: the shared ones and their own."""
        with session(self._connect) as conn:
            rows = conn.run(
                "SELECT b.id, b.title, b.author, count(c.number), b.owner FROM books b"
                " LEFT JOIN chapters c ON c.book_id = b.id"
                " WHERE CAST(:caller AS text) IS NULL OR b.owner IS NULL OR b.owner = :caller"
                " GROUP BY b.id ORDER BY lower(b.title), b.id",
                caller=visible_to,
            )
        return [BookInfo(id=r[0], title=r[1], author=r[2], chapters=int(r[3]), owner=r[4]) for r in rows]

    def books(self) -> list[Book]:
        """Every book of the library, as the loader read it from its file."""
        return [book for book, _ in self._books()]

    def _books(self) -> list[tuple[Book, str | None]]:
        """Every book of the library with its owner (None: shared)."""
        with session(self._connect) as conn:
            books = conn.run("SELECT id, title, author, summary, source_sha256, owner FROM books ORDER BY id")
            rows = conn.run(
                "SELECT book_id, number, title, summary, topics, key_concepts, sections"
                " FROM chapters ORDER BY book_id, number"
            )
        chapters: dict[str, list[Chapter]] = {}  # pg8000 returns jsonb as lists and dicts
        for identifier, number, title, summary, topics, key_concepts, sections in rows:
            chapters.setdefault(identifier, []).append(
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
            (
                Book(
                    title=title,
                    author=author,
                    summary=summary,
                    source_sha256=source,
                    chapters=chapters[identifier],
                ),
                owner,
            )
            for identifier, title, author, summary, source, owner in books
            if chapters.get(identifier)
        ]

    def find_source(self, source_sha256: str, owner: str | None = None) -> BookInfo | None:
        """The book derived from the document with this sha256 that `owner` sees: a shared one
        first, else their own (None: shared books only)."""
        with session(self._connect) as conn:
            rows = conn.run(
                "SELECT b.id, b.title, b.author, count(c.number), b.owner FROM books b"
                " LEFT JOIN chapters c ON c.book_id = b.id"
                " WHERE b.source_sha256 = :source AND :source <> ''"
                " AND (b.owner IS NULL OR b.owner = CAST(:owner AS text))"
                " GROUP BY b.id ORDER BY b.owner NULLS FIRST, b.id LIMIT 1",
                source=source_sha256,
                owner=owner,
            )
        return (
            BookInfo(
                id=rows[0][0], title=rows[0][1], author=rows[0][2], chapters=int(rows[0][3]), owner=rows[0][4]
            )
            if rows
            else None
        )

    def chapter_titles(self, book_id: str) -> dict[int, str]:
        with session(self._connect) as conn:
            rows = conn.run(
                "SELECT number, title FROM chapters WHERE book_id = :id ORDER BY number", id=book_id
            )
        return {int(number): title for number, title in rows}

    def remove(self, book: str) -> BookInfo:
        """Remove the book whose id or exact title is `book`, with its chapters (one transaction,
        under the load lock). The search index stays: it holds the remaining chapters."""
        with session(self._connect) as conn, transaction(conn):
            conn.run("SELECT pg_advisory_xact_lock(:key)", key=_LOAD_LOCK_KEY)
            rows = conn.run(
                "SELECT b.id, b.title, b.author, count(c.number), b.owner FROM books b"
                " LEFT JOIN chapters c ON c.book_id = b.id"
                " WHERE b.id = :book OR b.title = :book GROUP BY b.id ORDER BY b.id",
                book=book,
            )
            by_id = [row for row in rows if row[0] == book]
            matches = by_id or rows
            if not matches:
                raise LibraryError(f"no book has the id or title {book!r}: see `coursegen library list`")
            if len(matches) > 1:
                listed = "; ".join(
                    f"{row[0]} ({row[2]}{f', owned by {row[4]}' if row[4] else ''})" for row in matches
                )
                raise LibraryError(
                    f"{len(matches)} books are titled {book!r}; remove one by its id: {listed}"
                )
            identifier, title, author, chapters, owner = matches[0]
            conn.run("DELETE FROM books WHERE id = :id", id=identifier)  # chapters cascade
        return BookInfo(id=identifier, title=title, author=author, chapters=int(chapters), owner=owner)

    def stats(self) -> LibraryStats:
        with session(self._connect) as conn:
            books, chapters = conn.run(
                "SELECT (SELECT count(*) FROM books), (SELECT count(*) FROM chapters)"
            )[0]
            meta = conn.run("SELECT embedder_kind, dimension FROM library_meta")
        kind, dimension = meta[0] if meta else (None, None)
        return LibraryStats(books=int(books), chapters=int(chapters), embedder_kind=kind, dimension=dimension)


def _holds_chapters(conn: Connection) -> bool:
    return bool(run_prepared(conn, "SELECT EXISTS (SELECT 1 FROM chapters)")[0][0])


EMBED_BATCH = 256  # chapters per embed() call, so progress can be shown on a large library


def _embed_chapters(
    books: list[Book], embedder: Embedder, progress: ReindexProgress | None = None
) -> list[list[list[float]]]:
    """One vector per chapter, grouped by book: vectors[i][j] is chapter j of book i."""
    texts = [chapter_text(chapter) for book in books for chapter in book.chapters]
    flat: list[list[float]] = []
    for start in range(0, len(texts), EMBED_BATCH):
        batch = texts[start : start + EMBED_BATCH]
        vectors = embedder.embed(batch)
        if len(vectors) != len(batch):
            raise LibraryError(
                f"embedder {embedder.kind!r} returned {len(vectors)} vectors for {len(batch)} texts"
            )
        flat += vectors
        if progress:
            progress(len(flat), len(texts))
    ends = list(accumulate(len(book.chapters) for book in books))
    return [flat[end - len(book.chapters) : end] for book, end in zip(books, ends, strict=True)]


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


def _upsert_book(conn: Connection, book: Book, vectors: list[list[float]], owner: str | None) -> None:
    """The book row first: the chapters take their owner from it (migration 005's trigger)."""
    identifier = book_id(book, owner)
    conn.run(
        "INSERT INTO books (id, title, author, summary, source_sha256, owner)"
        " VALUES (:id, :title, :author, :summary, :source, :owner)"
        " ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title, author = EXCLUDED.author,"
        " summary = EXCLUDED.summary, source_sha256 = EXCLUDED.source_sha256, owner = EXCLUDED.owner,"
        " loaded_at = now()",
        id=identifier,
        title=book.title,
        author=book.author,
        summary=book.summary,
        source=book.source_sha256,
        owner=owner,
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
