"""Counting the model tokens a planning step spends, per course, even with concurrent courses."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from ..core.models import TokenUsage

UsageSink = Callable[[str, int, int], None]  # (phase, prompt tokens, completion tokens) of one call


class UsageTally:
    def __init__(self) -> None:
        self.usage = TokenUsage()


class UsageRecorder:
    """A usage sink that totals the calls made inside `measure()`. Each thread (and each
    asyncio task) has its own tally, so concurrent courses never mix their counts:

        with recorder.measure() as tally:
            planner.plan_parts(request, chapters)
        state = state.model_copy(update={"usage": state.usage.plus(tally.usage)})
    """

    def __init__(self) -> None:
        self._current: ContextVar[UsageTally | None] = ContextVar(f"usage-{id(self)}", default=None)

    def __call__(self, phase: str, prompt_tokens: int, completion_tokens: int) -> None:
        tally = self._current.get()
        if tally is not None:
            tally.usage = tally.usage.add(phase, prompt_tokens, completion_tokens)

    @contextmanager
    def measure(self) -> Iterator[UsageTally]:
        tally = UsageTally()
        token = self._current.set(tally)
        try:
            yield tally
        finally:
            self._current.reset(token)
