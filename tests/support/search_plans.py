"""The library's one search statement, explained: what the index tests read the plan of."""

from __future__ import annotations

import math
from contextlib import closing

from chalicelib.adapters.pg import ConnectionFactory
from chalicelib.adapters.pg_library import search_sql, vector_literal


def unit(*values: float) -> list[float]:
    """`values` scaled to length 1, as the embedders' vectors are."""
    norm = math.sqrt(sum(v * v for v in values))
    return [v / norm for v in values]


def search_plan(connect: ConnectionFactory, words: str, caller: str, dimension: int = 4) -> str:
    """EXPLAIN of the search for `words` by `caller`, with sequential scans off as
    PgLibrary.search runs it, so the plan shows which indexes the statement can use."""
    with closing(connect()) as conn:
        conn.run("BEGIN")
        conn.run("SET LOCAL enable_seqscan = off")
        rows = conn.run(
            "EXPLAIN " + search_sql(dimension),
            query=vector_literal(unit(1, *([0.0] * (dimension - 1)))),
            any_term=" | ".join(words.split()),
            words=words,
            candidates=40,
            min_similarity=0.3,
            common_chapters=500,
            rrf_k=60,
            max_per_book=12,
            top_k=24,
            caller=caller,
        )
        conn.run("ROLLBACK")
    return "\n".join(row[0] for row in rows)
