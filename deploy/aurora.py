"""Aurora from an operator's machine: the schema migrations the local runtime uses
(chalicelib/adapters/migrations), and loading book files into the library, with the master
password read from the Secrets Manager secret RDS manages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chalicelib.adapters.book_files import read_book_file
from chalicelib.adapters.db_secret import SecretPassword
from chalicelib.adapters.migrate import migrate
from chalicelib.adapters.pg import ConnectionFactory, ConnInfo, rotating_password_factory
from chalicelib.adapters.pg_library import PgLibrary
from chalicelib.ports import BookInfo, Embedder, LibraryAdmin


def _secret(secret_arn: str, client: Any | None) -> SecretPassword:
    return SecretPassword(secret_arn) if client is None else SecretPassword(secret_arn, client=lambda: client)


def password_from_secret(secret_arn: str, client: Any | None = None) -> str:
    return _secret(secret_arn, client).current()


def connection_factory(
    host: str,
    port: int,
    database: str,
    user: str,
    secret_arn: str,
    client: Any | None = None,
    ssl: str | bool = "require",
) -> ConnectionFactory:
    """Connections to the cluster. TLS is required; the host may be a tunnel to the cluster. The
    password is read at the first connection, and again if RDS rotates it meanwhile (as in the
    functions: pg.rotating_password_factory)."""
    info = ConnInfo(host=host, port=port, user=user, database=database, ssl=ssl)
    return rotating_password_factory(info, _secret(secret_arn, client))


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
