"""The composition root on a Lambda cold start (AWS faked by moto): the model planner and the
model embedder share one client configuration, so the API key secret is read once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chalicelib import bootstrap
from chalicelib.adapters.openai_embedder import OpenAIEmbedder
from chalicelib.planning.openai_planner import OpenAIPlanner

API_KEY = "sk-from-the-secret-0123456789"


@pytest.fixture
def secret_reads(aws_credentials: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The environment of a deployed Lambda with the model planner and embedder; yields the
    SecretId of every GetSecretValue request made from then on."""
    with mock_aws():
        secrets = boto3.client("secretsmanager")
        db_arn = secrets.create_secret(Name="db", SecretString='{"password": "pw"}')["ARN"]
        key_arn = secrets.create_secret(Name="openai", SecretString=f'{{"api_key": "{API_KEY}"}}')["ARN"]
        for name, value in {
            "COURSEGEN_RUNTIME": "aws",
            "DYNAMODB_COURSE_STATE_TABLE_NAME": "course-state",
            "EVENT_BUS_NAME": "course-bus",
            "DB_CLUSTER_ENDPOINT": "db.cluster.example.com",
            "DB_NAME": "coursegen",
            "DB_MASTER_USERNAME": "admin",
            "DB_PASSWORD_SECRET_ARN": db_arn,
            "COURSEGEN_PLANNER": "openai",
            "COURSEGEN_EMBEDDER": "openai",
            "COURSEGEN_OPENAI_API_KEY_SECRET_ARN": key_arn,
        }.items():
            monkeypatch.setenv(name, value)
        for name in ("COURSEGEN_OPENAI_API_KEY", "OPENAI_API_KEY", "COURSEGEN_OPENAI_BASE_URL"):
            monkeypatch.delenv(name, raising=False)

        reads: list[str] = []

        def record(params: dict[str, Any], **_: Any) -> None:
            reads.append(params["SecretId"])

        boto3.setup_default_session()  # clients made from here on carry the hook
        assert boto3.DEFAULT_SESSION is not None
        boto3.DEFAULT_SESSION.events.register("provide-client-params.secrets-manager.GetSecretValue", record)
        bootstrap.reset()
        try:
            yield reads
        finally:
            bootstrap.reset()
            boto3.DEFAULT_SESSION = None


def test_a_cold_start_reads_the_api_key_secret_once(secret_reads: list[str]) -> None:
    flow = bootstrap.workflow(app=None)

    key_arn = bootstrap.settings().openai.api_key_secret_arn
    assert secret_reads.count(key_arn) == 1  # type: ignore[arg-type]
    planner, embedder = flow.deps.planner, flow.deps.embedder
    assert isinstance(planner, OpenAIPlanner) and isinstance(embedder, OpenAIEmbedder)
    assert planner.config is embedder.config
    assert planner.config.api_key == API_KEY


def test_building_again_in_the_same_process_reads_no_secret_again(secret_reads: list[str]) -> None:
    bootstrap.workflow(app=None)
    settings = bootstrap.settings()
    bootstrap.configure(settings, app=None)
    bootstrap.make_embedder(settings)

    assert secret_reads.count(settings.openai.api_key_secret_arn) == 1  # type: ignore[arg-type]


@pytest.mark.parametrize(("setting", "parallel"), [(None, True), ("sequential", False), ("parallel", True)])
def test_the_sections_setting_reaches_the_workflow(
    secret_reads: list[str], monkeypatch: pytest.MonkeyPatch, setting: str | None, parallel: bool
) -> None:
    if setting is None:
        monkeypatch.delenv("COURSEGEN_SECTIONS", raising=False)
    else:
        monkeypatch.setenv("COURSEGEN_SECTIONS", setting)

    assert bootstrap.workflow(app=None).deps.parallel_sections is parallel
