"""PostgreSQL fixtures: one throwaway server per test session, a fresh database per test."""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest

from chalicelib.adapters.localpg import LocalPostgres
from chalicelib.adapters.migrate import migrate
from chalicelib.adapters.pg import ConnectionFactory, ConnInfo, connect, connection_factory

_database_numbers = itertools.count()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[LocalPostgres]:
    """A real PostgreSQL + pgvector server, started once and stopped when the session ends."""
    # Not under pytest's temporary root: PostgreSQL runs as an unprivileged user when the tests
    # run as root, and every pytest session that starts makes that root private again (0700),
    # which would cut a running server off from its own files.
    path = Path(tempfile.mkdtemp(prefix="coursegen-integration-"))
    os.chmod(path, 0o755)
    server = LocalPostgres(path, durable=False)
    server.ensure_running()
    yield server
    server.stop()
    shutil.rmtree(path, ignore_errors=True)


@contextmanager
def _scratch_database(server: LocalPostgres, template: str = "template1") -> Iterator[ConnInfo]:
    name = f"test_{os.getpid()}_{next(_database_numbers)}"  # only digits and _: safe as an identifier
    with closing(connect(server.conn_info("postgres"))) as admin:
        # FILE_COPY clones a small database faster than the default WAL_LOG strategy.
        admin.run(f"CREATE DATABASE {name} TEMPLATE {template} STRATEGY FILE_COPY")
        try:
            yield server.conn_info(name)
        finally:
            admin.run(f"DROP DATABASE {name} WITH (FORCE)")  # FORCE: a test may leak a connection


@pytest.fixture(scope="session")
def _pg_migrated_template(pg_server: LocalPostgres) -> Iterator[str]:
    """Migrated once per session; each test gets a copy, which is faster than migrating again."""
    with _scratch_database(pg_server) as info:
        with closing(connect(info)) as conn:
            migrate(conn)
        yield info.database


@pytest.fixture
def pg_empty_database(pg_server: LocalPostgres) -> Iterator[ConnInfo]:
    """A new database with no schema at all (for migration tests)."""
    with _scratch_database(pg_server) as info:
        yield info


@pytest.fixture
def pg_database(pg_server: LocalPostgres, _pg_migrated_template: str) -> Iterator[ConnInfo]:
    """A new database with every migration applied."""
    with _scratch_database(pg_server, _pg_migrated_template) as info:
        yield info


@pytest.fixture
def pg_conn_factory(pg_database: ConnInfo) -> ConnectionFactory:
    """Opens connections to this test's own migrated database."""
    return connection_factory(pg_database)
