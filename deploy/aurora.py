"""Applies the schema migrations the local runtime uses (chalicelib/adapters/migrations) to Aurora,
with the master password read from the Secrets Manager secret RDS manages."""

from __future__ import annotations

import json
from typing import Any

from chalicelib.adapters.migrate import migrate
from chalicelib.adapters.pg import ConnInfo, connect


def password_from_secret(secret_arn: str, client: Any | None = None) -> str:
    if client is None:
        import boto3

        client = boto3.client("secretsmanager")
    return str(json.loads(client.get_secret_value(SecretId=secret_arn)["SecretString"])["password"])


def migrate_aurora(
    host: str, port: int, database: str, user: str, secret_arn: str, client: Any | None = None
) -> list[str]:
    """The versions applied now. TLS is required; the host may be a tunnel to the cluster."""
    info = ConnInfo(
        host=host,
        port=port,
        user=user,
        database=database,
        password=password_from_secret(secret_arn, client),
        ssl="require",
    )
    return migrate(lambda: connect(info))
