"""The embedded default, for real: PostgreSQL in a temporary data folder, the sample library
loaded once, SQLite state, the in-process bus and the offline planner and embedder."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from app import app
from chalicelib import bootstrap
from chalicelib.adapters.book_files import read_book_file
from chalicelib.adapters.localpg import LocalPostgres
from chalicelib.config import Settings
from chalicelib.workflow import Workflow

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "library"


@pytest.fixture(scope="session")
def data_dir() -> Iterator[Path]:
    # PostgreSQL runs as an unprivileged user when the tests run as root: it must be able to
    # reach the folder, which pytest's own (mode 0700) temporary tree does not allow.
    path = Path(tempfile.mkdtemp(prefix="coursegen-e2e-"))
    os.chmod(path, 0o755)
    yield path
    LocalPostgres(path).stop()
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def local_workflow(data_dir: Path) -> Iterator[Workflow]:
    settings = Settings(runtime="local", data_dir=data_dir, local_user="local-user")
    flow = bootstrap.configure(settings, app)
    books = [read_book_file(path) for path in sorted(SAMPLES.glob("*.json"))]
    flow.deps.library.load(books, flow.deps.embedder)
    yield flow
    flow.deps.publisher.wait_idle(timeout=30)
    bootstrap.reset()


@pytest.fixture
def workflow(local_workflow: Workflow) -> Iterator[Workflow]:
    bootstrap.configure_workflow(local_workflow)
    local_workflow.deps.publisher.copies = 1
    yield local_workflow
    local_workflow.deps.publisher.wait_idle(timeout=30)
    local_workflow.deps.publisher.copies = 1
