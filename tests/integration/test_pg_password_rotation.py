"""A database password that rotates, on a real PostgreSQL that checks passwords (SCRAM) and a
Secrets Manager secret faked by moto: the connection factory the AWS runtime composes
(`rotating_password_factory` over `SecretPassword`) reads the secret on first use, reads it again
once when the database refuses the password, and otherwise never."""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, replace
from typing import Any

import boto3
import pg8000.exceptions
import pytest
from moto import mock_aws

from chalicelib.adapters.db_secret import SecretPassword
from chalicelib.adapters.localpg import LocalPostgres
from chalicelib.adapters.pg import (
    ConnectionFactory,
    ConnInfo,
    KeptConnections,
    connect,
    rotating_password_factory,
    session,
)
from chalicelib.errors import DatabasePasswordRefused, TransientError

# Members of this role must give their password; every other role keeps the server's trust.
PASSWORD_GROUP = "coursegen_password_roles"
_numbers = itertools.count()


@pytest.fixture(scope="module")
def password_auth(pg_server: LocalPostgres) -> Iterator[None]:
    """The server asks the members of PASSWORD_GROUP for their password (SCRAM), from now on."""
    hba = pg_server.pgdata / "pg_hba.conf"
    original = hba.read_text()
    with closing(connect(pg_server.conn_info("postgres"))) as admin:
        if not admin.run("SELECT 1 FROM pg_roles WHERE rolname = :name", name=PASSWORD_GROUP):
            admin.run(f"CREATE ROLE {PASSWORD_GROUP} NOLOGIN")
        # The first line that matches decides, so this one goes first.
        hba.write_text(f"local all +{PASSWORD_GROUP} scram-sha-256\n{original}")
        admin.run("SELECT pg_reload_conf()")
        try:
            yield
        finally:
            hba.write_text(original)
            admin.run("SELECT pg_reload_conf()")


@dataclass
class Rotation:
    """A login role with a password, the secret that holds it, and what reads the secret."""

    admin: Any  # a superuser connection to the test's database
    role: str
    info: ConnInfo  # the role's connection details, without a password
    secrets: Any  # the Secrets Manager client
    secret_arn: str
    reads: list[str]  # the SecretId of every GetSecretValue made

    def set_database_password(self, password: str) -> None:
        self.admin.run(f"ALTER ROLE {self.role} PASSWORD '{password}'")  # test values: no quotes

    def set_secret_password(self, password: str) -> None:
        self.secrets.put_secret_value(SecretId=self.secret_arn, SecretString=f'{{"password": "{password}"}}')

    def rotate(self, password: str) -> None:
        """What a rotation leaves: the database and the secret agree on a new password."""
        self.set_database_password(password)
        self.set_secret_password(password)

    def factory(self, info: ConnInfo | None = None) -> ConnectionFactory:
        """The AWS runtime's composition (bootstrap.aws_connection_factory) on the test server."""
        password = SecretPassword(self.secret_arn, client=lambda: self.secrets)
        return rotating_password_factory(info or self.info, password)


@pytest.fixture
def rotation(pg_database: ConnInfo, password_auth: None, aws_credentials: None) -> Iterator[Rotation]:
    role = f"rotating_{os.getpid()}_{next(_numbers)}"  # digits and _ only: safe as an identifier
    with closing(connect(pg_database)) as admin, mock_aws():
        admin.run(f"CREATE ROLE {role} LOGIN PASSWORD 'first-password' IN ROLE {PASSWORD_GROUP}")
        secrets = boto3.client("secretsmanager")
        reads: list[str] = []
        secrets.meta.events.register(
            "provide-client-params.secrets-manager.GetSecretValue",
            lambda params, **_: reads.append(params["SecretId"]),
        )
        arn = secrets.create_secret(
            Name=f"{role}-master", SecretString='{"username": "admin", "password": "first-password"}'
        )["ARN"]
        try:
            yield Rotation(admin, role, replace(pg_database, user=role), secrets, arn, reads)
        finally:
            admin.run(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = :role", role=role
            )
            admin.run(f"DROP ROLE {role}")


def current_user(conn: Any) -> str:
    return str(conn.run("SELECT current_user")[0][0])


