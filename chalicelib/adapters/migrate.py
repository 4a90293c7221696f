"""Versioned schema migrations: `migrations/NNN_name.sql`, applied in order, once each.

Each file runs in its own transaction and is recorded in `schema_migrations`; an advisory lock
makes concurrent runs (two Lambdas cold-starting, the CLI beside `chalice local`) safe.
"""

from __future__ import annotations

import hashlib
import logging
import re
from contextlib import suppress
from dataclasses import dataclass
from importlib import resources

import pg8000.exceptions

from ..errors import CourseGenError
from .pg import Connection, ConnectionFactory, session, transaction

log = logging.getLogger(__name__)

# Any constant works; advisory locks are per database, so other databases are unaffected.
ADVISORY_LOCK_KEY = 0x636F75727365  # "course"
_FILE_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    text PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


class MigrationError(CourseGenError):
    """A schema migration failed; the database keeps the versions applied before it."""


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def available_migrations() -> list[Migration]:
    """The migration files shipped with the package, in version order."""
    found = []
    for entry in (resources.files(__package__) / "migrations").iterdir():
        match = _FILE_NAME.match(entry.name)
        if match:
            found.append(Migration(match.group(1), match.group(2), entry.read_text(encoding="utf-8")))
    found.sort(key=lambda migration: migration.version)
    versions = [migration.version for migration in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migration files share a version: {versions}")
    return found


def applied_versions(conn: Connection) -> dict[str, str]:
    """version -> checksum of what this database has applied (empty if never migrated)."""
    if not conn.run("SELECT to_regclass('schema_migrations') IS NOT NULL")[0][0]:
        return {}
    return {
        version: checksum for version, checksum in conn.run("SELECT version, checksum FROM schema_migrations")
    }


def migrate(target: Connection | ConnectionFactory, migrations: list[Migration] | None = None) -> list[str]:
    """Apply every pending migration; return the versions applied now (empty if up to date).

    `target` is an open connection, or a factory (then a connection is opened and closed here).
    """
    if not hasattr(target, "run"):
        with session(target) as conn:
            return migrate(conn, migrations)
    conn = target
    migrations = available_migrations() if migrations is None else migrations
    conn.run("SELECT pg_advisory_lock(:key)", key=ADVISORY_LOCK_KEY)
    try:
        conn.run(_CREATE_TABLE)  # inside the lock: concurrent CREATE IF NOT EXISTS can still collide
        done = applied_versions(conn)
        applied = []
        for migration in migrations:
            if migration.version in done:
                if done[migration.version] != migration.checksum:
                    log.warning("migration %s changed after it was applied", migration.version)
                continue
            _apply(conn, migration)
            applied.append(migration.version)
        return applied
    finally:
        # A dead connection has released the lock already; keep the original error visible.
        with suppress(pg8000.exceptions.InterfaceError):
            conn.run("SELECT pg_advisory_unlock(:key)", key=ADVISORY_LOCK_KEY)


def _apply(conn: Connection, migration: Migration) -> None:
    log.info("applying migration %s_%s", migration.version, migration.name)
    try:
        with transaction(conn):
            conn.run(migration.sql)  # no parameters: the simple protocol runs the whole file
            conn.run(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES (:v, :n, :c)",
                v=migration.version,
                n=migration.name,
                c=migration.checksum,
            )
    except pg8000.exceptions.DatabaseError as error:
        raise MigrationError(f"migration {migration.version}_{migration.name} failed: {error}") from error
