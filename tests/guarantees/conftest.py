"""One embedded default for the whole folder: a real PostgreSQL + pgvector server in a temporary
data folder with a small library loaded, SQLite state and the in-process bus, as bootstrap.py
builds them. Tests that drive delivery themselves reuse its library, course store and embedder."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from app import app
from chalicelib import bootstrap
from chalicelib.adapters.book_files import read_book_file
from chalicelib.adapters.local_bus import LocalBus
from chalicelib.adapters.localpg import LocalPostgres
from chalicelib.adapters.migrate import migrate
from chalicelib.adapters.pg import ConnectionFactory, connect, connection_factory
from chalicelib.adapters.pg_library import PgLibrary
from chalicelib.adapters.sqlite_state import SqliteStateStore
from chalicelib.config import Settings
from chalicelib.logs import LOGGER
from tests.support.runtime import admin_of, bus_of

from .support import LOCAL_USER, Embedded

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "library"
# A small library: three books a finance query finds, and one it must not cite.
LIBRARY = (
    "corporate-finance-valuation.json",
    "financial-statement-analysis.json",
    "investing-portfolio-management.json",
    "nutrition-exercise-physiology.json",
)


@pytest.fixture(scope="session")
def embedded() -> Iterator[Embedded]:
    # PostgreSQL runs as an unprivileged user when the tests run as root: it must be able to
    # reach the folder, which pytest's own (mode 0700) temporary tree does not allow.
    path = Path(tempfile.mkdtemp(prefix="coursegen-guarantees-"))
    os.chmod(path, 0o755)
    settings = Settings(runtime="local", data_dir=path, local_user=LOCAL_USER)
    flow = bootstrap.configure(settings, app)
    admin_of(flow).load([read_book_file(SAMPLES / name) for name in LIBRARY], flow.deps.embedder)
    server = LocalPostgres(path)
    assert isinstance(flow.deps.publisher, LocalBus)
    yield Embedded(
        data_dir=path,
        server=server,
        flow=flow,
        connect=connection_factory(server.conn_info()),
        scripted_state=SqliteStateStore(path / "scripted-state.sqlite3"),
    )
    bus_of(flow).wait_idle(timeout=30)
    bootstrap.reset()
    server.stop()
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(autouse=True)
def _embedded_is_the_app_workflow(embedded: Embedded) -> Iterator[None]:
    """Every test starts with the embedded default serving the app, its bus idle and plain."""
    bootstrap.configure_workflow(embedded.flow)
    bus = embedded.bus
    bus.copies = 1
    yield
    assert bus.wait_idle(timeout=60), "the local bus did not drain"
    bus.copies = 1
    bootstrap.configure_workflow(embedded.flow)


@pytest.fixture(scope="session")
def scratch_connect(embedded: Embedded) -> ConnectionFactory:
    """Another database on the same server, migrated, for tests that load books of their own."""
    with closing(connect(embedded.server.conn_info("postgres"))) as admin:
        admin.run("DROP DATABASE IF EXISTS guarantees_scratch WITH (FORCE)")
        admin.run("CREATE DATABASE guarantees_scratch")
    factory = connection_factory(embedded.server.conn_info("guarantees_scratch"))
    migrate(factory)
    return factory


@pytest.fixture(scope="session")
def scratch_library(scratch_connect: ConnectionFactory) -> PgLibrary:
    return PgLibrary(scratch_connect)


@pytest.fixture
def project_logs() -> Iterator[logging.Logger]:
    """The project logger, restored afterwards (the CLI reconfigures it for its own use)."""
    logger = logging.getLogger(LOGGER)
    handlers, level, propagate = list(logger.handlers), logger.level, logger.propagate
    yield logger
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    for handler in handlers:
        logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = propagate
