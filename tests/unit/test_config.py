"""Configuration: every variable is read by config.py, its errors name it, and an unreplaced
Terraform placeholder counts as unset wherever it appears."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from chalicelib import config
from chalicelib.adapters.openai_client import PLACEHOLDER_KEY, with_api_key
from chalicelib.config import ConfigError, OpenAIConfig, Settings
from chalicelib.ports import SearchParams

AWS = {
    "COURSEGEN_RUNTIME": "aws",
    "DYNAMODB_COURSE_STATE_TABLE_NAME": "states",
    "EVENT_BUS_NAME": "bus",
    "AWS_ACCOUNT_ID": "123456789012",
    "DB_CLUSTER_ENDPOINT": "db.example.com",
    "DB_NAME": "coursegen",
    "DB_MASTER_USERNAME": "admin",
    "DB_PASSWORD_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:1:secret:db",
}
REQUIRED_ON_AWS = sorted(set(AWS) - {"COURSEGEN_RUNTIME", "AWS_ACCOUNT_ID"})
PLACEHOLDER = "${var.something}"

# (variable, a value that is not a number or not a choice, a number out of range)
BAD_VALUES = [
    ("COURSEGEN_RUNTIME", "cloud", None),
    ("COURSEGEN_PLANNER", "gpt", None),
    ("COURSEGEN_EMBEDDER", "bert", None),
    ("COURSEGEN_SUMMARIZER", "gpt", None),
    ("COURSEGEN_SECTIONS", "all-at-once", None),
    ("COURSEGEN_SEARCH_TOP_K", "many", "0"),
    ("COURSEGEN_SEARCH_MIN_SIMILARITY", "high", "1.5"),
    ("COURSEGEN_SEARCH_MAX_PER_BOOK", "all", "201"),
    ("COURSEGEN_SEARCH_RELATIVE_FLOOR", "low", "-0.1"),
    ("COURSEGEN_SEARCH_EF", "fast", "1001"),
    ("COURSEGEN_SEARCH_RRF_K", "flat", "0"),
    ("COURSEGEN_SEARCH_COMMON_TERM_CHAPTERS", "many", "0"),
    ("COURSEGEN_EMBEDDING_DIMENSIONS", "wide", "0"),
    ("COURSEGEN_LLM_TIMEOUT", "soon", "0.5"),
    ("COURSEGEN_LLM_DEADLINE", "later", "901"),
    ("COURSEGEN_LLM_MAX_TOKENS", "lots", "10"),
    ("COURSEGEN_LLM_MAX_RETRIES", "some", "11"),
    ("COURSEGEN_SIGN_IN_DOMAIN", "https://learners.auth.us-east-1.amazoncognito.com/", None),
    ("COURSEGEN_SIGN_IN_CLIENT_ID", "client id", None),
    ("COURSEGEN_STALL_MINUTES_SEARCH", "soon", "0.5"),
    ("COURSEGEN_STALL_MINUTES_PARTS", "later", "1441"),
    ("COURSEGEN_STALL_MINUTES_SECTIONS", "a while", "0"),
    ("COURSEGEN_STALL_MINUTES_REVIEW", "long", "-5"),
    ("COURSEGEN_STALL_MINUTES_STORAGE", "never", "2000"),
    ("COURSEGEN_MAX_REDRIVES", "a few", "11"),
    ("COURSEGEN_WATCHDOG_INTERVAL", "often", "-1"),
]
WHOLE_NUMBERS = [
    "COURSEGEN_SEARCH_TOP_K",
    "COURSEGEN_SEARCH_MAX_PER_BOOK",
    "COURSEGEN_SEARCH_EF",
    "COURSEGEN_SEARCH_RRF_K",
    "COURSEGEN_SEARCH_COMMON_TERM_CHAPTERS",
    "COURSEGEN_EMBEDDING_DIMENSIONS",
    "COURSEGEN_LLM_MAX_TOKENS",
    "COURSEGEN_LLM_MAX_RETRIES",
    "COURSEGEN_MAX_REDRIVES",
]


class RecordingEnv(Mapping[str, str]):
    """An environment that records every variable asked for."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self.data = dict(values)
        self.asked: set[str] = set()

    def __getitem__(self, name: str) -> str:
        self.asked.add(name)
        return self.data[name]

    def get(self, name: str, default: object = None) -> object:  # type: ignore[override]
        self.asked.add(name)
        return self.data.get(name, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


def variables_read(base: Mapping[str, str]) -> set[str]:
    env = RecordingEnv(base)
    Settings.from_env(env)
    return env.asked


def test_defaults_without_any_variable() -> None:
    settings = Settings.from_env({})
    assert settings == Settings()
    assert settings.search == SearchParams() and settings.openai == OpenAIConfig()


def test_every_variable_is_read() -> None:
    config = Settings.from_env(
        {
            **AWS,
            "COURSEGEN_DATA_DIR": "/srv/coursegen",
            "COURSEGEN_LOCAL_USER": "ada",
            "COURSEGEN_PLANNER": "OpenAI",
            "COURSEGEN_EMBEDDER": "openai",
            "COURSEGEN_SECTIONS": "Sequential",
            "COURSEGEN_SEARCH_TOP_K": "30",
            "COURSEGEN_SEARCH_EF": "64",
            "COURSEGEN_OPENAI_BASE_URL": "http://127.0.0.1:11434/v1",
            "COURSEGEN_OPENAI_API_KEY_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:1:secret:key",
            "COURSEGEN_CHAT_MODEL": "llama3.1",
            "COURSEGEN_EMBEDDING_MODEL": "nomic-embed-text",
            "COURSEGEN_EMBEDDING_DIMENSIONS": "768",
            "COURSEGEN_LLM_TIMEOUT": "30",
            "COURSEGEN_LLM_DEADLINE": "280",
            "COURSEGEN_LLM_MAX_TOKENS": "2048",
            "COURSEGEN_LLM_MAX_RETRIES": "3",
        }
    )
    assert (config.runtime, config.data_dir, config.local_user) == ("aws", Path("/srv/coursegen"), "ada")
    assert (config.planner, config.embedder, config.search.top_k, config.search.ef_search) == (
        "openai",
        "openai",
        30,
        64,
    )
    assert config.aws is not None and config.aws.db_name == "coursegen"
    assert config.sections == "sequential" and Settings().sections == "parallel"
    model = config.openai
    assert (model.base_url, model.chat_model, model.embedding_model) == (
        "http://127.0.0.1:11434/v1",
        "llama3.1",
        "nomic-embed-text",
    )
    assert (model.embedding_dimensions, model.timeout, model.deadline) == (768, 30.0, 280.0)
    assert (model.max_tokens, model.max_retries, model.api_key) == (2048, 3, "")
    assert model.api_key_secret_arn == "arn:aws:secretsmanager:us-east-1:1:secret:key"


def test_the_deadline_is_never_shorter_than_one_attempt_by_default() -> None:
    assert Settings.from_env({"COURSEGEN_LLM_TIMEOUT": "600"}).openai.deadline == 600.0


@pytest.mark.parametrize(("name", "not_valid", "out_of_range"), BAD_VALUES)
def test_an_invalid_value_is_an_error_that_names_its_variable(
    name: str, not_valid: str, out_of_range: str | None
) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: not_valid})
    if out_of_range is not None:
        with pytest.raises(ConfigError, match=f"{name}={out_of_range} must be between"):
            Settings.from_env({name: out_of_range})


