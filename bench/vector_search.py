"""Search at library scale: synthetic chapters at the production embedding dimension (1536,
text-embedding-3-small) and with synthetic text, in the project's own schema, searched with
PgLibrary.search: by vector alone, and hybrid (the query's terms too, fused by rank).

    .venv/bin/python -m bench.vector_search                  # 10k chapters, three index settings
    .venv/bin/python -m bench.vector_search --rows 100000    # the full figure (~10 min)
    .venv/bin/python -m bench.vector_search --rows 100000 --builds 16:64,24:100 --shared-buffers 2GB

For each library size: bulk load rate (binary COPY), the real search statement without an index
(an exact scan), then per index setting (m:ef_construction) the HNSW build time and size, the
query plan PostgreSQL picks for the real search, and per hnsw.ef_search the query latency
(p50/p95 of PgLibrary.search, warm) and recall@10 against exact search (numpy, float32).

The chapters are clustered like a real library, not uniform random (recall on random Gaussian
vectors says nothing about real data): topics, books within a topic, chapters within a book,
drawn in a 64-dimensional space and mapped to 1536 dimensions with a little full-rank noise.
Queries are chapters perturbed the way a paraphrase moves an embedding: near a data point,
never equal to it. The table prints the cosine of each query's 1st and 10th true neighbour so
the difficulty can be judged.

The text is drawn the same way: each topic has its own words, every title and topic also takes
one of a few thousand common words (Zipf-distributed, so some are in thousands of titles, as
"introduction" or "systems" are), and each query names eight terms, six of its chapter's and two
common ones. Hybrid recall@10 compares the hybrid top 10 with the same statement computed
without the HNSW index (exact vector ranking; the full-text side is exact either way).

Searches are made for one user (CALLER). With `--owned SHARE`, that share of the books belongs to
100 other users (the caller owns one in a hundred of them): the search's owner filter then drops
rows, and recall is measured against the exact top 10 of what the caller may see.
"""

from __future__ import annotations

import argparse
import json
import struct
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from bench._common import Summary, machine, scratch_dir, server_versions, table, verdict
from chalicelib.adapters.localpg import LocalPostgres
from chalicelib.adapters.migrate import migrate
from chalicelib.adapters.pg import ConnInfo, connect, connection_factory
from chalicelib.adapters.pg_library import (
    IndexParams,
    PgLibrary,
    build_memory_mb,
    create_index_sql,
    index_name,
    search_sql,
    vector_literal,
)
from chalicelib.core.retrieval import any_term_query
from chalicelib.ports import SearchParams

DIMENSION = 1536
LATENT = 64
CHAPTERS_PER_BOOK = 20
EMBEDDER = f"synthetic-clustered:{DIMENSION}"
TARGET_P50_MS, TARGET_HYBRID_P50_MS, TARGET_RECALL = 10.0, 15.0, 0.95
CALLER = "user-0000"  # the user searches are made for
OWNERS = 100  # the users owning the books --owned makes theirs


def book_owners(books: int, share: float, seed: int = 11) -> list[str | None]:
    """Each book's owner: None (shared) for all but about `share` of them."""
    rng = np.random.default_rng(seed)
    return [
        f"user-{int(rng.integers(0, OWNERS)):04d}" if owned else None for owned in rng.random(books) < share
    ]


