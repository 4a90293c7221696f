"""The watchdog's sweep on the SQLite state store: how long one sweep takes as the finished courses
pile up, with nothing stalled (every sweep but a rare one) and with stalled courses to redrive.

    .venv/bin/python -m bench.watchdog [--finished 1000,10000,50000] [--in-progress 100] [--runs 5]

The store holds `finished` complete or failed courses and `in-progress` courses spread over the
statuses in progress; the sweep reads the partial index of the courses in progress, so its time
should follow the courses in progress, not the finished ones. The stalled case redrives every
course in progress (its events go to the store's outbox in the same transaction).
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench._common import machine, table
from chalicelib import logs
from chalicelib.adapters.sqlite_state import SqliteStateStore
from chalicelib.core.events import Event
from chalicelib.core.models import CourseRequest, CourseState, Status
from chalicelib.core.watchdog import IN_PROGRESS, Policy, format_time
from chalicelib.ports import EventPublisher
from chalicelib.workflow import Watchdog

START = datetime(2026, 1, 1, tzinfo=UTC)


class OutboxOf(EventPublisher):
    """Publishes into the store's outbox, as the local bus does; delivers nothing."""

    def __init__(self, store: SqliteStateStore) -> None:
        self.outbox = store.outbox

    def publish(self, event: Event) -> None:
        self.outbox.add(event)


def fill(store: SqliteStateStore, finished: int, in_progress: int) -> None:
    ids = itertools.count()
    request = CourseRequest(query="Learn DCF valuation", hours=2)
    statuses = itertools.cycle(IN_PROGRESS)
    for n in range(finished + in_progress):
        status = (Status.COMPLETE if n % 4 else Status.FAILED) if n < finished else next(statuses)
        stamp = format_time(START + timedelta(seconds=n))
        store.create(
            CourseState(
                course_id=f"course-{next(ids):07d}",
                user_id=f"user-{n % 50}",
                request=request,
                status=status,
                created_at=stamp,
                updated_at=stamp,
            )
        )


def timed_sweeps(watchdog: Watchdog, now: datetime, runs: int) -> tuple[list[float], int]:
    times, redriven = [], 0
    for _ in range(runs):
        began = time.perf_counter()
        redriven += watchdog.sweep(now).redriven
        times.append(time.perf_counter() - began)
    return times, redriven


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--finished", default="1000,10000,50000", help="finished courses per run")
    parser.add_argument("--in-progress", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    logs.configure(level="ERROR")  # a sweep that redrives logs a line per course
    print(machine())
    rows = []
    for finished in (int(n) for n in args.finished.split(",")):
        with tempfile.TemporaryDirectory() as folder:
            store = SqliteStateStore(Path(folder) / "state.sqlite3")
            fill(store, finished, args.in_progress)
            publisher = OutboxOf(store)
            watchdog = Watchdog(store, publisher, Policy())
            late = START + timedelta(seconds=finished + args.in_progress)
            quiet, _ = timed_sweeps(watchdog, late, args.runs)  # nothing idle long enough yet
            # Far enough ahead that every course in progress is stalled; one sweep redrives them all.
            stalled, redriven = timed_sweeps(watchdog, late + timedelta(hours=1), 1)
            # The events committed with the states, in the outbox (the store writes them itself).
            assert redriven == args.in_progress and store.outbox.undelivered() >= redriven
            rows.append(
                (
                    f"{finished:,}",
                    args.in_progress,
                    f"{statistics.median(quiet) * 1000:.1f}",
                    f"{min(quiet) * 1000:.1f}-{max(quiet) * 1000:.1f}",
                    f"{stalled[0] * 1000:.0f}",
                    f"{stalled[0] / redriven * 1000:.2f}",
                )
            )
    table(
        "One sweep of the SQLite store (ms)",
        ["finished", "in progress", "nothing stalled p50", "spread", "all stalled", "per redrive"],
        rows,
    )


if __name__ == "__main__":
    main()