@pytest.mark.parametrize("name", WHOLE_NUMBERS)
def test_a_count_must_be_a_whole_number(name: str) -> None:
    with pytest.raises(ConfigError, match=f"{name}=.* is not a whole number"):
        Settings.from_env({name: "300.5" if name == "COURSEGEN_LLM_MAX_TOKENS" else "5.5"})


def test_the_bad_values_cover_every_parsed_variable() -> None:
    """A variable added to config.py without an entry in BAD_VALUES fails here."""
    free_text = {
        "COURSEGEN_DATA_DIR",
        "COURSEGEN_LOCAL_USER",
        "COURSEGEN_OPENAI_BASE_URL",
        "COURSEGEN_OPENAI_API_KEY",
        "OPENAI_API_KEY",
        "COURSEGEN_OPENAI_API_KEY_SECRET_ARN",
        "COURSEGEN_CHAT_MODEL",
        "COURSEGEN_EMBEDDING_MODEL",
        *AWS,
    } - {"COURSEGEN_RUNTIME"}
    assert variables_read(AWS) - free_text == {name for name, _, _ in BAD_VALUES}


@pytest.mark.parametrize("name", REQUIRED_ON_AWS)
def test_a_missing_aws_variable_is_named(name: str) -> None:
    env = {key: value for key, value in AWS.items() if key != name}
    with pytest.raises(ConfigError, match=f"{name} must be set for the aws runtime"):
        Settings.from_env(env)


