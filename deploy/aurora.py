"""Aurora from an operator's machine: the schema migrations the local runtime uses
(chalicelib/adapters/migrations), and loading book files into the library, with the master
password read from the Secrets Manager secret RDS manages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chalicelib.adapters.book_files import read_book_file
from chalicelib.adapters.migrate import migrate
from chalicelib.adapters.pg import ConnectionFactory, ConnInfo, connect
from chalicelib.adapters.pg_library import PgLibrary
from chalicelib.ports import BookInfo, Embedder, LibraryAdmin


def password_from_secret(secret_arn: str, client: Any | None = None) -> str:
    if client is None:
        import boto3

        client = boto3.client("secretsmanager")
    return str(json.loads(client.get_secret_value(SecretId=secret_arn)["SecretString"])["password"])


def connection_factory(
    host: str,
    port: int,
    database: str,
    user: str,
    secret_arn: str,
    client: Any | None = None,
    ssl: str | bool = "require",
) -> ConnectionFactory:
    """Connections to the cluster. TLS is required; the host may be a tunnel to the cluster."""
    info = ConnInfo(
        host=host,
        port=port,
        user=user,
        database=database,
        password=password_from_secret(secret_arn, client),
        ssl=ssl,
    )
    return lambda: connect(info)


def migrate_aurora(
    host: str, port: int, database: str, user: str, secret_arn: str, client: Any | None = None
) -> list[str]:
    """The versions applied now."""
    return migrate(connection_factory(host, port, database, user, secret_arn, client))


def load_library(connect: ConnectionFactory, files: list[Path], embedder: Embedder) -> list[BookInfo]:
    """Validate every file, then embed and load them all in one transaction (as
    `coursegen library load` does locally); the schema is migrated first if needed."""
    books = [read_book_file(path) for path in files]
    migrate(connect)
    library: LibraryAdmin = PgLibrary(connect)
    return library.load(books, embedder)
