"""`chalice local` serves the routes and runs the whole workflow in process."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chalicelib.adapters.localpg import LocalPostgres
from chalicelib.cli import main
from tests.support.chalice_local import ChaliceLocal

pytestmark = pytest.mark.slow  # a chalice local process started and stopped

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def server() -> Iterator[ChaliceLocal]:
    data_dir = Path(tempfile.mkdtemp(prefix="coursegen-local-"))
    os.chmod(data_dir, 0o755)  # reachable by the unprivileged PostgreSQL user when run as root
    LocalPostgres(data_dir).ensure_running()
    samples = sorted(str(p) for p in (ROOT / "samples" / "library").glob("*.json"))
    assert main(["--data-dir", str(data_dir), "library", "load", *samples]) == 0
    local = ChaliceLocal(data_dir)
    try:
        yield local
    finally:
        local.stop()
        LocalPostgres(data_dir).stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def test_chalice_local_takes_a_course_from_post_to_a_complete_outline(server: ChaliceLocal) -> None:
    status, accepted = server.call("POST", "/courses", {"query": "Learn DCF valuation", "hours": 2})
    assert status == 202 and accepted["status"] == "queued"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status, body = server.call("GET", accepted["status_url"])
        assert status == 200
        if body["status"] in ("complete", "failed"):
            break
        time.sleep(0.05)
    assert body["status"] == "complete", body
    assert body["course"]["total_minutes"] in range(114, 127)
    status, listed = server.call("GET", "/courses")
    assert status == 200 and listed["courses"][0]["course_id"] == accepted["course_id"]


def test_chalice_local_rejects_bad_input_with_a_named_field(server: ChaliceLocal) -> None:
    status, body = server.call("POST", "/courses", {"query": "Learn DCF valuation", "hours": 2, "depth": "x"})
    assert status == 400 and body["error"]["field"] == "depth" and body["error"]["code"] == "unknown_field"
