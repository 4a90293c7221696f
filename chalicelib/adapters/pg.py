"""PostgreSQL connections (pg8000): where to connect, how, and a transaction helper.

Every adapter takes a `ConnectionFactory`. Frequent operations (searching the library, storing a
course) borrow from `KeptConnections`, which keeps a few open between calls; rare ones (loads,
re-indexing, migrations) open one connection for the operation with `session`.
"""

from __future__ import annotations

import socket
import ssl
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pg8000.exceptions
from pg8000.native import Connection

from chalicelib.errors import TransientError

ConnectionFactory = Callable[[], Connection]

SSL_MODES = ("disable", "prefer", "require", "verify-full")


@dataclass(frozen=True)
class ConnInfo:
    """Where a database is: a unix socket (the embedded server) or host/port (Aurora)."""

    user: str
    database: str
    unix_sock: str | None = None
    host: str | None = None
    port: int = 5432
    password: str | None = None
    ssl: str | bool = "prefer"  # a libpq sslmode; True means "require", False "disable"
    ssl_root_cert: str | None = None
    timeout: float = 30.0
    application_name: str = "coursegen"

    def __post_init__(self) -> None:
        if isinstance(self.ssl, bool):
            object.__setattr__(self, "ssl", "require" if self.ssl else "disable")
        if (self.unix_sock is None) == (self.host is None):
            raise ValueError("ConnInfo needs exactly one of unix_sock or host")
        if self.ssl not in SSL_MODES:
            raise ValueError(f"ssl must be one of {', '.join(SSL_MODES)}, not {self.ssl!r}")

    def with_database(self, database: str) -> ConnInfo:
        return replace(self, database=database)

    @classmethod
    def from_url(cls, url: str) -> ConnInfo:
        """Parse `postgresql://user:password@host:port/db?sslmode=require`."""
        parts = urlsplit(url)
        if parts.scheme not in ("postgres", "postgresql"):
            raise ValueError("a PostgreSQL URL starts with postgresql://")
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        return cls(
            user=unquote(parts.username or "postgres"),
            password=unquote(parts.password) if parts.password else None,
            host=parts.hostname or "localhost",
            port=parts.port or 5432,
            database=unquote(parts.path.lstrip("/")) or "postgres",
            ssl=query.get("sslmode", "prefer"),
            ssl_root_cert=query.get("sslrootcert"),
        )


def _ssl_context(info: ConnInfo) -> ssl.SSLContext | bool | None:
    """pg8000's convention: False = never, None = try and fall back, context = insist."""
    if info.unix_sock is not None or info.ssl == "disable":
        return False  # a unix socket never offers TLS; skip the extra round trip
    if info.ssl == "prefer":
        return None
    if info.ssl == "require":
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return ssl.create_default_context(cafile=info.ssl_root_cert)


def _tcp_socket(info: ConnInfo) -> socket.socket:
    assert info.host is not None
    sock = socket.create_connection((info.host, info.port), timeout=info.timeout)
    # pg8000 leaves Nagle on; with delayed ACKs every statement then stalls ~40 ms.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    return sock


def connect(info: ConnInfo) -> Connection:
    """Open a pg8000 native connection (statements autocommit unless inside `transaction`)."""
    common = {
        "user": info.user,
        "database": info.database,
        "password": info.password,
        "timeout": info.timeout,
        "application_name": info.application_name,
        "ssl_context": _ssl_context(info),
    }
    if info.unix_sock is not None:
        return Connection(unix_sock=info.unix_sock, **common)
    sock = _tcp_socket(info)
    try:
        # host is still passed: pg8000 uses it as the TLS server name.
        return Connection(host=info.host, port=info.port, sock=sock, **common)
    except BaseException:
        sock.close()
        raise


def connection_factory(info: ConnInfo) -> ConnectionFactory:
    return lambda: connect(info)


@contextmanager
def session(factory: ConnectionFactory) -> Iterator[Connection]:
    """One connection for one operation, closed afterwards whatever happens. A server that
    cannot be reached (down, restarting, refusing connections) is a TransientError."""
    conn = _open(factory)
    with closing(conn):
        yield conn


class KeptConnections:
    """Connections kept open between operations: opening one costs more than a small query
    (a new backend, and against Aurora a TLS handshake and authentication; bench/RESULTS.md),
    and a warm Lambda would otherwise pay it on every call. A kept connection is checked with a cheap
    query before it is lent again; one that fails inside an operation is closed, not kept.
    Thread-safe; at most `keep` are held."""

    def __init__(self, connect: ConnectionFactory, keep: int = 4) -> None:
        self._connect = connect
        self._keep = keep
        self._idle: list[Connection] = []
        self._lock = threading.Lock()

    @contextmanager
    def session(self) -> Iterator[Connection]:
        conn = self._take()
        try:
            yield conn
        except BaseException:
            close_quietly(conn)
            raise
        with self._lock:
            if len(self._idle) < self._keep:
                self._idle.append(conn)
                return
        close_quietly(conn)

    def _take(self) -> Connection:
        while True:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                return _open(self._connect)
            try:
                conn.run("SELECT 1")  # died while idle (server restart, idle timeout)?
                return conn
            except (pg8000.exceptions.Error, OSError):
                close_quietly(conn)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            close_quietly(conn)


_prepared: weakref.WeakKeyDictionary[Connection, dict[str, Any]] = weakref.WeakKeyDictionary()


def run_prepared(conn: Connection, sql: str, **params: Any) -> list[list[Any]]:
    """Run `sql` as a statement prepared once per connection: on a kept connection this skips
    pg8000's parameter rewriting and the server's parsing, and after a few runs PostgreSQL
    reuses its plan (a sizeable share of a search; bench/RESULTS.md)."""
    statements = _prepared.setdefault(conn, {})
    statement = statements.get(sql)
    if statement is None:
        statement = statements[sql] = conn.prepare(sql)
    return statement.run(**params)  # type: ignore[no-any-return]


def close_quietly(conn: Connection) -> None:
    with suppress(pg8000.exceptions.Error, OSError):  # a dead connection has nothing to release
        conn.close()


def _open(factory: ConnectionFactory) -> Connection:
    try:
        return factory()
    except (pg8000.exceptions.InterfaceError, OSError) as error:
        raise TransientError(f"PostgreSQL is unavailable: {error}") from error
    except pg8000.exceptions.DatabaseError as error:
        details = error.args[0] if error.args and isinstance(error.args[0], dict) else {}
        if str(details.get("C", ""))[:2] not in ("08", "57"):  # connection, operator intervention
            raise
        raise TransientError(f"PostgreSQL is unavailable: {details.get('M', error)}") from error


@contextmanager
def transaction(conn: Connection) -> Iterator[Connection]:
    """BEGIN ... COMMIT, or ROLLBACK if the block raises."""
    conn.run("BEGIN")
    try:
        yield conn
    except BaseException:
        # A dead connection cannot roll back; the original error is the one worth seeing.
        with suppress(pg8000.exceptions.InterfaceError):
            conn.run("ROLLBACK")
        raise
    conn.run("COMMIT")
