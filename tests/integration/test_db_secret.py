"""The database password secret (moto's Secrets Manager): read on first use, read again only
past a refused password, and a secret that cannot be used named in a sentence."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chalicelib.adapters.db_secret import SecretPassword
from chalicelib.config import ConfigError


@pytest.fixture
def secrets(aws_credentials: None) -> Iterator[tuple[Any, list[str]]]:
    """A Secrets Manager client and the SecretId of every GetSecretValue it makes."""
    with mock_aws():
        client = boto3.client("secretsmanager")
        reads: list[str] = []
        client.meta.events.register(
            "provide-client-params.secrets-manager.GetSecretValue",
            lambda params, **_: reads.append(params["SecretId"]),
        )
        yield client, reads


def test_the_password_is_read_on_first_use_and_kept(secrets: tuple[Any, list[str]]) -> None:
    client, reads = secrets
    arn = client.create_secret(Name="db", SecretString='{"username": "admin", "password": "one"}')["ARN"]
    password = SecretPassword(arn, client=lambda: client)
    assert reads == []

    assert [password.current() for _ in range(3)] == ["one"] * 3
    assert reads == [arn]


def test_a_refused_password_is_read_again_once_whoever_asks(secrets: tuple[Any, list[str]]) -> None:
    client, reads = secrets
    arn = client.create_secret(Name="db", SecretString='{"password": "one"}')["ARN"]
    password = SecretPassword(arn, client=lambda: client)
    refused = password.current()
    client.put_secret_value(SecretId=arn, SecretString='{"password": "two"}')

    assert password.refresh(refused) == "two"
    # Another caller refused "one" at the same moment gets the password read meanwhile.
    assert password.refresh(refused) == "two"
    assert password.current() == "two"
    assert reads == [arn, arn]


def test_a_missing_secret_is_named_in_a_sentence(secrets: tuple[Any, list[str]]) -> None:
    client, _ = secrets
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:gone-AbCdEf"
    with pytest.raises(ConfigError) as error:
        SecretPassword(arn, client=lambda: client).current()
    assert str(error.value) == (
        f"the database password secret {arn} does not exist (check DB_PASSWORD_SECRET_ARN)"
    )


@pytest.mark.parametrize("value", ["not json", '{"username": "admin"}', '{"password": ""}', "[1]"])
def test_a_secret_without_a_password_is_refused(secrets: tuple[Any, list[str]], value: str) -> None:
    client, _ = secrets
    arn = client.create_secret(Name="db", SecretString=value)["ARN"]
    with pytest.raises(ConfigError, match=r'is not JSON with a "password"$'):
        SecretPassword(arn, client=lambda: client).current()
