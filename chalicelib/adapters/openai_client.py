"""The `openai` client for any OpenAI-compatible endpoint: configuration, the API key (from the
environment or Secrets Manager), timeouts and retries sized to a deadline, and error mapping.

`openai` is imported only when a client is built: its import is a large share of a cold start
(bench/RESULTS.md, "Cold start")."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from chalicelib.config import ConfigError
from chalicelib.errors import PermanentFailure, TransientError

T = TypeVar("T")

INITIAL_RETRY_WAIT = 0.5  # the client's own backoff: 0.5 s, 1 s, 2 s ... (minus up to 25% jitter)
PLACEHOLDER_KEY = "not-needed"  # local servers (Ollama, vLLM) ignore the key but the client wants one

# Known native dimensions, so `Embedder.dimension` is right before the first call.
EMBEDDING_DIMENSIONS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}


@dataclass(frozen=True)
class OpenAIConfig:
    """How to reach the model server. `deadline` bounds one planner step or one embed() call,
    all attempts and retry waits included (set it a little under the Lambda timeout)."""

    base_url: str | None = None  # None: api.openai.com
    api_key: str = field(default="", repr=False)
    chat_model: str = "gpt-4o-mini"
    embedding_model: str = "text-embedding-3-small"
    embedding_dimensions: int | None = None  # sent as `dimensions` when set
    max_tokens: int = 4096  # completion limit of a first attempt
    max_tokens_limit: int = 16384  # the larger limit a truncated answer is retried with
    timeout: float = 120.0  # upper bound of one HTTP attempt
    deadline: float = 240.0
    max_retries: int = 2
    retry_wait_cap: float = 8.0  # a Retry-After longer than this is shortened to it
    min_attempt_timeout: float = 5.0  # fewer retries rather than attempts shorter than this

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, fetch_secret: Callable[[str], str] | None = None
    ) -> OpenAIConfig:
        """From COURSEGEN_* variables; the key from COURSEGEN_OPENAI_API_KEY, OPENAI_API_KEY
        or the Secrets Manager secret COURSEGEN_OPENAI_API_KEY_SECRET_ARN."""
        env = os.environ if env is None else env
        base_url = env.get("COURSEGEN_OPENAI_BASE_URL", "").strip() or None
        dimensions = _number(env, "COURSEGEN_EMBEDDING_DIMENSIONS", 0, 1, 16384)
        timeout = _number(env, "COURSEGEN_LLM_TIMEOUT", cls.timeout, 1, 900)
        return cls(
            base_url=base_url,
            api_key=resolve_api_key(env, base_url, fetch_secret),
            chat_model=env.get("COURSEGEN_CHAT_MODEL", "").strip() or cls.chat_model,
            embedding_model=env.get("COURSEGEN_EMBEDDING_MODEL", "").strip() or cls.embedding_model,
            embedding_dimensions=int(dimensions) or None,
            max_tokens=int(_number(env, "COURSEGEN_LLM_MAX_TOKENS", cls.max_tokens, 256, 200_000)),
            timeout=timeout,
            deadline=_number(env, "COURSEGEN_LLM_DEADLINE", max(cls.deadline, timeout), 1, 900),
            max_retries=int(_number(env, "COURSEGEN_LLM_MAX_RETRIES", cls.max_retries, 0, 10)),
        )


def _number(env: Mapping[str, str], name: str, default: float, lo: float, hi: float) -> float:
    raw = env.get(name, "").strip()
    if not raw or raw.startswith("${"):
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if not lo <= value <= hi:
        raise ConfigError(f"{name}={raw} must be between {lo:g} and {hi:g}")
    return value


def resolve_api_key(
    env: Mapping[str, str], base_url: str | None, fetch_secret: Callable[[str], str] | None = None
) -> str:
    """The key from the environment, else from Secrets Manager (a plain string, or JSON with
    "api_key"); a placeholder for a custom server that needs none. OpenAI itself needs one."""
    for name in ("COURSEGEN_OPENAI_API_KEY", "OPENAI_API_KEY"):
        if (value := env.get(name, "").strip()) and not value.startswith("${"):
            return value
    arn = env.get("COURSEGEN_OPENAI_API_KEY_SECRET_ARN", "").strip()
    if arn and not arn.startswith("${"):
        return _key_from_secret((fetch_secret or _fetch_secret)(arn))
    if base_url:
        return PLACEHOLDER_KEY
    raise ConfigError(
        "the openai planner/embedder needs an API key: set COURSEGEN_OPENAI_API_KEY (or "
        "OPENAI_API_KEY), or COURSEGEN_OPENAI_API_KEY_SECRET_ARN, or COURSEGEN_OPENAI_BASE_URL "
        "for a local server that needs none"
    )


def _fetch_secret(arn: str) -> str:
    import boto3
    from botocore.exceptions import ClientError

    try:
        return str(boto3.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"])
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        raise ConfigError(
            f"cannot read the API key secret {arn} ({code}): put the key in with "
            f"`aws secretsmanager put-secret-value --secret-id {arn} --secret-string <key>`"
        ) from None


def _key_from_secret(secret: str) -> str:
    text = secret.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            raise ConfigError("the API key secret is neither a key nor valid JSON") from None
        for name in ("api_key", "OPENAI_API_KEY", "key"):
            if isinstance(data.get(name), str) and data[name].strip():
                return str(data[name]).strip()
        raise ConfigError('the API key secret is JSON without an "api_key" field')
    if not text:
        raise ConfigError("the API key secret is empty")
    return text


# --- the client ---------------------------------------------------------------------------------


def make_client(config: OpenAIConfig) -> Any:
    """An `openai.OpenAI` whose retry waits never exceed `config.retry_wait_cap`."""
    import openai

    class _CappedWaitClient(openai.OpenAI):
        # The client honours Retry-After up to two minutes, longer than most Lambda timeouts
        # allow; capping the wait keeps all attempts inside the deadline. A server that still
        # throttles after the last retry ends the step with TransientError, and Lambda retries.
        def _calculate_retry_timeout(self, *args: Any, **kwargs: Any) -> float:
            wait = float(super()._calculate_retry_timeout(*args, **kwargs))
            return min(wait, config.retry_wait_cap)

    return _CappedWaitClient(
        api_key=config.api_key or PLACEHOLDER_KEY,
        base_url=config.base_url,
        timeout=config.timeout,
        max_retries=config.max_retries,
    )


@dataclass(frozen=True)
class Attempts:
    timeout: float  # seconds per HTTP attempt
    retries: int


def plan_attempts(remaining: float, config: OpenAIConfig) -> Attempts:
    """The most retries (up to max_retries) whose attempts, at the longest timeout the budget
    leaves each, and worst-case waits between them all fit in `remaining` seconds."""
    if remaining < min(config.min_attempt_timeout, config.timeout):
        raise TransientError(f"the model call's deadline leaves only {max(remaining, 0):.1f} s")
    for retries in range(config.max_retries, 0, -1):
        waits = sum(min(INITIAL_RETRY_WAIT * 2**n, config.retry_wait_cap) for n in range(retries))
        timeout = min(config.timeout, (remaining - waits) / (retries + 1))
        if timeout >= min(config.min_attempt_timeout, config.timeout):
            return Attempts(timeout, retries)
    return Attempts(min(config.timeout, remaining), 0)


class Deadline:
    """Seconds left of a budget that started when this object was made."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._end = clock() + seconds

    @property
    def remaining(self) -> float:
        return self._end - self._clock()


