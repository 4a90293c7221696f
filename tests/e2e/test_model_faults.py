"""Model endpoint faults at a high injected rate, over whole courses: 429s, 500s, timeouts,
malformed bodies and truncated answers. Every course ends complete (passing every rule) or
failed with a specific reason, in bounded time; none is left in progress."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from chalice.test import Client

from app import app
from chalicelib import bootstrap
from chalicelib.core.models import Status
from chalicelib.workflow import Workflow
from tests.e2e.test_course_end_to_end import post
from tests.e2e.test_llm_workflow import check_every_rule
from tests.support.llm_fixtures import CourseModel
from tests.support.llm_server import LLMServer, Reply, malformed, rate_limited, server_error, slow, truncated
from tests.support.runtime import bus_of

FAULT_RATE = 0.4
COURSES = 8
BOUND = 120.0  # seconds for every course to reach a terminal status

pytestmark = pytest.mark.slow


class FlakyModel:
    """The scripted course model behind a server that fails `rate` of the calls, the fault drawn
    from a seeded generator (the order of concurrent calls still varies between runs)."""

    def __init__(self, model: CourseModel, rate: float, seed: int) -> None:
        self.model, self.rate = model, rate
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.served: Counter[str] = Counter()
        self.faults: dict[str, Callable[[dict[str, Any]], Reply]] = {
            "429": lambda body: rate_limited(0.01),
            "500": lambda body: server_error(),
            "timeout": lambda body: slow(2.5),  # longer than the 2 s attempt timeout
            "malformed": lambda body: malformed(),
            "truncated": lambda body: truncated(self._content(body)),
        }

    def _content(self, body: dict[str, Any]) -> str:
        reply = self.model(body)
        assert isinstance(reply.body, dict)
        return str(reply.body["choices"][0]["message"]["content"])

    def __call__(self, body: dict[str, Any]) -> Reply:
        with self.lock:
            fault = self.random.choice(sorted(self.faults)) if self.random.random() < self.rate else "ok"
            self.served[fault] += 1
        return self.model(body) if fault == "ok" else self.faults[fault](body)


@pytest.fixture
def client(llm_workflow: Workflow, llm_server: LLMServer) -> Iterator[Client]:
    bootstrap.configure_workflow(llm_workflow)
    llm_server.chat_queue.clear()
    llm_server.models = None
    yield Client(app, stage_name="local")
    bus_of(llm_workflow).wait_idle(timeout=60)
    bootstrap.reset()


def test_every_course_ends_complete_or_failed_with_a_reason_under_frequent_model_faults(
    client: Client,
    llm_workflow: Workflow,
    llm_server: LLMServer,
) -> None:
    llm_server.chat_model = flaky = FlakyModel(CourseModel(), FAULT_RATE, seed=20261201)
    queries = ["Learn DCF valuation", "Learn SQL joins and indexing", "Portfolio diversification"]
    started = time.monotonic()
    ids = []
    for k in range(COURSES):
        response = post(client, {"query": queries[k % len(queries)], "hours": 1 + k % 3})
        assert response.status_code == 202, response.json_body
        ids.append(response.json_body["course_id"])

    bodies: dict[str, dict[str, Any]] = {}
    while len(bodies) < len(ids) and time.monotonic() - started < BOUND:
        for course_id in ids:
            if course_id not in bodies:
                body = client.http.get(f"/courses/{course_id}").json_body
                if Status(body["status"]).is_terminal:
                    bodies[course_id] = body
        time.sleep(0.05)

    stuck = {i: client.http.get(f"/courses/{i}").json_body["status"] for i in ids if i not in bodies}
    assert not stuck, f"courses left in progress after {BOUND:.0f} s: {stuck}"
    outcomes = Counter(body["status"] for body in bodies.values())
    seen = f"{dict(outcomes)} of {COURSES} courses; model calls served: {dict(flaky.served)}"
    assert sum(n for fault, n in flaky.served.items() if fault != "ok") >= 5, seen  # the faults happened
    for body in bodies.values():
        if body["status"] == "complete":
            check_every_rule(llm_workflow, body)
        else:
            error = body["error"]
            assert error["phase"] in {"parts", "sections", "review"}, error
            assert len(error["reason"]) > 20, error  # a specific reason, not just "failed"
    assert outcomes["complete"] >= COURSES // 2, seen  # retries absorb most faults


def test_a_model_that_never_recovers_fails_the_course_with_its_reason_once_retries_are_spent(
    client: Client,
    llm_workflow: Workflow,
    llm_server: LLMServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    llm_server.chat_model = lambda body: server_error()
    # The bus gives up after a few seconds instead of its minute; the reason is the same.
    monkeypatch.setattr(llm_workflow.deps.publisher, "retry_window", 3.0)
    started = time.monotonic()

    response = post(client, {"query": "Learn DCF valuation", "hours": 1})
    course_id = response.json_body["course_id"]
    while time.monotonic() - started < BOUND:
        body = client.http.get(f"/courses/{course_id}").json_body
        if Status(body["status"]).is_terminal:
            break
        time.sleep(0.05)

    assert body["status"] == "failed"
    assert body["error"]["phase"] == "parts"
    assert "500" in body["error"]["reason"] or "server" in body["error"]["reason"].lower()
    asked = len(
        [r for r in llm_server.chat_requests() if r["messages"][-1]["content"].startswith("Plan the parts")]
    )
    assert asked >= 3  # the client's retries, and the bus's redeliveries, were all tried first
