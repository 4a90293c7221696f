"""Retries of model calls (`openai_client.with_retries`) through the real `openai` client and the
local test server: what is retried, how long it waits, and that it never outlasts the deadline."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from types import SimpleNamespace

import pytest

from chalicelib.adapters.openai_client import (
    Deadline,
    make_client,
    plan_attempts,
    retry_after,
    retry_wait,
    with_retries,
)
from chalicelib.adapters.openai_embedder import OpenAIEmbedder
from chalicelib.config import OpenAIConfig
from chalicelib.errors import PermanentFailure, TransientError
from tests.support.llm_fixtures import (
    fast_config,
    llm_server_fixture,  # noqa: F401 - provides the llm_server fixture
)
from tests.support.llm_server import LLMServer, error, rate_limited, server_error


def answer(headers: dict[str, str]) -> SimpleNamespace:
    """Something shaped like an `openai` error answer: only its headers matter here."""
    return SimpleNamespace(response=SimpleNamespace(headers=headers))


def test_the_client_itself_never_retries(llm_server: LLMServer) -> None:
    assert make_client(fast_config(llm_server)).max_retries == 0


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after": "3"}, 3.0),
        ({"retry-after": "1.5", "retry-after-ms": "40"}, 0.04),
        ({"retry-after-ms": "soon", "retry-after": "2"}, 2.0),
        ({"retry-after": "0"}, None),
        ({"retry-after": "-4"}, None),
        ({"retry-after": "whenever"}, None),
        ({}, None),
    ],
)
def test_the_wait_a_server_asks_for(headers: dict[str, str], seconds: float | None) -> None:
    assert retry_after(answer(headers)) == seconds


def test_a_retry_after_date_is_read() -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    wait = retry_after(answer({"retry-after": later}))
    assert wait is not None and 25 < wait <= 30


def test_waits_back_off_and_never_exceed_the_cap() -> None:
    config = OpenAIConfig(retry_wait_cap=3.0)
    nothing_asked = answer({})
    assert [retry_wait(nothing_asked, n, config, jitter=0.0) for n in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert retry_wait(nothing_asked, 0, config, jitter=1.0) == 0.375
    assert retry_wait(answer({"retry-after": "60"}), 0, config) == 3.0


def test_attempts_and_waits_fit_in_the_deadline() -> None:
    config = OpenAIConfig(timeout=120, max_retries=2, retry_wait_cap=8, min_attempt_timeout=5)
    attempts = plan_attempts(100, config)
    waits = 0.5 + 1.0
    assert attempts.retries == 2 and attempts.timeout * 3 + waits <= 100
    short = plan_attempts(12, config)
    assert short.retries <= 1 and short.timeout * (short.retries + 1) + 0.5 * short.retries <= 12
    with pytest.raises(TransientError):
        plan_attempts(1, config)


def test_a_failure_no_retry_can_fix_is_raised_at_once() -> None:
    calls: list[float] = []

    def refuse(timeout: float) -> None:
        calls.append(timeout)
        raise ValueError("not an openai error")

    with pytest.raises(ValueError):
        with_retries(refuse, Deadline(10), OpenAIConfig(max_retries=3), sleep=lambda _: None)
    assert len(calls) == 1


def test_throttling_waits_what_the_server_asks(llm_server: LLMServer) -> None:
    llm_server.embedding_queue.append(rate_limited(0.3))
    started = time.monotonic()
    OpenAIEmbedder(fast_config(llm_server, retry_wait_cap=5.0)).embed(["x"])
    assert time.monotonic() - started >= 0.3
    assert len(llm_server.embedding_requests()) == 2


def test_a_retry_after_longer_than_the_cap_is_shortened(llm_server: LLMServer) -> None:
    llm_server.embedding_queue.append(rate_limited(60))
    started = time.monotonic()
    OpenAIEmbedder(fast_config(llm_server, retry_wait_cap=0.05)).embed(["x"])
    assert time.monotonic() - started < 2.0
    assert len(llm_server.embedding_requests()) == 2


def test_a_wait_that_would_outlast_the_deadline_is_not_waited(llm_server: LLMServer) -> None:
    llm_server.embedding_queue.extend([rate_limited(4)] * 3)
    started = time.monotonic()
    with pytest.raises(TransientError, match="429"):
        OpenAIEmbedder(fast_config(llm_server, retry_wait_cap=10.0, deadline=2.0)).embed(["x"])
    assert time.monotonic() - started < 1.0
    assert len(llm_server.embedding_requests()) == 1


def test_the_server_may_forbid_a_retry(llm_server: LLMServer) -> None:
    llm_server.embedding_queue.append(error(503, "down for maintenance", {"x-should-retry": "false"}))
    with pytest.raises(TransientError, match="503"):
        OpenAIEmbedder(fast_config(llm_server)).embed(["x"])
    assert len(llm_server.embedding_requests()) == 1


def test_the_server_may_ask_for_a_retry_of_what_is_otherwise_final(llm_server: LLMServer) -> None:
    llm_server.embedding_queue.append(error(400, "try again", {"x-should-retry": "true"}))
    assert len(OpenAIEmbedder(fast_config(llm_server)).embed(["x"])) == 1
    assert len(llm_server.embedding_requests()) == 2


def test_a_rejected_request_is_not_retried(llm_server: LLMServer) -> None:
    llm_server.embedding_queue.append(error(400, "bad input"))
    with pytest.raises(PermanentFailure, match="400"):
        OpenAIEmbedder(fast_config(llm_server)).embed(["x"])
    assert len(llm_server.embedding_requests()) == 1


def test_retries_stop_after_max_retries(llm_server: LLMServer) -> None:
    llm_server.embedding_queue.extend([server_error()] * 5)
    with pytest.raises(TransientError, match="500"):
        OpenAIEmbedder(fast_config(llm_server, max_retries=3)).embed(["x"])
    assert len(llm_server.embedding_requests()) == 4
