"""Real documents for the ingestion tests, fetched once into a cache by corpus.sh; a PostgreSQL
data folder for the command-line tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from chalicelib.adapters.localpg import LocalPostgres

CORPUS_SCRIPT = Path(__file__).with_name("corpus.sh")


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The documents folder. Fails (never skips) when they cannot be fetched: CI must have them."""
    cache = Path(os.environ.get("COURSEGEN_TEST_CORPUS") or Path.home() / ".cache" / "coursegen-test-corpus")
    result = subprocess.run(
        ["bash", str(CORPUS_SCRIPT), str(cache)], capture_output=True, text=True, timeout=600
    )
    if result.returncode != 0:
        pytest.fail(f"cannot fetch the test documents: {result.stderr.strip()[-2000:]}")
    return cache / "docs"


@pytest.fixture(scope="module")
def data_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="coursegen-ingest-"))
    os.chmod(path, 0o755)  # reachable by the unprivileged PostgreSQL user when tests run as root
    LocalPostgres(path).ensure_running()
    yield path
    LocalPostgres(path).stop()
    shutil.rmtree(path, ignore_errors=True)