# --- errors -------------------------------------------------------------------------------------

_KEY_LIKE = re.compile(r"\b(?:sk|pk|rk)-[A-Za-z0-9_*.-]{6,}")
_PERMANENT_STATUS = {400: "bad request", 401: "authentication failed", 403: "permission denied",
                     404: "not found (unknown model or wrong base URL?)", 413: "request too large",
                     422: "request not processable"}  # fmt: skip


def redact(text: str, secret: str) -> str:
    """`text` without the API key or anything shaped like one."""
    if secret and secret != PLACEHOLDER_KEY:
        text = text.replace(secret, "***")
    return _KEY_LIKE.sub("***", text)


def error_message(error: Any) -> str:
    """The server's own message of an `openai` error, without the request or response."""
    body = getattr(error, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        message = inner.get("message") if isinstance(inner, dict) else inner
        if isinstance(message, str) and message:
            return message
    return str(getattr(error, "message", "") or error)


def status_of(error: Any) -> int | None:
    status = getattr(error, "status_code", None)
    return status if isinstance(status, int) else None


def call_mapped(
    call: Callable[[], T],
    what: str,
    config: OpenAIConfig,
    permanent: type[PermanentFailure] = PermanentFailure,
) -> T:
    """`call()`, with its `openai` errors turned into ours (see `map_error`)."""
    try:
        return call()
    except Exception as error:
        failure = error
    raise map_error(failure, what, config, permanent)


def map_error(
    error: Exception, what: str, config: OpenAIConfig, permanent: type[PermanentFailure] = PermanentFailure
) -> Exception:
    """Our error for an `openai` error: throttling, 5xx, timeouts and connection errors (after
    the client's retries) are TransientError; rejected requests are `permanent`. Messages name
    the server's reason but never the key. Raise the result outside the `except` block, so the
    openai exception (which holds the request and its headers) is not even its context."""
    return _map_error(error, what, config, permanent) or error


def _map_error(
    error: Exception, what: str, config: OpenAIConfig, permanent: type[PermanentFailure]
) -> Exception | None:
    import openai

    if isinstance(error, openai.APITimeoutError):
        return TransientError(f"{what}: the model server did not answer in time")
    if isinstance(error, openai.APIConnectionError):
        return TransientError(f"{what}: cannot connect to the model server")
    if isinstance(error, openai.APIStatusError):
        status = status_of(error) or 0
        reason = redact(error_message(error), config.api_key)[:300]
        if status in (408, 409, 429) or status >= 500:
            return TransientError(f"{what}: the model server answered {status} ({reason})")
        kind = _PERMANENT_STATUS.get(status, "rejected")
        return permanent(f"{what}: the model server answered {status} {kind}: {reason}")
    if isinstance(error, openai.APIResponseValidationError | json.JSONDecodeError):
        return TransientError(f"{what}: the model server sent a malformed response")
    if isinstance(error, openai.OpenAIError):
        return permanent(f"{what}: {type(error).__name__}: {redact(str(error), config.api_key)[:300]}")
    return None