def visible_truth(lib: Library, owners: list[str | None]) -> None:
    """Restrict the exact top 10 to the chapters the caller sees (shared or their own)."""
    rows = np.arange(len(lib.vectors))
    seen = rows[[owners[r // CHAPTERS_PER_BOOK] in (None, CALLER) for r in rows]]
    cosines = lib.queries @ lib.vectors[seen].T
    order = np.argsort(-cosines, axis=1)[:, :10]
    lib.truth = seen[order]
    lib.truth_cosines = np.take_along_axis(cosines, order, axis=1)


# --- the synthetic library --------------------------------------------------------------------


@dataclass
class Library:
    vectors: np.ndarray  # (n, DIMENSION) float32, unit length
    queries: np.ndarray  # (q, DIMENSION)
    truth: np.ndarray  # (q, 10) row ids of the exact top 10
    truth_cosines: np.ndarray  # (q, 10)
    book_topics: np.ndarray  # (books,) the topic of each book
    query_rows: np.ndarray  # (q,) the chapter each query paraphrases


def synthetic_library(rows: int, queries: int, seed: int = 7) -> Library:
    rng = np.random.default_rng(seed)
    books = -(-rows // CHAPTERS_PER_BOOK)
    topics = max(1, books // 25)
    topic = rng.standard_normal((topics, LATENT))
    book_topics = rng.integers(0, topics, books)
    book = topic[book_topics] + 0.6 * rng.standard_normal((books, LATENT))
    latent = np.repeat(book, CHAPTERS_PER_BOOK, axis=0)[:rows] + 0.5 * rng.standard_normal((rows, LATENT))
    projection = rng.standard_normal((LATENT, DIMENSION)).astype(np.float32) / np.sqrt(LATENT)

    def embed(points: np.ndarray) -> np.ndarray:
        out = points.astype(np.float32) @ projection
        out += (
            0.15
            * rng.standard_normal(out.shape, dtype=np.float32)
            * np.linalg.norm(out, axis=1)[:, None]
            / np.sqrt(DIMENSION)
        )
        return (out / np.linalg.norm(out, axis=1)[:, None]).astype(np.float32)

    vectors = np.vstack([embed(latent[i : i + 20_000]) for i in range(0, rows, 20_000)])
    near = rng.integers(0, rows, queries)
    query = embed(latent[near] + 0.35 * rng.standard_normal((queries, LATENT)))
    cosines = query @ vectors.T
    truth = np.argsort(-cosines, axis=1)[:, :10]
    return Library(vectors, query, truth, np.take_along_axis(cosines, truth, axis=1), book_topics, near)


def chapter_key(row: int) -> tuple[str, int]:
    return f"syn-{row // CHAPTERS_PER_BOOK:06d}", row % CHAPTERS_PER_BOOK + 1


# --- the synthetic text -----------------------------------------------------------------------

SYLLABLES = [
    "ka",
    "lo",
    "mi",
    "ra",
    "ten",
    "sul",
    "vor",
    "del",
    "pan",
    "qui",
    "ber",
    "os",
    "ul",
    "ne",
    "tar",
    "fi",
    "gon",
    "zu",
    "pe",
    "li",
    "ma",
    "ro",
    "si",
    "dan",
]
TOPIC_WORDS, COMMON_WORDS = 40, 4000


def _words(rng: np.random.Generator, count: int, taken: set[str]) -> list[str]:
    words: list[str] = []
    while len(words) < count:
        word = "".join(rng.choice(SYLLABLES, int(rng.integers(3, 5))))
        if word not in taken:
            taken.add(word)
            words.append(word)
    return words


@dataclass
class Text:
    """Title, topics, key concepts and summary of every synthetic chapter, and each query's terms."""

    titles: list[str]
    topics: list[list[str]]
    concepts: list[list[str]]
    summaries: list[str]
    query_terms: list[list[str]]


def synthetic_text(lib: Library, seed: int = 11) -> Text:
    rng = np.random.default_rng(seed)
    rows, taken = len(lib.vectors), set[str]()
    topic_count = int(lib.book_topics.max()) + 1
    topic_words = [_words(rng, TOPIC_WORDS, taken) for _ in range(topic_count)]
    common = _words(rng, COMMON_WORDS, taken)
    zipf = 1 / np.arange(1, COMMON_WORDS + 1)
    zipf /= zipf.sum()
    own = rng.integers(0, TOPIC_WORDS, (rows, 16))  # each chapter's words of its topic
    shared = rng.choice(COMMON_WORDS, (rows, 40), p=zipf)  # and common ones
    titles, topics, concepts, summaries = [], [], [], []
    for row in range(rows):
        words = topic_words[int(lib.book_topics[row // CHAPTERS_PER_BOOK])]
        mine = [words[i] for i in own[row]]
        extra = [common[i] for i in shared[row]]
        titles.append(" ".join([*mine[:2], extra[0]]))
        topics.append([f"{mine[2 + 2 * k]} {mine[3 + 2 * k]} {extra[1 + k]}" for k in range(4)])
        concepts.append(mine[10:14])
        summaries.append(" ".join([*mine[14:], *extra[5:], *mine[:6]]))
    query_terms = []
    for q, row in enumerate(lib.query_rows):
        words = topic_words[int(lib.book_topics[int(row) // CHAPTERS_PER_BOOK])]
        named = [words[i] for i in own[row][[0, 1, 2, 3, 10, 11]]]
        query_terms.append([*named, *(common[int(i)] for i in rng.choice(COMMON_WORDS, 2, p=zipf))])
        del q
    return Text(titles, topics, concepts, summaries, query_terms)


# --- loading through binary COPY -----------------------------------------------------------------

_COPY = (
    "COPY chapters (book_id, number, title, summary, topics, key_concepts, sections, embedding)"
    " FROM STDIN WITH (FORMAT binary)"
)
_SUMMARY = (
    "This chapter develops the ideas of its topic from first principles, works through examples "
    "and common mistakes, and closes with exercises that connect it to the chapters around it. "
) * 3  # the loader-rate sample's summary


def _field(data: bytes) -> bytes:
    return struct.pack("!i", len(data)) + data


def _jsonb(value: Any) -> bytes:
    return _field(b"\x01" + json.dumps(value).encode())


def copy_rows(vectors: np.ndarray, start: int, text: Text, chunk: int = 500) -> Iterator[bytes]:
    """The chapters in PostgreSQL's binary COPY format, a few hundred rows per yielded chunk."""
    yield b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
    vector_header = struct.pack("!HH", DIMENSION, 0)
    big_endian = vectors.astype(">f4")
    for offset in range(0, len(vectors), chunk):
        parts = []
        for i in range(offset, min(offset + chunk, len(vectors))):
            book, number = chapter_key(start + i)
            row = start + i
            parts += [
                struct.pack("!h", 8),
                _field(book.encode()),
                _field(struct.pack("!i", number)),
                _field(text.titles[row].encode()),
                _field(text.summaries[row].encode()),
                _jsonb(text.topics[row]),
                _jsonb(text.concepts[row]),
                _jsonb([]),
                _field(vector_header + big_endian[i].tobytes()),
            ]
        yield b"".join(parts)
    yield struct.pack("!h", -1)


def load(info: ConnInfo, vectors: np.ndarray, text: Text, owners: list[str | None]) -> float:
    """Books (owned by `owners`, None: shared), chapters and library_meta as PgLibrary would
    hold them; returns rows per second."""
    books = sorted({chapter_key(i)[0] for i in range(len(vectors))})
    with closing(connect(info)) as conn:
        conn.run(
            "INSERT INTO books (id, title, author, owner) SELECT id, 'Book ' || id, 'A. Author', owner"
            " FROM unnest(CAST(:ids AS text[]), CAST(:owners AS text[])) AS b(id, owner)",
            ids=books,
            owners=owners,
        )
        conn.run(
            "INSERT INTO library_meta (embedder_kind, dimension) VALUES (:k, :d)", k=EMBEDDER, d=DIMENSION
        )
        start = time.perf_counter()
        for offset in range(0, len(vectors), 10_000):
            conn.run(_COPY, stream=copy_rows(vectors[offset : offset + 10_000], offset, text))
        elapsed = time.perf_counter() - start
        conn.run("VACUUM ANALYZE chapters")
    return len(vectors) / elapsed


def loader_rate(info: ConnInfo, rows: int = 2_000) -> float:
    """Rows per second of the project's own loader (PgLibrary.load_books: one JSON parameter a
    book, vectors as text), index build included, into an empty library."""
    from chalicelib.core.books import Book

    vectors = synthetic_library(rows, 1).vectors
    books, book_vectors = [], []
    for start in range(0, rows, CHAPTERS_PER_BOOK):
        chunk = range(start, min(start + CHAPTERS_PER_BOOK, rows))
        chapters = [
            {"number": chapter_key(i)[1], "title": f"Chapter {i}", "summary": _SUMMARY, "topics": ["t"]}
            for i in chunk
        ]
        books.append(Book.model_validate({"title": f"Book {start}", "author": "A.", "chapters": chapters}))
        book_vectors.append([vectors[i].tolist() for i in chunk])
    started = time.perf_counter()
    PgLibrary(connection_factory(info)).load_books(books, book_vectors, EMBEDDER)
    return rows / (time.perf_counter() - started)


# --- measuring --------------------------------------------------------------------------------


def statement_values(query: np.ndarray, terms: list[str], params: SearchParams) -> dict[str, Any]:
    """The values PgLibrary.search sends with the search statement."""
    return {
        "query": vector_literal(query.tolist()),
        "any_term": any_term_query(terms),
        "words": " ".join(terms),
        "candidates": max(params.ef_search, params.top_k),
        "min_similarity": params.min_similarity,
        "common_chapters": params.common_term_chapters,
        "rrf_k": params.rrf_k,
        "max_per_book": params.max_per_book,
        "top_k": params.top_k,
        "caller": CALLER,
    }


def query_plan(info: ConnInfo, query: np.ndarray, ef_search: int, terms: list[str] | None = None) -> str:
    """The access path PostgreSQL's planner picks on its own for the real search statement
    (a custom plan, as PgLibrary.search sends its values). PgLibrary.search itself turns seq
    scans off, so it uses the index whenever there is one."""
    params = replace(TOP_10, ef_search=ef_search)
    with closing(connect(info)) as conn:
        conn.run("BEGIN")
        conn.run("SELECT set_config('hnsw.ef_search', :v, true)", v=str(ef_search))
        rows = conn.run("EXPLAIN " + search_sql(DIMENSION), **statement_values(query, terms or [], params))
        conn.run("ROLLBACK")
    plan = "\n".join(row[0] for row in rows)
    vector = (
        "HNSW index scan"
        if index_name(DIMENSION) in plan
        else "exact scan (seq scan + sort)"
        if "Seq Scan on chapters" in plan
        else "other"
    )
    if not terms:
        return vector
    return vector + (" + GIN" if "chapters_named_terms_gin" in plan else " + text scan")


TOP_10 = SearchParams(top_k=10, min_similarity=-1.0, max_per_book=10)


def exact_hybrid(
    info: ConnInfo, lib: Library, text: Text, ef_search: int, count: int
) -> list[set[tuple[str, int]]]:
    """The hybrid top 10 of each query computed without the HNSW index: an exact vector ranking
    (the full-text side is exact either way)."""
    params = replace(TOP_10, ef_search=ef_search)
    found = []
    with closing(connect(info)) as conn:
        for q in range(count):
            conn.run("BEGIN")
            conn.run("SET LOCAL enable_indexscan = off")  # the GIN side is a bitmap scan: kept
            rows = conn.run(
                search_sql(DIMENSION), **statement_values(lib.queries[q], text.query_terms[q], params)
            )
            conn.run("ROLLBACK")
            found.append({(row[0], row[2]) for row in rows})
    return found


def run_queries(
    library: PgLibrary,
    lib: Library,
    ef_search: int,
    count: int,
    text: Text | None = None,
    exact: list[set[tuple[str, int]]] | None = None,
) -> tuple[Summary, float]:
    """Latency of PgLibrary.search (second pass; the first warms the cache) and recall@10: of
    the exact vector top 10, or with `text`, of the exact hybrid top 10 (`exact`)."""
    params = replace(TOP_10, ef_search=ef_search)
    keys = [{chapter_key(int(r)) for r in row} for row in lib.truth[:count]] if exact is None else exact
    queries = [q.tolist() for q in lib.queries[:count]]
    terms = text.query_terms[:count] if text else [[] for _ in queries]
    for q, t in zip(queries, terms, strict=True):
        library.search(q, EMBEDDER, params, t, caller=CALLER)
    times, found = [], 0
    for i, (q, t) in enumerate(zip(queries, terms, strict=True)):
        start = time.perf_counter()
        hits = library.search(q, EMBEDDER, params, t, caller=CALLER)
        times.append(time.perf_counter() - start)
        if i < len(keys):
            found += len({(h.book_id, h.chapter_number) for h in hits} & keys[i])
    return Summary.of(times), found / (10 * min(count, len(keys)))


def build_index(info: ConnInfo, rows: int, params: IndexParams) -> tuple[float, int, bool]:
    """(seconds, index bytes, whether the graph fit in maintenance_work_mem)."""
    with closing(connect(info)) as conn:
        conn.run(f"DROP INDEX IF EXISTS {index_name(DIMENSION)}")
        conn.run(f"SET maintenance_work_mem = '{build_memory_mb(rows, DIMENSION, params)}MB'")
        conn.notices.clear()
        start = time.perf_counter()
        conn.run(create_index_sql(DIMENSION, params))
        elapsed = time.perf_counter() - start
        conn.run("ANALYZE chapters")
        size = conn.run("SELECT pg_relation_size(:n)", n=index_name(DIMENSION))[0][0]
        spilled = any("no longer fits" in str(n) for n in conn.notices)
    return elapsed, int(size), not spilled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", default="10000", help="comma-separated library sizes (default 10000)")
    parser.add_argument(
        "--builds",
        default=None,
        help="index settings m:ef_construction, comma-separated "
        "(default 16:64,24:100,32:128 at 10k and below, else the configured one)",
    )
    parser.add_argument("--ef", default="16,40,64,100", help="hnsw.ef_search values to query with")
    parser.add_argument("--queries", type=int, default=200, help="queries per setting (default 200)")
    parser.add_argument("--exact-queries", type=int, default=30, help="queries without the index")
    parser.add_argument(
        "--owned", type=float, default=0.0, help="share of the books other users own (default 0: all shared)"
    )
    parser.add_argument(
        "--shared-buffers",
        default=None,
        help="PostgreSQL shared_buffers for this run, e.g. 2GB (default: the embedded default's)",
    )
    args = parser.parse_args()
    sizes = [int(r) for r in args.rows.split(",")]
    ef_values = [int(e) for e in args.ef.split(",")]

    load_rows, search_rows, notes = [], [], []
    with scratch_dir("coursegen-vector-") as data_dir:
        server = LocalPostgres(data_dir)
        admin_info = server.ensure_running()
        if args.shared_buffers:
            with closing(connect(admin_info)) as admin:
                admin.run(f"ALTER SYSTEM SET shared_buffers = '{args.shared_buffers}'")
            server.stop()
            admin_info = server.ensure_running()
        versions: dict[str, str] = {}
        with closing(connect(admin_info)) as admin:
            admin.run("CREATE DATABASE bench_loader")
        loader_info = replace(server.conn_info("bench_loader"), timeout=None)
        migrate(connection_factory(loader_info))
        loader = loader_rate(loader_info)
        for rows in sizes:
            name = f"bench_{rows}"
            with closing(connect(admin_info)) as admin:
                admin.run(f"CREATE DATABASE {name}")
            # no client-side timeout: a 100k-row index build takes minutes
            info = replace(server.conn_info(name), timeout=None)
            migrate(connection_factory(info))
            with closing(connect(info)) as conn:
                versions = {**server_versions(conn), "shared_buffers": conn.run("SHOW shared_buffers")[0][0]}
            started = time.perf_counter()
            lib = synthetic_library(rows, max(args.queries, args.exact_queries))
            text = synthetic_text(lib)
            generated = time.perf_counter() - started
            owners = book_owners(-(-rows // CHAPTERS_PER_BOOK), args.owned)
            if args.owned:
                visible_truth(lib, owners)
            rate = load(info, lib.vectors, text, owners)
            with closing(connect(info)) as conn:
                table_mb = conn.run("SELECT pg_total_relation_size('chapters')")[0][0] / 2**20
            load_rows.append(
                (
                    f"{rows:,}",
                    f"{generated:.1f}",
                    f"{rate:,.0f}",
                    f"{table_mb:,.0f}",
                    f"{float(np.median(lib.truth_cosines[:, 0])):.2f}",
                    f"{float(np.median(lib.truth_cosines[:, 9])):.2f}",
                )
            )
            library = PgLibrary(connection_factory(info))
            exact, exact_recall = run_queries(library, lib, 64, args.exact_queries)
            search_rows.append(
                (
                    f"{rows:,}",
                    "none",
                    "",
                    "",
                    "",
                    "vector",
                    query_plan(info, lib.queries[0], 64),
                    exact.ms(),
                    exact.ms("p95"),
                    f"{exact_recall:.3f}",
                    "",
                )
            )
            configured = f"{IndexParams().m}:{IndexParams().ef_construction}"
            builds = args.builds or ("16:64,24:100,32:128" if rows <= 10_000 else configured)
            for spec in builds.split(","):
                m, efc = (int(x) for x in spec.split(":"))
                params = IndexParams(m=m, ef_construction=efc)
                seconds, size, fit = build_index(info, rows, params)
                if not fit:
                    notes.append(f"{rows:,} rows, m={m}, ef_construction={efc}: graph spilled to disk")
                plans = {
                    "vector": query_plan(info, lib.queries[0], 64),
                    "hybrid": query_plan(info, lib.queries[0], 64, text.query_terms[0]),
                }
                first = True
                for ef in ef_values:
                    for kind in ("vector", "hybrid"):
                        if kind == "vector":
                            latency, recall = run_queries(library, lib, ef, args.queries)
                            target = TARGET_P50_MS
                        else:
                            exact_top = exact_hybrid(info, lib, text, ef, args.exact_queries)
                            latency, recall = run_queries(library, lib, ef, args.queries, text, exact_top)
                            target = TARGET_HYBRID_P50_MS
                        ok = latency.median * 1000 <= target and recall >= TARGET_RECALL
                        search_rows.append(
                            (
                                f"{rows:,}",
                                (f"{m}:{efc}" + (" *" if spec == configured else "")) if first else "",
                                f"{seconds:.1f}" if first else "",
                                f"{size / 2**20:,.0f}" if first else "",
                                str(ef) if kind == "vector" else "",
                                kind,
                                plans[kind] if ef == ef_values[0] else "",
                                latency.ms(),
                                latency.ms("p95"),
                                f"{recall:.3f}",
                                verdict(ok),
                            )
                        )
                        first = False
            with closing(connect(admin_info)) as admin:
                admin.run(f"DROP DATABASE {name} WITH (FORCE)")

    print(machine(versions))
    print(f"books other users own: {args.owned:.0%} (searches are made for {CALLER})")
    table(
        f"Synthetic library, {DIMENSION}-d, loaded with binary COPY",
        ("chapters", "generate s", "load rows/s", "table MB", "cos 1st nn", "cos 10th nn"),
        load_rows,
    )
    print(
        "the project's loader (PgLibrary.load_books, 2,000 chapters, index build included):"
        f" {loader:,.0f} rows/s\n"
    )
    table(
        "PgLibrary.search: top 10 (ms; recall@10 against the same search without the HNSW index)",
        (
            "chapters",
            "index m:efc",
            "build s",
            "index MB",
            "ef_search",
            "search",
            "planner's own plan",
            "p50",
            "p95",
            "recall@10",
            f"p50<={TARGET_P50_MS:g} (hybrid {TARGET_HYBRID_P50_MS:g}), recall>={TARGET_RECALL}",
        ),
        search_rows,
    )
    print(
        f"* the configured index (pg_library.IndexParams); searches run with"
        f" ef_search={SearchParams().ef_search} (ports.SearchParams)"
    )
    for note in notes:
        print("note:", note)


if __name__ == "__main__":
    main()
