"""The `openai` client for any OpenAI-compatible endpoint: the API key (from the environment or
Secrets Manager), timeouts and retries sized to a deadline, and error mapping. Its settings are
`chalicelib.config.OpenAIConfig`.

`openai` is imported only when a client is built: its import is a large share of a cold start
(bench/RESULTS.md, "Cold start")."""

from __future__ import annotations

import email.utils
import json
import math
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from ..config import ConfigError, OpenAIConfig
from ..errors import PermanentFailure, TransientError

T = TypeVar("T")

INITIAL_RETRY_WAIT = 0.5  # backoff between attempts: 0.5 s, 1 s, 2 s ... (minus up to 25% jitter)
PLACEHOLDER_KEY = "not-needed"  # local servers (Ollama, vLLM) ignore the key but the client wants one

# Known native dimensions, so `Embedder.dimension` is right before the first call.
EMBEDDING_DIMENSIONS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}


def with_api_key(config: OpenAIConfig, fetch_secret: Callable[[str], str] | None = None) -> OpenAIConfig:
    """`config` with the key a client sends: the one from the environment, else the one in
    Secrets Manager (a plain string, or JSON with "api_key"), else a placeholder for a custom
    server that needs none. OpenAI itself needs one."""
    if config.api_key:
        return config
    if config.api_key_secret_arn:
        secret = (fetch_secret or _fetch_secret)(config.api_key_secret_arn)
        return replace(config, api_key=_key_from_secret(secret))
    if config.base_url:
        return replace(config, api_key=PLACEHOLDER_KEY)
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
    """An `openai.OpenAI` that does not retry by itself: callers retry through `with_retries`,
    which keeps every attempt and wait inside their deadline."""
    import openai

    return openai.OpenAI(
        api_key=config.api_key or PLACEHOLDER_KEY,
        base_url=config.base_url,
        timeout=config.timeout,
        max_retries=0,
    )


def with_retries(
    call: Callable[[float], T],
    deadline: Deadline,
    config: OpenAIConfig,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """`call(timeout)`, tried again after a failure a retry can fix (see `is_retryable`), in as
    many attempts as `plan_attempts` fits in what is left of `deadline`. Between attempts it
    waits what the server's Retry-After asks, else 0.5 s, 1 s, 2 s ... (less up to 25% jitter),
    never longer than `config.retry_wait_cap`: the client's own retries honour a Retry-After of
    up to two minutes, longer than most Lambda timeouts allow. Any other failure, the last one,
    and one whose wait would outlast the deadline, is raised as the client raised it."""
    attempts = plan_attempts(deadline.remaining, config)
    for retry in range(attempts.retries + 1):
        try:
            return call(attempts.timeout)
        except Exception as error:
            wait = retry_wait(error, retry, config) if is_retryable(error) else None
            if retry == attempts.retries or wait is None or wait >= deadline.remaining:
                raise
        sleep(wait)
    raise AssertionError("unreachable")


def is_retryable(error: Exception) -> bool:
    """What the `openai` client itself retries: timeouts, connection errors, 408, 409, 429 and
    5xx answers, unless the server's `x-should-retry` header says otherwise."""
    import openai

    if isinstance(error, openai.APIConnectionError):  # APITimeoutError included
        return True
    if not isinstance(error, openai.APIStatusError):
        return False
    should_retry = error.response.headers.get("x-should-retry")
    if should_retry in ("true", "false"):
        return bool(should_retry == "true")
    return error.status_code in (408, 409, 429) or error.status_code >= 500


def retry_wait(error: object, retry: int, config: OpenAIConfig, jitter: float | None = None) -> float:
    """Seconds to wait before retry number `retry` + 1 (0-based) after `error`."""
    wait = retry_after(error)
    if wait is None:
        wait = INITIAL_RETRY_WAIT * 2**retry * (1 - 0.25 * (random.random() if jitter is None else jitter))
    return min(wait, config.retry_wait_cap)


def retry_after(error: object) -> float | None:
    """The wait in seconds an error answer asks for (`retry-after-ms`, or `retry-after` in
    seconds or as an HTTP date); None when it asks for none, or for none that is positive."""
    response = getattr(error, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    millis = _as_float(headers.get("retry-after-ms"))
    value = headers.get("retry-after") or ""
    seconds = millis / 1000 if millis is not None else _as_float(value)
    if seconds is None and value:
        seconds = _seconds_until(value)
    return seconds if seconds is not None and math.isfinite(seconds) and seconds > 0 else None


def _as_float(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _seconds_until(http_date: str) -> float | None:
    try:
        moment = email.utils.parsedate_to_datetime(http_date)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None
    return (moment - datetime.now(UTC)).total_seconds()


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
