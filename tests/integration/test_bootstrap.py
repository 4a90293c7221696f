"""The composition root on a Lambda cold start (AWS faked by moto): a cold start reads no
secret; the model planner and the model embedder share one client configuration, so the API key
secret is read once, by the first of them to call the model."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chalicelib import bootstrap
from chalicelib.adapters.openai_embedder import OpenAIEmbedder
from chalicelib.core.models import CourseRequest
from chalicelib.planning.openai_planner import OpenAIPlanner
from tests.support.chapter_fixtures import dcf_hits
from tests.support.llm_fixtures import (
    CourseModel,
    llm_server_fixture,  # noqa: F401 - provides the llm_server fixture
)
from tests.support.llm_server import LLMServer

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


def test_a_cold_start_reads_no_secret(secret_reads: list[str]) -> None:
    flow = bootstrap.workflow(app=None)

    assert isinstance(flow.deps.planner, OpenAIPlanner) and isinstance(flow.deps.embedder, OpenAIEmbedder)
    assert secret_reads == []  # neither the model key nor the database password


@pytest.mark.slow  # the first import of openai, and three model calls
def test_the_first_model_call_reads_the_key_once_for_the_planner_and_the_embedder_alike(
    secret_reads: list[str], llm_server: LLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COURSEGEN_OPENAI_BASE_URL", llm_server.base_url)
    monkeypatch.setenv("COURSEGEN_EMBEDDING_DIMENSIONS", str(llm_server.embedding_dimension))
    llm_server.api_key = API_KEY  # any other key is answered with a 401
    flow = bootstrap.workflow(app=None)
    planner, embedder = flow.deps.planner, flow.deps.embedder
    assert isinstance(planner, OpenAIPlanner) and isinstance(embedder, OpenAIEmbedder)

    [vector] = embedder.embed(["discounted cash flow"])
    bootstrap.make_embedder(bootstrap.settings()).embed(["terminal value"])  # a second client
    llm_server.chat_model = CourseModel()
    _, parts = planner.plan_parts(CourseRequest(query="Learn DCF valuation", hours=2), dcf_hits())

    key_arn = bootstrap.settings().openai.api_key_secret_arn
    assert len(vector) == llm_server.embedding_dimension
    assert secret_reads == [key_arn]
    assert {r.headers["authorization"] for r in llm_server.requests} == {f"Bearer {API_KEY}"}
    assert parts and len(llm_server.chat_requests()) == 1 and len(llm_server.embedding_requests()) == 2
    assert planner.config is embedder.config and planner.config.api_key == API_KEY


@pytest.mark.parametrize(("setting", "parallel"), [(None, True), ("sequential", False), ("parallel", True)])
def test_the_sections_setting_reaches_the_workflow(
    secret_reads: list[str], monkeypatch: pytest.MonkeyPatch, setting: str | None, parallel: bool
) -> None:
    if setting is None:
        monkeypatch.delenv("COURSEGEN_SECTIONS", raising=False)
    else:
        monkeypatch.setenv("COURSEGEN_SECTIONS", setting)

    assert bootstrap.workflow(app=None).deps.parallel_sections is parallel
