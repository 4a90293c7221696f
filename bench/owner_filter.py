"""What the owner filter costs the search: the hybrid statement with and without it, on the same
library, interleaved query by query so a busy machine weighs on both alike.

    .venv/bin/python -m bench.owner_filter                 # 10k chapters: 0%, 50%, 90% owned by others
    .venv/bin/python -m bench.owner_filter --owned 0,0.9   # the shares of books other users own

"without" is the statement as it was before books had owners (no filter on either side); "with"
is PgLibrary's (`owner IS NULL OR owner = :caller` on the HNSW and GIN scans, pgvector's
iterative scan on); "with, no iterative scan" is the same on a pgvector before 0.8. All run with
PgLibrary.search's settings (ef_search 40, seq scans off), top 10, hybrid (each query's terms).
Recall@10 is against the exact top 10 of what the caller may see (the statement without the
HNSW index).
"""

from __future__ import annotations

import argparse
import time
from contextlib import closing
from dataclasses import replace

from bench._common import Summary, machine, scratch_dir, server_versions, table
from bench.vector_search import (
    CHAPTERS_PER_BOOK,
    DIMENSION,
    TOP_10,
    book_owners,
    build_index,
    exact_hybrid,
    load,
    statement_values,
    synthetic_library,
    synthetic_text,
)
from chalicelib.adapters.localpg import LocalPostgres
from chalicelib.adapters.migrate import migrate
from chalicelib.adapters.pg import Connection, connect, connection_factory
from chalicelib.adapters.pg_library import IndexParams, search_sql
from chalicelib.ports import SearchParams

ITERATIVE = "SELECT set_config('hnsw.iterative_scan', 'strict_order', true)"


def unfiltered_sql(dimension: int) -> str:
    """The statement before owners: today's without its two owner conditions."""
    sql = search_sql(dimension)
    without = sql.replace("    WHERE owner IS NULL OR owner = :caller\n", "").replace(
        " AND (c.owner IS NULL OR c.owner = :caller)", ""
    )
    assert without.count(":caller") == 0 and without != sql
    return without


def timed(conn: Connection, sql: str, values: dict[str, object], iterative: bool) -> tuple[float, list[list]]:
    ef = str(SearchParams().ef_search)
    start = time.perf_counter()
    conn.run("BEGIN")
    conn.run("SELECT set_config('hnsw.ef_search', :v, true), set_config('enable_seqscan', 'off', true)", v=ef)
    if iterative:
        conn.run(ITERATIVE)
    rows = conn.run(sql, **values)
    conn.run("COMMIT")
    return time.perf_counter() - start, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--owned", default="0,0.5,0.9", help="shares of the books other users own")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--exact-queries", type=int, default=30)
    args = parser.parse_args()
    params = replace(TOP_10, ef_search=SearchParams().ef_search)
    out, versions = [], {}
    with scratch_dir("coursegen-owners-") as data_dir:
        server = LocalPostgres(data_dir)
        admin_info = server.ensure_running()
        lib = synthetic_library(args.rows, max(args.queries, args.exact_queries))
        text = synthetic_text(lib)
        for n, share in enumerate(float(s) for s in args.owned.split(",")):
            name = f"owners_{n}"
            with closing(connect(admin_info)) as admin:
                admin.run(f"CREATE DATABASE {name}")
            info = replace(server.conn_info(name), timeout=None)
            migrate(connection_factory(info))
            load(info, lib.vectors, text, book_owners(-(-args.rows // CHAPTERS_PER_BOOK), share))
            build_index(info, args.rows, IndexParams())
            exact = exact_hybrid(info, lib, text, params.ef_search, args.exact_queries)
            statements = {
                "without": (unfiltered_sql(DIMENSION), False),
                "with": (search_sql(DIMENSION), True),
                "with, no iterative scan": (search_sql(DIMENSION), False),  # pgvector before 0.8
            }
            times: dict[str, list[float]] = {kind: [] for kind in statements}
            found = dict.fromkeys(statements, 0)
            with closing(connect(info)) as conn:
                versions = server_versions(conn)
                for round_ in range(2):  # the first pass warms the cache
                    for q in range(args.queries):
                        values = statement_values(lib.queries[q], text.query_terms[q], params)
                        order = list(statements) if q % 2 == 0 else list(reversed(statements))
                        for kind in order:
                            sql, iterative = statements[kind]
                            used = (
                                {k: v for k, v in values.items() if k != "caller"}
                                if kind == "without"
                                else values
                            )
                            seconds, rows = timed(conn, sql, used, iterative)
                            if round_:
                                times[kind].append(seconds)
                                if q < len(exact):
                                    found[kind] += len({(r[0], r[2]) for r in rows} & exact[q])
            for kind in statements:
                latency = Summary.of(times[kind])
                recall = found[kind] / (10 * len(exact))
                out.append(
                    (f"{args.rows:,}", f"{share:.0%}", kind, latency.ms(), latency.ms("p95"), f"{recall:.3f}")
                )
            with closing(connect(admin_info)) as admin:
                admin.run(f"DROP DATABASE {name} WITH (FORCE)")
    print(machine(versions))
    table(
        "The hybrid statement without and with the owner filter (ms; recall@10 of what the caller sees)",
        ("chapters", "owned by others", "filter", "p50", "p95", "recall@10"),
        out,
    )


if __name__ == "__main__":
    main()