def test_the_server_really_checks_the_password(rotation: Rotation) -> None:
    with pytest.raises(pg8000.exceptions.DatabaseError, match="28P01"):
        connect(replace(rotation.info, password="not-the-password"))
    with closing(connect(replace(rotation.info, password="first-password"))) as conn:
        assert current_user(conn) == rotation.role


def test_nothing_is_read_before_the_first_connection_and_then_once(rotation: Rotation) -> None:
    factory = rotation.factory()
    assert rotation.reads == []

    for _ in range(3):
        with closing(factory()) as conn:
            assert current_user(conn) == rotation.role
    assert rotation.reads == [rotation.secret_arn]


def test_after_a_rotation_the_next_connection_succeeds_with_exactly_one_more_read(rotation: Rotation) -> None:
    factory = rotation.factory()
    with closing(factory()) as before:
        rotation.rotate("second-password")
        assert current_user(before) == rotation.role  # a session open across the rotation goes on

        with closing(factory()) as after:
            assert current_user(after) == rotation.role
        assert len(rotation.reads) == 2

        with closing(factory()) as again:  # the password read again is kept
            assert current_user(again) == rotation.role
    assert rotation.reads == [rotation.secret_arn] * 2


def test_a_kept_connection_that_drops_after_a_rotation_is_replaced_with_one_more_read(
    rotation: Rotation,
) -> None:
    kept = KeptConnections(rotation.factory())
    try:
        with kept.session() as conn:
            first = int(conn.run("SELECT pg_backend_pid()")[0][0])
        rotation.rotate("second-password")
        with kept.session() as conn:  # still open: lent again, nothing read
            assert int(conn.run("SELECT pg_backend_pid()")[0][0]) == first
        assert len(rotation.reads) == 1

        rotation.admin.run("SELECT pg_terminate_backend(:pid)", pid=first)  # Aurora restarts, say
        with kept.session() as conn:
            assert int(conn.run("SELECT pg_backend_pid()")[0][0]) != first
            assert current_user(conn) == rotation.role
        assert rotation.reads == [rotation.secret_arn] * 2
    finally:
        kept.close()


def test_a_password_wrong_in_both_places_fails_after_one_retry_with_a_sentence(rotation: Rotation) -> None:
    rotation.set_database_password("what-the-database-has")
    rotation.set_secret_password("what-the-secret-has")
    factory = rotation.factory()

    with pytest.raises(DatabasePasswordRefused) as refused:
        factory()

    assert rotation.reads == [rotation.secret_arn] * 2  # first use, then once after the refusal
    message = str(refused.value)
    assert message.startswith(f"the database refused the password for user {rotation.role}")
    # No class names, no codes:
    assert not re.search(r"[A-Z][a-z]+[A-Z]\w*|Error|pg8000|28P01", message), message
    assert "what-the-" not in message  # nor a password
    assert isinstance(refused.value, TransientError)  # the platform's own retries still apply

    with pytest.raises(DatabasePasswordRefused):  # the next attempt reads once more, no more
        factory()
    assert len(rotation.reads) == 3


def test_a_refused_password_through_kept_connections_is_the_same_sentence(rotation: Rotation) -> None:
    rotation.set_secret_password("what-the-secret-has")
    kept = KeptConnections(rotation.factory())
    with (
        pytest.raises(DatabasePasswordRefused, match="also after it was read again from its secret"),
        kept.session(),
    ):
        pass
    assert len(rotation.reads) == 2
    with pytest.raises(DatabasePasswordRefused), session(rotation.factory()):
        pass


def test_a_secret_fixed_after_a_refusal_is_picked_up_by_the_next_connection(rotation: Rotation) -> None:
    rotation.set_secret_password("a-typo")
    factory = rotation.factory()
    with pytest.raises(DatabasePasswordRefused):
        factory()

    rotation.set_secret_password("first-password")
    with closing(factory()) as conn:
        assert current_user(conn) == rotation.role
    assert len(rotation.reads) == 3


def test_another_refusal_than_the_password_s_reads_nothing_again(rotation: Rotation) -> None:
    factory = rotation.factory(replace(rotation.info, database="no_such_database"))

    with pytest.raises(pg8000.exceptions.DatabaseError, match="3D000"):  # invalid_catalog_name
        factory()
    assert rotation.reads == [rotation.secret_arn]
