"""Wall time of a course with a model planner whose every call takes L seconds: the parts'
sections planned one after another (COURSEGEN_SECTIONS=sequential) against all at once
(parallel), in one run, and the tokens each mode spends.

    .venv/bin/python -m bench.sections [--latencies 0,1,2] [--hours 2,20,40]

The embedded default (SQLite state, the in-process bus and its bounded workers, PostgreSQL with
the sample library, the offline embedder) with the model planner talking to the test server,
which answers like a model that follows the prompt and waits L seconds before each answer.
Sequentially a course makes 1 + parts + (review) calls one after another; in parallel its
critical path is the parts call, one sections call and the review call, whatever the number of
parts (`--review`: a model whose parts repeat each other, so that the review calls it).
Targets: the parallel 40 h course within 3.5 L of its time at L = 0, and no more than
15% more tokens than the sequential one.
"""

from __future__ import annotations

import argparse
import logging
import time
from dataclasses import dataclass
from typing import Any

from bench._common import embedded_workflow, machine, table, verdict
from chalicelib.core.models import CourseRequest, Preferences
from chalicelib.planning.openai_planner import OpenAIPlanner
from tests.support.llm_fixtures import CourseModel, fast_config
from tests.support.llm_server import LLMServer

QUERY = "Investing and portfolio management"
CRITICAL_PATH_CALLS = 3.5  # parts, sections, review, and half a call of slack for the bus
TOKEN_GROWTH = 0.15


@dataclass(frozen=True)
class Run:
    seconds: float
    calls: int
    tokens: int
    parts: int
    status: str


def one_course(flow: Any, hours: float, parallel: bool, timeout: float) -> Run:
    flow.deps.parallel_sections = parallel
    request = CourseRequest(query=QUERY, hours=hours, preferences=Preferences())
    start = time.perf_counter()
    course_id = flow.submit("bench-user", request).course_id
    deadline = start + timeout
    while True:
        state = flow.deps.state_store.get(course_id)
        if state is not None and state.status.is_terminal:
            break
        if time.perf_counter() > deadline:
            raise TimeoutError(f"course {course_id} still {state.status.value if state else '?'}")
        time.sleep(0.005)
    seconds = time.perf_counter() - start
    usage = state.usage
    tokens = usage.prompt_tokens + usage.completion_tokens
    return Run(seconds, usage.calls, tokens, state.parts_total, state.status.value)


def main() -> None:
    logging.getLogger("httpx2").setLevel(logging.WARNING)  # one line per model call otherwise
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latencies", default="0,1,2", help="seconds per model call, comma-separated")
    parser.add_argument("--hours", default="2,20,40", help="course lengths, comma-separated")
    parser.add_argument(
        "--review",
        action="store_true",
        help="a model whose parts repeat each other, so that the review calls it too",
    )
    args = parser.parse_args()
    latencies = [float(x) for x in args.latencies.split(",")]
    hours = [float(x) for x in args.hours.split(",")]

    rows: list[list[object]] = []
    results: dict[tuple[float, float, bool], Run] = {}
    with LLMServer() as server, embedded_workflow() as flow:
        server.chat_model = CourseModel(duplicates=args.review)
        config = fast_config(server, timeout=60.0, deadline=120.0, max_tokens=4000, max_tokens_limit=16000)
        flow.deps.planner = OpenAIPlanner(config, usage=flow.deps.usage)
        one_course(flow, 2.0, True, 60)  # warm up: connections, caches, the bus's threads
        for latency in latencies:
            server.latency = latency
            for h in hours:
                for parallel in (False, True):
                    run = one_course(flow, h, parallel, 120 + 20 * latency)
                    results[latency, h, parallel] = run
                    rows.append(
                        [
                            f"{latency:g} s",
                            f"{h:g} h",
                            "parallel" if parallel else "sequential",
                            run.parts,
                            run.calls,
                            f"{run.seconds:.2f}",
                            run.tokens,
                            run.status,
                        ]
                    )
    table(
        "Wall time per course against a model that answers after L seconds",
        ["L", "hours", "sections", "parts", "model calls", "wall s", "tokens", "status"],
        rows,
    )
    checks: list[list[object]] = []
    for latency in latencies:
        if latency == 0 or (0.0, 40.0, True) not in results or (latency, 40.0, True) not in results:
            continue
        above = results[latency, 40.0, True].seconds - results[0.0, 40.0, True].seconds
        limit = CRITICAL_PATH_CALLS * latency
        checks.append(
            [
                f"40 h parallel, L = {latency:g} s",
                f"{above:.2f} s above L = 0",
                f"<= {limit:.2f} s",
                verdict(above <= limit),
            ]
        )
    for h in hours:
        if (0.0, h, True) not in results:
            continue
        one_by_one, at_once = results[0.0, h, False].tokens, results[0.0, h, True].tokens
        growth = at_once / max(1, one_by_one) - 1
        checks.append(
            [
                f"{h:g} h tokens",
                f"{growth:+.1%} parallel vs sequential",
                f"<= {TOKEN_GROWTH:+.0%}",
                verdict(growth <= TOKEN_GROWTH),
            ]
        )
    table("Targets", ["what", "measured", "target", "verdict"], checks)
    print(machine())


if __name__ == "__main__":
    main()
