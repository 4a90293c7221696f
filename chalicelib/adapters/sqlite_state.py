"""SQLite StateStore: the local state of the embedded default (laptop, CI), one file on disk.

Safe for many threads and processes: a connection per thread, WAL mode, a busy timeout, and
every write a single conditional statement.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from chalicelib.core.models import CourseState, Status
from chalicelib.core.paging import PageKey
from chalicelib.errors import StaleState
from chalicelib.ports import StateStore

_SCHEMA = """
CREATE TABLE IF NOT EXISTS course_state (
    course_id  TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL,
    status     TEXT NOT NULL,
    version    INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    body       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS course_state_user_created ON course_state (user_id, created_at);
"""


class SqliteStateStore(StateStore):
    """Course states in one SQLite table; `body` holds the state as JSON."""

    def __init__(self, path: str | os.PathLike[str], busy_timeout_seconds: float = 10.0) -> None:
        self._path = Path(path)
        self._timeout = busy_timeout_seconds
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with closing(self._open()) as conn:
            # WAL is a property of the file, so setting it once here covers every later
            # connection; it lets readers (the status endpoint) run while a handler writes.
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)

    def _open(self) -> sqlite3.Connection:
        # isolation_level=None makes each statement atomic on its own, which is all the
        # conditional writes below need.
        conn = sqlite3.connect(self._path, timeout=self._timeout, isolation_level=None)
        # With WAL, NORMAL stays consistent after a crash and skips an fsync per write (about
        # 10 ms each on a plain disk). Only a power cut can undo the last few writes, and that
        # also loses the in-process bus's queued events, which FULL could not save either.
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # One connection per thread, kept: sqlite3 connections must not cross threads, and
        # closing the last one checkpoints the WAL and deletes it, which made every call pay
        # for a checkpoint and two file deletions. A thread's connection closes when it ends.
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._open()
        yield conn

    def create(self, state: CourseState) -> CourseState:
        stored = state.model_copy(update={"version": 1})
        body = stored.model_dump_json()
        try:
            with self._connect() as conn:
                conn.execute(
                    "INSERT INTO course_state (course_id, user_id, status, version, created_at, body)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (state.course_id, state.user_id, stored.status.value, 1, state.created_at, body),
                )
        except sqlite3.IntegrityError as exc:  # the primary key says the id is taken
            raise StaleState(f"course {state.course_id} already exists") from exc
        return CourseState.model_validate_json(body)

    def get(self, course_id: str) -> CourseState | None:
        with self._connect() as conn:
            # fetchall steps the statement to its end, so no read snapshot outlives the call on
            # this thread's kept connection (a later read must see other threads' writes).
            rows = conn.execute("SELECT body FROM course_state WHERE course_id = ?", (course_id,)).fetchall()
        return CourseState.model_validate_json(rows[0][0]) if rows else None

    def save(self, state: CourseState) -> CourseState:
        version = state.version + 1
        body = state.model_copy(update={"version": version}).model_dump_json()
        with self._connect() as conn:
            # The version in the WHERE clause is the optimistic lock: no row changes if another
            # writer has already moved the course on (or it does not exist).
            changed = conn.execute(
                "UPDATE course_state SET status = ?, version = ?, body = ?"
                " WHERE course_id = ? AND version = ?",
                (state.status.value, version, body, state.course_id, state.version),
            ).rowcount
        if changed == 0:
            raise StaleState(f"course {state.course_id} is no longer at version {state.version}")
        return CourseState.model_validate_json(body)

    def list_for_user(self, user_id: str, limit: int = 50) -> list[CourseState]:
        if limit < 1:
            return []
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT body FROM course_state WHERE user_id = ?"
                " ORDER BY created_at DESC, course_id DESC LIMIT ?",
                (user_id, limit),
            ).fetchall()
        return [CourseState.model_validate_json(body) for (body,) in rows]

    def list_page(
        self, user_id: str, limit: int, before: PageKey | None = None, status: Status | None = None
    ) -> list[CourseState]:
        if limit < 1:
            return []
        # Text comparison in SQLite's default binary collation: the order of PageKey.
        where, params = ["user_id = ?"], [user_id]
        if before is not None:
            where.append("(created_at < ? OR (created_at = ? AND course_id < ?))")
            params += [before.created_at, before.created_at, before.course_id]
        if status is not None:
            where.append("status = ?")
            params.append(status.value)
        with self._connect() as conn:
            rows = conn.execute(
                f"SELECT body FROM course_state WHERE {' AND '.join(where)}"
                " ORDER BY created_at DESC, course_id DESC LIMIT ?",
                (*params, limit),
            ).fetchall()
        return [CourseState.model_validate_json(body) for (body,) in rows]

    def delete(self, course_id: str, version: int) -> None:
        with self._connect() as conn:
            removed = conn.execute(
                "DELETE FROM course_state WHERE course_id = ? AND version = ?", (course_id, version)
            ).rowcount
        if removed == 0:
            raise StaleState(f"course {course_id} is no longer at version {version}")
