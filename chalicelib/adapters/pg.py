"""PostgreSQL connections (pg8000): where to connect, how, and a transaction helper.

Every adapter takes a `ConnectionFactory`. Frequent operations (searching the library, storing a
course) borrow from `KeptConnections`, which keeps a few open between calls; rare ones (loads,
re-indexing, migrations) open one connection for the operation with `session`. On AWS the
factory is `rotating_password_factory`, which survives a rotation of the database password.
"""

from __future__ import annotations

import socket
import ssl
import struct
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass, replace
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import pg8000.exceptions
from pg8000.native import Connection as Connection  # re-exported: adapters type their connections with it

from ..errors import DatabasePasswordRefused, TransientError

ConnectionFactory = Callable[[], Connection]

INVALID_PASSWORD = "28P01"  # SQLSTATE invalid_password: what a refused password fails with

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


SSL_REQUEST = struct.pack("!ii", 8, 80877103)  # PostgreSQL's SSLRequest message

# The socket under each connection `connect` opened. pg8000 keeps its own reference private
# and has no setter for a connection's timeout, so `patient` adjusts the socket kept here.
_sockets: weakref.WeakKeyDictionary[Connection, socket.socket] = weakref.WeakKeyDictionary()


def _ssl_context(info: ConnInfo) -> ssl.SSLContext | None:
    """The TLS context to offer the server; None for none (a unix socket never offers TLS)."""
    if info.unix_sock is not None or info.ssl == "disable":
        return None
    if info.ssl == "verify-full":
        return ssl.create_default_context(cafile=info.ssl_root_cert)
    context = ssl.create_default_context()  # prefer, require: encrypted, the server unverified
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _open_socket(info: ConnInfo) -> socket.socket:
    if info.unix_sock is not None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(info.timeout)
            sock.connect(info.unix_sock)
        except OSError as error:
            sock.close()
            # the driver's own words for it, which a failed course reports
            raise pg8000.exceptions.InterfaceError("communication error") from error
        except BaseException:
            sock.close()
            raise
        return sock
    assert info.host is not None
    sock = socket.create_connection((info.host, info.port), timeout=info.timeout)
    # pg8000 leaves Nagle on; with delayed ACKs every statement then stalls ~40 ms.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    return sock


def _start_tls(sock: socket.socket, info: ConnInfo) -> socket.socket:
    """Ask the server for TLS (PostgreSQL's SSLRequest) and wrap `sock` if it agrees. Done here
    rather than by pg8000 so that the socket under the connection is one this module holds."""
    context = _ssl_context(info)
    if context is None:
        return sock
    sock.sendall(SSL_REQUEST)
    if sock.recv(1) == b"S":
        return context.wrap_socket(sock, server_hostname=info.host)
    if info.ssl != "prefer":
        raise pg8000.exceptions.InterfaceError(
            f"the server at {info.host}:{info.port} does not offer TLS, which sslmode={info.ssl} requires"
        )
    return sock


def connect(info: ConnInfo) -> Connection:
    """Open a pg8000 native connection (statements autocommit unless inside `transaction`) on a
    socket opened here: TCP without Nagle, TLS as `info.ssl` says."""
    sock = _open_socket(info)
    try:
        sock = _start_tls(sock, info)
        conn = Connection(
            user=info.user,
            database=info.database,
            password=info.password,
            timeout=info.timeout,
            application_name=info.application_name,
            sock=sock,
            ssl_context=False,  # TLS, if any, is already on
        )
    except pg8000.exceptions.InterfaceError as error:
        sock.close()
        refused = _server_answer(error)
        if refused is not None:
            raise refused from None
        raise
    except BaseException:
        sock.close()
        raise
    _sockets[conn] = sock
    return conn


def _server_answer(error: BaseException) -> pg8000.exceptions.DatabaseError | None:
    """The server's refusal behind a failed start-up. When the server refuses a connection (a
    wrong password, no such database) and closes it, pg8000 says goodbye on the closed socket
    and raises that failure ("network error") in place of the server's answer, which stays in
    the exception's context; the answer is what tells a refused password from a lost network."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, pg8000.exceptions.DatabaseError):
            return seen
        seen = seen.__context__
    return None


def socket_of(conn: Connection) -> socket.socket | None:
    """The socket under a connection `connect` opened; None for one opened otherwise."""
    return _sockets.get(conn)


@contextmanager
def patient(conn: Connection, seconds: float) -> Iterator[None]:
    """Wait up to `seconds` for the server's answers inside the block, where the connection's
    own timeout (`ConnInfo.timeout`) suits ordinary statements; restored afterwards. A
    connection `connect` did not open keeps its timeout."""
    sock = socket_of(conn)
    if sock is None:
        yield
        return
    previous = sock.gettimeout()
    sock.settimeout(None if previous is None else max(previous, seconds))
    try:
        yield
    finally:
        sock.settimeout(previous)


def connection_factory(info: ConnInfo) -> ConnectionFactory:
    return lambda: connect(info)


def sqlstate(error: BaseException) -> str:
    """The SQLSTATE code of a pg8000 error the server sent; "" for any other error."""
    details = error.args[0] if error.args and isinstance(error.args[0], dict) else {}
    return str(details.get("C", ""))


class PasswordSource(Protocol):
    """Where a password that can change is kept (a Secrets Manager secret on AWS)."""

    def current(self) -> str:
        """The password as last read; read on first use."""
        ...

    def refresh(self, refused: str) -> str:
        """The password read again, after the database refused `refused`. When another caller
        has read it again meanwhile (the password kept is no longer `refused`), that one."""
        ...


def rotating_password_factory(info: ConnInfo, password: PasswordSource) -> ConnectionFactory:
    """Connections with a password that rotates: when the database refuses the one kept
    (SQLSTATE 28P01), the password is read again and the connection tried once more; refused
    again, DatabasePasswordRefused says so in a sentence. Nothing is read before the first
    connection."""

    def attempt(used: str) -> Connection:
        return connect(replace(info, password=used))

    def factory() -> Connection:
        refused = password.current()
        try:
            return attempt(refused)
        except pg8000.exceptions.DatabaseError as error:
            if sqlstate(error) != INVALID_PASSWORD:
                raise
        try:
            return attempt(password.refresh(refused))
        except pg8000.exceptions.DatabaseError as error:
            if sqlstate(error) != INVALID_PASSWORD:
                raise
            raise DatabasePasswordRefused(
                f"the database refused the password for user {info.user}, also after it was read "
                "again from its secret: the secret and the database disagree (a password rotation "
                "under way, or a password changed outside the secret)"
            ) from error

    return factory


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
        # connection exception, insufficient resources (too many connections), operator intervention
        if sqlstate(error)[:2] not in ("08", "53", "57"):
            raise
        details = error.args[0]
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
