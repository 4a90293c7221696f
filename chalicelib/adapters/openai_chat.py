"""One chat model behind an OpenAI-compatible server, as the planner and the model summariser
call it: the client built at the first call (the API key read then, when `with_key` adds it),
each request in the best format the server accepts, and each call retried within a deadline.

A server that refuses `response_format` (or `max_completion_tokens`) gets the next best thing:
json_schema, then json_object, then plain text (and `max_tokens`); the step down is remembered
for the model's lifetime, so one refusal costs one extra request, once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from ..config import OpenAIConfig
from ..errors import PermanentFailure
from .openai_client import Deadline, error_message, make_client, map_error, with_retries

log = logging.getLogger("coursegen.openai")

FORMATS = ("json_schema", "json_object", "text")  # what to ask for, best first
_FORMAT_WORDS = ("response_format", "json_schema", "json_object", "structured")

Schema = Callable[[], dict[str, Any]]  # the JSON schema of the answer, built only when sent


class ChatModel:
    def __init__(
        self,
        config: OpenAIConfig,
        client_factory: Callable[[OpenAIConfig], Any] = make_client,
        with_key: Callable[[OpenAIConfig], OpenAIConfig] | None = None,
    ) -> None:
        self.config = config  # with its API key once the client is built, if `with_key` adds it
        self._with_key = with_key
        self._client_factory = client_factory
        self._client: Any = None
        self._lock = threading.Lock()
        self.response_format = FORMATS[0]
        self.limit_param = "max_completion_tokens"

    def create(
        self,
        messages: list[dict[str, str]],
        limit: int,
        deadline: Deadline,
        what: str,
        schema_name: str,
        schema: Schema,
        permanent: type[PermanentFailure] = PermanentFailure,
    ) -> Any:
        """One chat completion within `deadline`. A rejected request is `permanent` (naming
        `what`), unless it names an option this model can do without: then it is sent again
        without it. Throttling, 5xx and timeouts past the retries are TransientError."""
        import openai  # only here: its import is a large share of a cold start (bench/RESULTS.md)

        for _ in range(len(FORMATS) + 1):
            request = self.request(messages, limit, schema_name, schema)
            try:
                return self._send(request, deadline)
            except Exception as error:
                failure = error
            rejected = isinstance(failure, openai.BadRequestError | openai.UnprocessableEntityError)
            if not (rejected and self.step_down(error_message(failure))):
                raise map_error(failure, what, self.config, permanent)
        raise permanent(f"{what}: the server rejected every request format")

    def request(
        self, messages: list[dict[str, str]], limit: int, schema_name: str, schema: Schema
    ) -> dict[str, Any]:
        """The request body in the format the server is known to accept."""
        request: dict[str, Any] = {
            "model": self.config.chat_model,
            "messages": messages,
            self.limit_param: limit,
        }
        if self.response_format == "json_schema":
            request["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": schema_name, "strict": True, "schema": schema()},
            }
        elif self.response_format == "json_object":
            request["response_format"] = {"type": "json_object"}
        return request

    def step_down(self, message: str) -> bool:
        """Whether a rejected request names an option we can do without (and now will)."""
        text = message.lower()
        with self._lock:
            if self.limit_param == "max_completion_tokens" and "max_completion_tokens" in text:
                self.limit_param = "max_tokens"
            elif self.response_format != "text" and any(word in text for word in _FORMAT_WORDS):
                self.response_format = FORMATS[FORMATS.index(self.response_format) + 1]
            else:
                return False
        log.info("the model server refused a request option; now using response_format=%s, %s",
                 self.response_format, self.limit_param)  # fmt: skip
        return True

    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                if self._with_key is not None:
                    self.config = self._with_key(self.config)
                self._client = self._client_factory(self.config)
            return self._client

    def _send(self, request: dict[str, Any], deadline: Deadline) -> Any:
        """One chat completion, tried again within `deadline` when a retry can help."""
        client = self.client()
        return with_retries(
            lambda timeout: client.chat.completions.create(**request, timeout=timeout), deadline, self.config
        )


def token_counts(
    response: Any, messages: list[dict[str, str]], text: str, estimate: Callable[[str], int]
) -> tuple[int, int]:
    """The prompt and completion tokens the server reports; estimated (`estimate`) for a server
    that reports none."""
    usage = getattr(response, "usage", None)
    prompt_tokens = getattr(usage, "prompt_tokens", None)
    completion_tokens = getattr(usage, "completion_tokens", None)
    if not isinstance(prompt_tokens, int):
        prompt_tokens = sum(estimate(m["content"]) for m in messages)
    if not isinstance(completion_tokens, int):
        completion_tokens = estimate(text)
    return prompt_tokens, completion_tokens
