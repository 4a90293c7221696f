"""`chalice local` serves the routes and runs the whole workflow in process."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib.adapters.localpg import LocalPostgres
from chalicelib.cli import main

pytestmark = pytest.mark.slow  # a chalice local process started and stopped

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def call(method: str, url: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    data_dir = Path(tempfile.mkdtemp(prefix="coursegen-local-"))
    os.chmod(data_dir, 0o755)  # reachable by the unprivileged PostgreSQL user when run as root
    LocalPostgres(data_dir).ensure_running()
    samples = sorted(str(p) for p in (ROOT / "samples" / "library").glob("*.json"))
    assert main(["--data-dir", str(data_dir), "library", "load", *samples]) == 0
    port = free_port()
    env = {**os.environ, "COURSEGEN_DATA_DIR": str(data_dir)}
    chalice = Path(sys.executable).with_name("chalice")
    process = subprocess.Popen(
        [str(chalice), "local", "--stage", "local", "--no-autoreload", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)
        LocalPostgres(data_dir).stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def test_chalice_local_takes_a_course_from_post_to_a_complete_outline(server: str) -> None:
    status, accepted = call("POST", f"{server}/courses", {"query": "Learn DCF valuation", "hours": 2})
    assert status == 202 and accepted["status"] == "queued"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status, body = call("GET", server + accepted["status_url"])
        assert status == 200
        if body["status"] in ("complete", "failed"):
            break
        time.sleep(0.05)
    assert body["status"] == "complete", body
    assert body["course"]["total_minutes"] in range(114, 127)
    status, listed = call("GET", f"{server}/courses")
    assert status == 200 and listed["courses"][0]["course_id"] == accepted["course_id"]


def test_chalice_local_rejects_bad_input_with_a_named_field(server: str) -> None:
    status, body = call(
        "POST", f"{server}/courses", {"query": "Learn DCF valuation", "hours": 2, "depth": "x"}
    )
    assert status == 400 and body["error"]["field"] == "depth" and body["error"]["code"] == "unknown_field"