# --- placeholders --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(variables_read({})))
def test_a_placeholder_counts_as_unset_for_every_optional_variable(name: str) -> None:
    assert Settings.from_env({name: PLACEHOLDER}) == Settings.from_env({})
    assert Settings.from_env({name: f"  {PLACEHOLDER} "}) == Settings.from_env({})


@pytest.mark.parametrize("name", sorted(variables_read(AWS) - set(REQUIRED_ON_AWS) - {"COURSEGEN_RUNTIME"}))
def test_a_placeholder_counts_as_unset_on_aws_too(name: str) -> None:
    without = {key: value for key, value in AWS.items() if key != name}
    assert Settings.from_env({**AWS, name: PLACEHOLDER}) == Settings.from_env(without)


@pytest.mark.parametrize("name", REQUIRED_ON_AWS)
def test_a_placeholder_in_a_required_variable_is_reported_as_missing(name: str) -> None:
    with pytest.raises(ConfigError, match=rf"{name} must be set .*unreplaced placeholder"):
        Settings.from_env({**AWS, name: PLACEHOLDER})


def test_a_placeholder_for_the_key_leaves_the_next_source_in_charge() -> None:
    env = {"COURSEGEN_OPENAI_API_KEY": PLACEHOLDER, "OPENAI_API_KEY": "sk-b"}
    assert Settings.from_env(env).openai.api_key == "sk-b"


# --- the API key ---------------------------------------------------------------------------------


def test_the_api_key_comes_from_the_environment_or_the_secret() -> None:
    def key(env: dict[str, str], secret: str = "") -> str:
        return with_api_key(Settings.from_env(env).openai, lambda _: secret).api_key

    assert key({"COURSEGEN_OPENAI_API_KEY": "sk-a", "OPENAI_API_KEY": "sk-x"}) == "sk-a"
    assert key({"OPENAI_API_KEY": "sk-b"}) == "sk-b"
    arn = {"COURSEGEN_OPENAI_API_KEY_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:1:secret:k"}
    assert key(arn, '{"api_key": "sk-c"}') == "sk-c"
    assert key(arn, "sk-d\n") == "sk-d"
    assert key({"COURSEGEN_OPENAI_BASE_URL": "http://127.0.0.1:1/v1"}) == PLACEHOLDER_KEY
    with pytest.raises(ConfigError, match="API key"):
        key({})
    with pytest.raises(ConfigError, match="empty"):
        key(arn, "  ")


def test_the_key_is_never_shown() -> None:
    config = with_api_key(OpenAIConfig(api_key="sk-secret-value"))
    assert "sk-secret-value" not in repr(config) and "sk-secret-value" not in repr(Settings(openai=config))


def test_only_config_reads_the_environment() -> None:
    # The rule of docs/architecture.md: every variable is read (and checked) in config.py.
    package = Path(__file__).resolve().parents[2] / "chalicelib"
    readers = sorted(
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if path.name != "config.py" and re.search(r"os\.environ|os\.getenv", path.read_text(encoding="utf-8"))
    )
    assert readers == []


def test_the_log_level_is_checked_and_the_default_is_the_callers() -> None:
    assert config.log_level("WARNING", {}) == "WARNING"
    assert config.log_level("INFO", {"COURSEGEN_LOG_LEVEL": " debug "}) == "DEBUG"
    with pytest.raises(ConfigError, match="COURSEGEN_LOG_LEVEL='LOUD'"):
        config.log_level("INFO", {"COURSEGEN_LOG_LEVEL": "loud"})
    assert config.pg_bin_dir({}) is None
    assert config.pg_bin_dir({"COURSEGEN_PG_BIN": "/opt/pg/bin"}) == Path("/opt/pg/bin")
