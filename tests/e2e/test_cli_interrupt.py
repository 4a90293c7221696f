"""Ctrl-C during `coursegen generate` while the model takes its time: the command stops at once,
says which course it leaves and how to go on, stops the PostgreSQL server it started, and
`coursegen courses retry` finishes that course."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from chalicelib.adapters.localpg import LocalPostgres
from tests.support.chalice_local import run_env
from tests.support.llm_server import LLMServer

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
BOOK = ROOT / "samples" / "library" / "corporate-finance-valuation.json"


@pytest.fixture
def data_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="coursegen-interrupt-"))
    os.chmod(path, 0o755)  # reachable by the unprivileged PostgreSQL user when tests run as root
    yield path
    LocalPostgres(path).stop()
    shutil.rmtree(path, ignore_errors=True)


def run(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "coursegen"), "--data-dir", str(data_dir), *args],
        cwd=ROOT,
        env=env or run_env(data_dir),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_ctrl_c_while_the_model_plans_stops_at_once_and_retry_finishes_the_course(data_dir: Path) -> None:
    assert run(data_dir, "library", "load", str(BOOK)).returncode == 0
    with LLMServer() as model:
        model.latency = 600.0  # every chat answer: far longer than the test waits
        env = {
            **run_env(data_dir),
            "COURSEGEN_PLANNER": "openai",
            "COURSEGEN_OPENAI_BASE_URL": model.base_url,
            "COURSEGEN_OPENAI_API_KEY": "test-key",
        }
        cli = subprocess.Popen(
            [
                str(BIN / "coursegen"),
                "--data-dir",
                str(data_dir),
                "generate",
                "Learn DCF valuation",
                "--hours",
                "2",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert cli.stderr is not None
        seen = []
        for line in cli.stderr:  # the progress lines, one per phase (stderr is not a terminal)
            seen.append(line)
            if "planning the parts" in line:
                break
        assert "planning the parts" in "".join(seen), seen  # the model is being asked
        cli.send_signal(signal.SIGINT)
        # Without the prompt exit it would wait for the model's answer, ten minutes away.
        rest = cli.communicate(timeout=60)[1]
    assert cli.returncode == 130
    said = re.search(r"coursegen: interrupted; course ([0-9a-f]{32}) is kept", rest)
    assert said, rest
    course_id = said.group(1)
    assert f"`coursegen courses retry {course_id}`" in rest
    assert "Traceback" not in rest
    assert not LocalPostgres(data_dir).is_running()  # it started the server, and stopped it

    shown = run(data_dir, "courses", "show", course_id)
    assert shown.returncode == 0 and "status   planning\n" in shown.stdout, shown  # no parts yet

    resumed = run(data_dir, "courses", "retry", course_id)  # the offline planner, this time
    assert resumed.returncode == 0, resumed.stderr
    assert f"course {course_id} is planning: following it until it ends" in resumed.stderr
    assert resumed.stdout.startswith("# ") and course_id in resumed.stdout
    assert resumed.stderr.rstrip().endswith("complete")
