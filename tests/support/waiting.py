"""Waiting for something another thread does: poll a condition until it holds or a deadline
passes, so a test neither sleeps a fixed time and hopes nor hangs when the condition never holds."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

POLL_INTERVAL = 0.02  # seconds: short next to any step of a course, long next to a state read


def wait_until(condition: Callable[[], T], timeout: float, what: str) -> T:
    """The first truthy value `condition` returns; fails saying `what` was awaited after `timeout`
    seconds, with the last value seen."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not after {timeout} s (last seen: {value!r})")
        time.sleep(POLL_INTERVAL)
