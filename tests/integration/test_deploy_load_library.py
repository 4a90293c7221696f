"""`python -m deploy load-library`'s work, on a real PostgreSQL standing in for Aurora: validate
every file first, migrate, embed and load in one transaction."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chalicelib.adapters.pg import ConnectionFactory
from chalicelib.adapters.pg_library import PgLibrary
from chalicelib.errors import BookFileError
from deploy.aurora import load_library
from tests.integration.test_pg_reindex import HashedEmbedder

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "library"


def test_books_are_loaded_into_a_migrated_database(pg_conn_factory: ConnectionFactory) -> None:
    files = sorted(SAMPLES.glob("*.json"))[:2]

    loaded = load_library(pg_conn_factory, files, HashedEmbedder("model", 16))

    assert [book.chapters for book in loaded] == [len(json.loads(f.read_text())["chapters"]) for f in files]
    stats = PgLibrary(pg_conn_factory).stats()
    assert (stats.books, stats.embedder_kind) == (2, "model:16")


def test_a_bad_file_among_good_ones_loads_nothing(pg_conn_factory: ConnectionFactory, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"title": "No chapters", "author": "A", "chapters": []}')
    embedder = HashedEmbedder("model", 16)

    with pytest.raises(BookFileError, match=r"bad\.json"):
        load_library(pg_conn_factory, [*sorted(SAMPLES.glob("*.json"))[:1], bad], embedder)

    assert embedder.seen == 0  # refused before any model call
    assert PgLibrary(pg_conn_factory).list_books() == []
