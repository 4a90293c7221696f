"""No course left behind: `chalice local` and `coursegen generate` run as real processes, are killed
at seeded random moments and started again on the same data dir; every accepted course completes
and none stays in progress. Several processes share one data dir and its PostgreSQL server.

COURSEGEN_KILL_SCHEDULES=N runs N more seeded schedules of the `chalice local` test."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from chalicelib.adapters.localpg import LocalPostgres
from chalicelib.adapters.sqlite_state import SqliteStateStore
from chalicelib.core.models import CourseState, Status
from tests.support.chalice_local import ChaliceLocal, run_env

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = sorted(str(path) for path in (ROOT / "samples" / "library").glob("*.json"))
BIN = Path(sys.executable).parent
LOCAL_USER = "local-user"
FINISH_WITHIN = 120.0  # seconds, for every course of a schedule on a busy two-core machine
QUERIES = ("Learn DCF valuation", "Financial statement analysis", "Portfolio management and investing")


def coursegen(data_dir: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(BIN / "coursegen"), "--data-dir", str(data_dir), *args],
        cwd=ROOT,
        env=run_env(data_dir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@pytest.fixture(scope="module")
def template() -> Iterator[Path]:
    """A data dir with the sample library loaded and PostgreSQL stopped: `coursegen library load`
    started it for itself and stopped it on exit, as the last process using it."""
    path = Path(tempfile.mkdtemp(prefix="coursegen-crash-template-"))
    os.chmod(path, 0o755)  # reachable by the unprivileged PostgreSQL user when tests run as root
    loader = coursegen(path, "library", "load", *SAMPLES)
    _, err = loader.communicate(timeout=120)
    assert loader.returncode == 0, err.decode()
    assert not LocalPostgres(path).is_running()  # the loader was its only user
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def data_dir(template: Path) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="coursegen-crash-"))
    os.chmod(path, 0o755)
    # cp -a keeps the cluster's owner (an unprivileged user when the tests run as root).
    subprocess.run(["cp", "-a", f"{template}/.", str(path)], check=True)
    (path / "pg-run").mkdir(exist_ok=True)
    yield path
    LocalPostgres(path).stop()
    shutil.rmtree(path, ignore_errors=True)


@dataclass
class Figures:
    courses: int = 0
    kills: int = 0
    in_flight_at_kills: int = 0  # courses neither complete nor failed just after a kill
    completed: int = 0
    recoveries: list[float] = field(default_factory=list)

    def line(self, what: str) -> str:
        worst = max(self.recoveries, default=0.0)
        return (
            f"{what}: {self.courses} courses, {self.kills} kills with {self.in_flight_at_kills} courses"
            f" in flight, {self.completed} completed, slowest recovery {worst:.1f} s"
        )


def all_states(data_dir: Path) -> list[CourseState]:
    return SqliteStateStore(data_dir / "state.sqlite3").list_for_user(LOCAL_USER, limit=10_000)


def wait_all_terminal(data_dir: Path, timeout: float = FINISH_WITHIN) -> list[CourseState]:
    deadline = time.monotonic() + timeout
    while True:
        states = all_states(data_dir)
        running = [f"{s.course_id}: {s.status.value}" for s in states if not s.status.is_terminal]
        if not running:
            return states
        assert time.monotonic() < deadline, f"still in progress after {timeout} s: {running}"
        time.sleep(0.1)


def assert_every_course_complete(states: list[CourseState], accepted: set[str]) -> None:
    by_id = {state.course_id: state for state in states}
    assert accepted <= set(by_id), accepted - set(by_id)
    failed = {s.course_id: s.error for s in states if s.status is not Status.COMPLETE}
    assert not failed, failed


def post_courses(server: ChaliceLocal, rng: random.Random, count: int, accepted: set[str]) -> None:
    for _ in range(count):
        body = {"query": rng.choice(QUERIES), "hours": rng.choice((8, 16, 24, 40))}
        try:
            status, answer = server.call("POST", "/courses", body)
        except OSError:
            return  # the server was killed under this request
        if status == 202:
            accepted.add(answer["course_id"])


def kill_schedule(data_dir: Path, seed: int, figures: Figures, kills: int = 2, courses: int = 12) -> None:
    """Post long courses, kill `chalice local` at a random moment (while posting or while the
    courses run; mostly SIGKILL, sometimes Ctrl-C), restart it; `kills` times, then let the last
    one finish every course."""
    rng = random.Random(seed)
    accepted: set[str] = set()
    for _ in range(kills):
        server = ChaliceLocal(data_dir)
        poster = threading.Thread(target=post_courses, args=(server, rng, courses, accepted))
        poster.start()
        wait_for = len(accepted) + 1
        deadline = time.monotonic() + 30
        while len(accepted) < wait_for and poster.is_alive() and time.monotonic() < deadline:
            time.sleep(0.005)  # the kill moment counts from the first course this server accepted
        time.sleep(rng.uniform(0.0, 0.5))
        server.stop(rng.choice((signal.SIGKILL, signal.SIGKILL, signal.SIGINT)))
        poster.join(timeout=60)
        figures.kills += 1
        figures.in_flight_at_kills += sum(not s.status.is_terminal for s in all_states(data_dir))
    restarted = time.monotonic()
    server = ChaliceLocal(data_dir)
    states = wait_all_terminal(data_dir)
    figures.recoveries.append(time.monotonic() - restarted)
    assert_every_course_complete(states, accepted)
    figures.courses += len(states)
    figures.completed += sum(state.status is Status.COMPLETE for state in states)
    assert server.call("GET", "/courses")[0] == 200
    assert LocalPostgres(data_dir).is_running()
    server.stop(signal.SIGINT)
    # chalice local started PostgreSQL for itself; the last process using it stopped it.
    assert not LocalPostgres(data_dir).is_running()


def report(line: str) -> None:
    print(line, file=sys.stderr)


@pytest.mark.slow
def test_chalice_local_killed_at_random_moments_completes_every_course_after_a_restart(
    data_dir: Path,
) -> None:
    figures = Figures()
    kill_schedule(data_dir, seed=1, figures=figures)
    report(figures.line("chalice local, seed 1"))
    assert figures.courses > 0 and figures.completed == figures.courses


@pytest.mark.slow
@pytest.mark.parametrize(
    "seed", [2, 3, *range(100, 100 + int(os.environ.get("COURSEGEN_KILL_SCHEDULES", "0")))]
)
def test_more_kill_schedules_of_chalice_local(data_dir: Path, seed: int) -> None:
    figures = Figures()
    kill_schedule(data_dir, seed=seed, figures=figures)
    report(figures.line(f"chalice local, seed {seed}"))
    assert figures.courses > 0 and figures.completed == figures.courses


def cli_course(data_dir: Path, hours: int) -> subprocess.Popen[bytes]:
    return coursegen(data_dir, "generate", "Learn DCF valuation", "--hours", str(hours), "--json")


IN_PROGRESS = (Status.QUEUED, Status.SEARCHING, Status.PLANNING, Status.GENERATING_SECTIONS, Status.REVIEWING)


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
@pytest.mark.slow
def test_a_cli_stopped_mid_course_leaves_its_course_to_the_next_process(
    data_dir: Path, how: signal.Signals
) -> None:
    # A course takes a fraction of a second: stop the CLI as soon as its course is seen in a
    # phase picked by the seed (or any later one still in progress).
    target = IN_PROGRESS.index(random.Random(int(how)).choice(IN_PROGRESS))
    cli = cli_course(data_dir, 40)
    deadline = time.monotonic() + 60
    while True:
        states = all_states(data_dir)
        if states and states[0].status in IN_PROGRESS[target:]:
            break
        assert not states or not states[0].status.is_terminal, "the course finished before the stop"
        assert cli.poll() is None, cli.stderr.read().decode() if cli.stderr else ""
        assert time.monotonic() < deadline, "the CLI created no course"
        time.sleep(0.002)
    cli.send_signal(how)
    cli.wait(timeout=60)
    [left] = all_states(data_dir)

    started = time.monotonic()
    server = ChaliceLocal(data_dir)  # the next process to start on the data dir
    states = wait_all_terminal(data_dir)
    took = time.monotonic() - started
    report(f"CLI {how.name} while {left.status.value}: completed {took:.1f} s after the next process started")
    assert_every_course_complete(states, {left.course_id})
    server.stop(signal.SIGINT)


@pytest.mark.slow
def test_two_clis_and_chalice_local_share_one_data_dir_round_after_round(data_dir: Path) -> None:
    rounds = 2
    server = ChaliceLocal(data_dir)
    accepted: set[str] = set()
    for round_ in range(rounds):
        clis = [cli_course(data_dir, hours) for hours in (2, 3)]
        status, answer = server.call("POST", "/courses", {"query": QUERIES[round_ % 3], "hours": 4})
        assert status == 202, answer
        accepted.add(answer["course_id"])
        for cli in clis:
            _, err = cli.communicate(timeout=120)
            assert cli.returncode == 0, err.decode()
        # Each CLI left; the server chalice local started for itself is still serving it.
        assert LocalPostgres(data_dir).is_running()
        assert server.call("GET", "/courses")[0] == 200
    states = wait_all_terminal(data_dir)
    assert len(states) == 3 * rounds
    assert_every_course_complete(states, accepted)
    server.stop(signal.SIGINT)
    assert not LocalPostgres(data_dir).is_running()
