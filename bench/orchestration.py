"""Orchestration overhead per course on the embedded default: from `submit` (what POST /courses
calls) to the course stored in PostgreSQL, through the in-process bus and all six handlers.

    .venv/bin/python -m bench.orchestration [--runs 10] [--hours 1,4,20,40]

The planner and embedder are the offline ones, so nothing waits on a model; their time is
shown apart ("model stand-ins") and the target applies to the rest: the orchestration itself
(state reads and writes, events, the bus, search, storage, review, validation, logging).
Courses run one at a time; each row is the median (and min-max) of --runs courses.
"""

from __future__ import annotations

import argparse
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from bench._common import Summary, embedded_workflow, machine, server_versions, table, verdict
from chalicelib.core.models import CourseRequest, Preferences, Status

TARGET_MS = 50.0
QUERIES = [
    "Learn DCF valuation",
    "Machine learning fundamentals: models, training and evaluation",
    "Investing and portfolio management",
    "Serverless architecture on AWS",
]
MODEL_STAND_INS = ("embedder", "planner")


class Timings:
    """Seconds spent per label, summed over every thread, since the last reset."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.totals: dict[str, float] = defaultdict(float)

    def add(self, label: str, seconds: float) -> None:
        with self._lock:
            self.totals[label] += seconds

    def reset(self) -> dict[str, float]:
        with self._lock:
            totals, self.totals = dict(self.totals), defaultdict(float)
        return totals

    def timed(self, label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.add(label, time.perf_counter() - start)

        return wrapper


class Timed:
    """A stand-in for an adapter that times every method call under one label."""

    def __init__(self, target: Any, label: str, timings: Timings) -> None:
        self._target, self._label, self._timings = target, label, timings

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        return self._timings.timed(self._label, value) if callable(value) else value


def instrument(flow: Any, timings: Timings) -> None:
    """Time every adapter call and every handler invocation of the running workflow."""
    from app import app

    d = flow.deps
    d.embedder = Timed(d.embedder, "embedder", timings)
    d.planner = Timed(d.planner, "planner", timings)
    d.library = Timed(d.library, "search (PostgreSQL)", timings)
    d.course_store = Timed(d.course_store, "course store (PostgreSQL)", timings)
    d.state_store = Timed(d.state_store, "state store (SQLite)", timings)
    bus = d.publisher
    bus.publish = timings.timed("publish (match + enqueue)", bus.publish)
    for name in list(app.handler_map):
        app.handler_map[name] = timings.timed(f"handler {name}", app.handler_map[name])


def run_course(flow: Any, request: CourseRequest) -> float:
    start = time.perf_counter()
    state = flow.submit("bench-user", request)
    if not flow.deps.publisher.wait_idle(timeout=120):
        raise SystemExit("the bus did not go idle within 120 s")
    elapsed = time.perf_counter() - start
    final = flow.deps.state_store.get(state.course_id)
    if final is None or final.status is not Status.COMPLETE:
        raise SystemExit(f"course did not complete: {final.error if final else 'no state'}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="courses per row (default 10)")
    parser.add_argument("--hours", default="1,4,20,40", help="comma-separated course lengths")
    args = parser.parse_args()
    hours_list = [float(h) for h in args.hours.split(",")]

    with embedded_workflow() as flow:
        from chalicelib.adapters.pg import session

        with session(flow.deps.library._connect) as conn:
            versions = server_versions(conn)
        timings = Timings()
        instrument(flow, timings)
        for query in QUERIES:  # warm up: first search, first planner call, first PostgreSQL plans
            run_course(flow, CourseRequest(query=query, hours=2.0))
        timings.reset()

        rows, breakdowns, sections = [], {}, {}
        for hours in hours_list:
            totals, overheads, per_label = [], [], defaultdict(list)
            for i in range(args.runs):
                request = CourseRequest(
                    query=QUERIES[i % len(QUERIES)],
                    hours=hours,
                    preferences=Preferences.model_validate(
                        {"depth": ("overview", "balanced", "technical", "expert")[i % 4], "pace": "moderate"}
                    ),
                )
                elapsed = run_course(flow, request)
                spent = timings.reset()
                model = sum(spent.get(label, 0.0) for label in MODEL_STAND_INS)
                totals.append(elapsed)
                overheads.append(elapsed - model)
                for label, seconds in spent.items():
                    per_label[label].append(seconds)
            last = flow.deps.state_store.list_for_user("bench-user", limit=1)[0]
            sections[hours] = sum(len(p.sections) for p in last.reviewed)
            total, overhead = Summary.of(totals), Summary.of(overheads)
            rows.append(
                (
                    f"{hours:g} h",
                    sections[hours],
                    total.ms(),
                    Summary.of([t - o for t, o in zip(totals, overheads, strict=True)]).ms(),
                    overhead.ms(),
                    overhead.spread_ms(),
                    overhead.ms("p95"),
                    verdict(overhead.median * 1000 <= TARGET_MS),
                )
            )
            breakdowns[hours] = {label: Summary.of(v).median for label, v in per_label.items()}

    print(machine(versions))
    table(
        f"Orchestration per course, embedded default, offline planner ({args.runs} courses a row, ms)",
        (
            "course",
            "sections",
            "total",
            "model stand-ins",
            "overhead",
            "overhead min-max",
            "p95",
            f"<= {TARGET_MS:g} ms",
        ),
        rows,
    )
    labels = sorted({label for b in breakdowns.values() for label in b}, key=_label_order)
    table(
        "Where the time goes (median ms per course; handler rows include the adapter rows they call)",
        ("component", *(f"{h:g} h" for h in hours_list)),
        [(label, *(f"{breakdowns[h].get(label, 0.0) * 1000:.1f}" for h in hours_list)) for label in labels],
    )


def _label_order(label: str) -> tuple[int, str]:
    return (1 if label.startswith("handler") else 0, label)


if __name__ == "__main__":
    main()
