"""Throughput on the embedded default: N courses submitted at once, as N concurrent POSTs would.

    .venv/bin/python -m bench.throughput [--concurrency 1,10,50] [--rounds 3] [--hours 2]

Each course is timed from its submit to the moment its `CourseStored` event is published (the
outline is in PostgreSQL); a round ends when the bus is idle. Per N: courses per second (N over
the round's wall time) and the median and p95 completion time, each the median of --rounds
rounds, with the spread of the rounds. The in-process bus runs handlers on 4 worker threads.
"""

from __future__ import annotations

import argparse
import threading
import time
from typing import Any

from bench._common import Summary, embedded_workflow, machine, percentile, server_versions, table
from chalicelib.core.events import Event, EventName
from chalicelib.core.models import CourseRequest, Status

QUERIES = [
    "Learn DCF valuation",
    "Machine learning fundamentals: models, training and evaluation",
    "Investing and portfolio management",
    "Serverless architecture on AWS",
    "Statistics and probability for data analysis",
]


class StoredClock:
    """Wraps the bus's publish to note when each course's CourseStored event goes out."""

    def __init__(self, bus: Any) -> None:
        self._publish = bus.publish
        self.stored: dict[str, float] = {}
        self._lock = threading.Lock()
        bus.publish = self.publish

    def publish(self, event: Event) -> None:
        if event.name is EventName.COURSE_STORED:
            with self._lock:
                self.stored.setdefault(event.course_id, time.perf_counter())
        self._publish(event)


def run_round(flow: Any, clock: StoredClock, n: int, hours: float) -> tuple[float, list[float]]:
    """(wall seconds, completion seconds per course) for n courses submitted together."""
    barrier = threading.Barrier(n + 1)
    submitted: dict[str, float] = {}
    lock = threading.Lock()

    def post(i: int) -> None:
        request = CourseRequest(query=QUERIES[i % len(QUERIES)], hours=hours)
        barrier.wait()
        start = time.perf_counter()
        state = flow.submit("bench-user", request)
        with lock:
            submitted[state.course_id] = start

    threads = [threading.Thread(target=post, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    if not flow.deps.publisher.wait_idle(timeout=600):
        raise SystemExit("the bus did not go idle within 600 s")
    wall = time.perf_counter() - start
    missing = [c for c in submitted if c not in clock.stored]
    if missing:
        state = flow.deps.state_store.get(missing[0])
        status = state.status if state else None
        raise SystemExit(f"{len(missing)} of {n} courses were not stored (one is {status})")
    for course_id in submitted:
        state = flow.deps.state_store.get(course_id)
        assert state is not None and state.status is Status.COMPLETE
    return wall, [clock.stored[c] - t for c, t in submitted.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", default="1,10,50", help="courses submitted together")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per concurrency (default 3)")
    parser.add_argument("--hours", type=float, default=2.0, help="length of each course (default 2)")
    args = parser.parse_args()
    levels = [int(n) for n in args.concurrency.split(",")]

    rows = []
    with embedded_workflow() as flow:
        from chalicelib.adapters.pg import session

        with session(flow.deps.library._connect) as conn:
            versions = server_versions(conn)
        clock = StoredClock(flow.deps.publisher)
        run_round(flow, clock, 4, args.hours)  # warm up
        for n in levels:
            rates, medians, p95s = [], [], []
            for _ in range(args.rounds):
                wall, completions = run_round(flow, clock, n, args.hours)
                rates.append(n / wall)
                medians.append(percentile(completions, 50))
                p95s.append(percentile(completions, 95))
            rate, median, p95 = Summary.of(rates), Summary.of(medians), Summary.of(p95s)
            rows.append(
                (
                    n,
                    f"{rate.median:.1f}",
                    f"{rate.low:.1f}-{rate.high:.1f}",
                    median.ms(),
                    p95.ms(),
                    p95.spread_ms(),
                )
            )

    print(machine(versions))
    table(
        f"Concurrent courses, embedded default, offline planner, {args.hours:g} h each "
        f"({args.rounds} rounds; completion in ms)",
        ("courses", "courses/s", "courses/s min-max", "median completion", "p95 completion", "p95 min-max"),
        rows,
    )


if __name__ == "__main__":
    main()
