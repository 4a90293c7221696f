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
from tests.support.llm_fixtures import API_KEY
from tests.support.llm_server import LLMServer
from tests.support.runtime import admin_of, bus_of

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
    admin_of(flow).load(books, flow.deps.embedder)
    yield flow
    bus_of(flow).wait_idle(timeout=30)
    bootstrap.reset()


@pytest.fixture
def workflow(local_workflow: Workflow) -> Iterator[Workflow]:
    bootstrap.configure_workflow(local_workflow)
    bus_of(local_workflow).copies = 1
    yield local_workflow
    bus_of(local_workflow).wait_idle(timeout=30)
    bus_of(local_workflow).copies = 1


# --- the model planner and embedder against the local OpenAI-compatible test server -----------

DIMENSION = 256


def model_env(server: LLMServer) -> dict[str, str]:
    """What a user sets to use a local OpenAI-compatible server (README, "Use a model")."""
    return {
        "COURSEGEN_PLANNER": "openai",
        "COURSEGEN_EMBEDDER": "openai",
        "COURSEGEN_OPENAI_BASE_URL": server.base_url,
        "COURSEGEN_OPENAI_API_KEY": API_KEY,
        "COURSEGEN_CHAT_MODEL": "test-chat",
        "COURSEGEN_EMBEDDING_MODEL": "test-embed",
        "COURSEGEN_EMBEDDING_DIMENSIONS": str(DIMENSION),
        "COURSEGEN_LLM_TIMEOUT": "2",
        "COURSEGEN_LLM_DEADLINE": "6",
        "COURSEGEN_LLM_MAX_RETRIES": "2",
        # The test server's bag-of-words vectors score lower than a real embedding model's.
        "COURSEGEN_SEARCH_MIN_SIMILARITY": "0.05",
    }


def new_data_dir(prefix: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(path, 0o755)  # reachable by the unprivileged PostgreSQL user when tests run as root
    return path


@pytest.fixture(scope="module")
def llm_server() -> Iterator[LLMServer]:
    with LLMServer(embedding_dimension=DIMENSION) as server:
        yield server


@pytest.fixture(scope="module")
def llm_workflow(llm_server: LLMServer) -> Iterator[Workflow]:
    data_dir = new_data_dir("coursegen-llm-")
    with pytest.MonkeyPatch.context() as env:
        for name, value in model_env(llm_server).items():
            env.setenv(name, value)
        settings = Settings.from_env({**os.environ, "COURSEGEN_DATA_DIR": str(data_dir)})
        flow = bootstrap.configure(settings, app)
        books = [read_book_file(path) for path in sorted(SAMPLES.glob("*.json"))]
        admin_of(flow).load(books, flow.deps.embedder)  # embedded by the test server
        yield flow
        bus_of(flow).wait_idle(timeout=30)
    bootstrap.reset()
    LocalPostgres(data_dir).stop()
    shutil.rmtree(data_dir, ignore_errors=True)
