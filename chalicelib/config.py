"""Configuration, read from the environment when first needed (never at import time)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from chalicelib.errors import CourseGenError
from chalicelib.ports import SearchParams

RUNTIMES = ("local", "aws")
PLANNERS = ("offline", "openai")
EMBEDDERS = ("offline", "openai")


class ConfigError(CourseGenError):
    """A configuration value is missing or invalid; the message names the variable."""


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env.get(name, default).strip().lower() or default
    if value not in choices:
        raise ConfigError(f"{name}={value!r} is not one of {', '.join(choices)}")
    return value


def _number(env: Mapping[str, str], name: str, default: float, lo: float, hi: float) -> float:
    raw = env.get(name, "")
    if not raw.strip():
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if not lo <= value <= hi:
        raise ConfigError(f"{name}={raw} must be between {lo:g} and {hi:g}")
    return value


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value or value.startswith("${"):
        raise ConfigError(f"{name} must be set for the aws runtime")
    return value


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
    search: SearchParams = field(default_factory=SearchParams)
    aws: AwsSettings | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        runtime = _choice(env, "COURSEGEN_RUNTIME", "local", RUNTIMES)
        search = SearchParams(
            top_k=int(_number(env, "COURSEGEN_SEARCH_TOP_K", SearchParams.top_k, 1, 200)),
            min_similarity=_number(
                env, "COURSEGEN_SEARCH_MIN_SIMILARITY", SearchParams.min_similarity, -1.0, 1.0
            ),
            max_per_book=int(
                _number(env, "COURSEGEN_SEARCH_MAX_PER_BOOK", SearchParams.max_per_book, 1, 200)
            ),
            ef_search=int(_number(env, "COURSEGEN_SEARCH_EF", SearchParams.ef_search, 1, 1000)),
            relative_floor=_number(
                env, "COURSEGEN_SEARCH_RELATIVE_FLOOR", SearchParams.relative_floor, 0.0, 1.0
            ),
        )
        aws = None
        if runtime == "aws":
            aws = AwsSettings(
                table_name=_required(env, "DYNAMODB_COURSE_STATE_TABLE_NAME"),
                bus_name=_required(env, "EVENT_BUS_NAME"),
                account_id=env.get("AWS_ACCOUNT_ID", ""),
                db_endpoint=_required(env, "DB_CLUSTER_ENDPOINT"),
                db_name=_required(env, "DB_NAME"),
                db_user=_required(env, "DB_MASTER_USERNAME"),
                db_secret_arn=_required(env, "DB_PASSWORD_SECRET_ARN"),
            )
        return cls(
            runtime=runtime,
            data_dir=Path(env.get("COURSEGEN_DATA_DIR", "").strip() or ".coursegen"),
            local_user=env.get("COURSEGEN_LOCAL_USER", "").strip() or "local-user",
            planner=_choice(env, "COURSEGEN_PLANNER", "offline", PLANNERS),
            embedder=_choice(env, "COURSEGEN_EMBEDDER", "offline", EMBEDDERS),
            search=search,
            aws=aws,
        )
