"""SQLite StateStore: the local state of the embedded default (laptop, CI), one file on disk, with
the outbox the local bus delivers from: a state write and the event it announces commit together.

Safe for many threads and processes: a connection per thread, WAL mode, a busy timeout, and
every write a single conditional statement or one short transaction.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from ..core.events import Event
from ..core.models import CourseState, PartResult, Status
from ..core.paging import PageKey
from ..core.watchdog import format_time, sort_key
from ..errors import StaleState
from ..ports import EventNotPublished, EventPublisher, KeyedCourse, RequestKey, RequestKeyTaken, StateStore
from . import processes
from .local_bus import OutboxEntry, event_from

_SCHEMA = """
CREATE TABLE IF NOT EXISTS course_state (
    course_id  TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL,
    status     TEXT NOT NULL,
    version    INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    body       TEXT NOT NULL,
    updated_at TEXT
);
CREATE INDEX IF NOT EXISTS course_state_user_created ON course_state (user_id, created_at);
CREATE TABLE IF NOT EXISTS outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    course_id       TEXT NOT NULL,
    name            TEXT NOT NULL,
    detail          TEXT NOT NULL,
    available_at    REAL NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    first_failed_at REAL,
    targets         TEXT,
    owner           TEXT,
    last_error      TEXT,
    delivered_at    REAL
);
CREATE TABLE IF NOT EXISTS part_result (
    course_id  TEXT NOT NULL,
    part_index INTEGER NOT NULL,
    body       TEXT NOT NULL,
    PRIMARY KEY (course_id, part_index)
);
CREATE TABLE IF NOT EXISTS request_key (
    user_id     TEXT NOT NULL,
    request_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    course_id   TEXT NOT NULL,
    expires_at  REAL NOT NULL,
    PRIMARY KEY (user_id, request_key)
);
CREATE INDEX IF NOT EXISTS outbox_waiting ON outbox (available_at) WHERE delivered_at IS NULL;
CREATE INDEX IF NOT EXISTS outbox_course ON outbox (course_id) WHERE delivered_at IS NULL;
"""
# The courses in progress by status and last write, for the watchdog: only they are indexed.
# `updated_at` holds the state's timestamp in one form (core.watchdog.sort_key), so text order is
# time order. Created after the column, which a file from before the watchdog lacks.
_IDLE_INDEX = (
    "CREATE INDEX IF NOT EXISTS course_state_idle ON course_state (status, updated_at)"
    " WHERE status NOT IN ('complete', 'failed')"
)
# The status, the time and the limit; the index's own condition repeated, so SQLite uses it.
IDLE_QUERY = (
    "SELECT course_id, body FROM course_state AS c"
    " WHERE status = ? AND updated_at < ? AND status NOT IN ('complete', 'failed')"
    " AND NOT EXISTS (SELECT 1 FROM outbox AS o WHERE o.course_id = c.course_id"
    " AND o.delivered_at IS NULL AND o.owner IS NULL)"
    " ORDER BY updated_at, course_id LIMIT ?"
)
_KEEP_DELIVERED_SECONDS = 3600.0  # delivered entries stay this long, for people looking into one
_CLAIM_SCAN = 200  # entries looked at per claim, past those other live processes hold


def _add_updated_at(conn: sqlite3.Connection) -> None:
    """Give a file from before the watchdog the `updated_at` column, filled from the states,
    and the index of the courses in progress. Once, under the write lock: other processes may
    open the same file at the same moment."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(course_state)")}
        if "updated_at" not in columns:
            conn.execute("ALTER TABLE course_state ADD COLUMN updated_at TEXT")
        missing = conn.execute("SELECT course_id, body FROM course_state WHERE updated_at IS NULL").fetchall()
        conn.executemany(
            "UPDATE course_state SET updated_at = ? WHERE course_id = ?",
            [(sort_key(json.loads(body)["updated_at"]), course_id) for course_id, body in missing],
        )
        conn.execute(_IDLE_INDEX)
        conn.execute("COMMIT")
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")


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
            _add_updated_at(conn)
        self.outbox = SqliteOutbox(self._connect)
        self.outbox.purge_delivered()
        with self._connect() as conn:  # request keys past their time answer nothing any more
            conn.execute("DELETE FROM request_key WHERE expires_at < ?", (time.time(),))

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

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One transaction on this thread's connection, holding the write lock from its start."""
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            finally:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")

    def _delivers_my_outbox(self, publisher: EventPublisher) -> bool:
        """Whether `publisher` delivers from this store's outbox (the local bus bootstrap.py
        builds on it): then an event can commit with the state write that announces it."""
        return getattr(publisher, "outbox", None) is self.outbox

    def create(self, state: CourseState) -> CourseState:
        return self._create(state, None)

    def create_and_publish(self, state: CourseState, event: Event, publisher: EventPublisher) -> CourseState:
        if not self._delivers_my_outbox(publisher):
            return super().create_and_publish(state, event, publisher)
        return self._create(state, event)

    def find_keyed(self, user_id: str, key: str, now: float) -> KeyedCourse | None:
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT course_id, fingerprint FROM request_key"
                " WHERE user_id = ? AND request_key = ? AND expires_at >= ?",
                (user_id, key, now),
            ).fetchall()
        return KeyedCourse(course_id=rows[0][0], fingerprint=rows[0][1]) if rows else None

    def create_keyed_and_publish(
        self,
        state: CourseState,
        key: RequestKey,
        event: Event,
        publisher: EventPublisher,
        replaces: str | None = None,
    ) -> CourseState:
        if not self._delivers_my_outbox(publisher):
            created = self._create(state, None, key, replaces)
            try:
                publisher.publish(event)
            except Exception as error:
                raise EventNotPublished(created, error) from error
            return created
        return self._create(state, event, key, replaces)

    def _create(
        self,
        state: CourseState,
        announce: Event | None,
        key: RequestKey | None = None,
        replaces: str | None = None,
    ) -> CourseState:
        stored = state.model_copy(update={"version": 1})
        body = stored.model_dump_json()
        try:
            with self._transaction() as conn:
                if key is not None:
                    # Under the transaction's write lock: no other writer can take the key between
                    # this read and the writes below.
                    self._take_key(conn, key, state.course_id, replaces)
                conn.execute(
                    "INSERT INTO course_state"
                    " (course_id, user_id, status, version, created_at, body, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        state.course_id,
                        state.user_id,
                        stored.status.value,
                        1,
                        state.created_at,
                        body,
                        sort_key(state.updated_at),
                    ),
                )
                if announce is not None:
                    self.outbox.insert(conn, announce)
        except sqlite3.IntegrityError as exc:  # the primary key says the id is taken
            raise StaleState(f"course {state.course_id} already exists") from exc
        if announce is not None:
            self.outbox.added(announce)
        return CourseState.model_validate_json(body)

    @staticmethod
    def _take_key(conn: sqlite3.Connection, key: RequestKey, course_id: str, replaces: str | None) -> None:
        held = conn.execute(
            "SELECT course_id, fingerprint, expires_at FROM request_key"
            " WHERE user_id = ? AND request_key = ?",
            (key.user_id, key.key),
        ).fetchall()
        if held and held[0][2] >= key.now and held[0][0] != replaces:
            raise RequestKeyTaken(key, KeyedCourse(course_id=held[0][0], fingerprint=held[0][1]))
        conn.execute(
            "INSERT OR REPLACE INTO request_key (user_id, request_key, fingerprint, course_id, expires_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (key.user_id, key.key, key.fingerprint, course_id, key.expires_at),
        )

    def get(self, course_id: str) -> CourseState | None:
        with self._connect() as conn:
            # fetchall steps the statement to its end, so no read snapshot outlives the call on
            # this thread's kept connection (a later read must see other threads' writes).
            rows = conn.execute("SELECT body FROM course_state WHERE course_id = ?", (course_id,)).fetchall()
        return CourseState.model_validate_json(rows[0][0]) if rows else None

    def save(self, state: CourseState) -> CourseState:
        return self._save(state, ())

    def save_and_publish_all(
        self, state: CourseState, events: Sequence[Event], publisher: EventPublisher
    ) -> CourseState:
        if not self._delivers_my_outbox(publisher):
            return super().save_and_publish_all(state, events, publisher)
        return self._save(state, tuple(events))

    def _save(self, state: CourseState, announce: tuple[Event, ...]) -> CourseState:
        version = state.version + 1
        body = state.model_copy(update={"version": version}).model_dump_json()
        # The version in the WHERE clause is the optimistic lock: no row changes if another
        # writer has already moved the course on (or it does not exist).
        update = (
            "UPDATE course_state SET status = ?, version = ?, body = ?, updated_at = ?"
            " WHERE course_id = ? AND version = ?",
            (state.status.value, version, body, sort_key(state.updated_at), state.course_id, state.version),
        )
        if not announce:
            with self._connect() as conn:
                changed = conn.execute(*update).rowcount
        else:
            with self._transaction() as conn:
                changed = conn.execute(*update).rowcount
                if changed:
                    for event in announce:
                        self.outbox.insert(conn, event)
        if changed == 0:
            raise StaleState(f"course {state.course_id} is no longer at version {state.version}")
        for event in announce:
            self.outbox.added(event)
        return CourseState.model_validate_json(body)

    def idle(self, status: Status, before: datetime, limit: int) -> list[CourseState]:
        if status.is_terminal:
            raise ValueError(f"a {status.value} course is not in progress")
        if limit < 1:
            return []
        with self._connect() as conn:
            # course_state_idle serves the status and the time; an event waiting unclaimed in
            # the outbox is on its way, so its course is left to the bus.
            rows = conn.execute(IDLE_QUERY, (status.value, format_time(before), limit)).fetchall()
            held = self._holders(conn, [course_id for course_id, _ in rows])
        # An event claimed by a process that has ended is claimed again by the next dispatcher:
        # on its way too. One claimed by a live process is being delivered, or that process hangs;
        # the deadline tells which.
        alive: dict[str, bool] = {}
        kept = []
        for course_id, body in rows:
            owners = held.get(course_id, set())
            if all(alive.setdefault(owner, processes.is_alive(owner)) for owner in owners):
                kept.append(CourseState.model_validate_json(body))
        return kept

    @staticmethod
    def _holders(conn: sqlite3.Connection, course_ids: list[str]) -> dict[str, set[str]]:
        """The owners of the undelivered events of each course, by course id."""
        held: dict[str, set[str]] = {}
        if not course_ids:
            return held
        marks = ", ".join("?" * len(course_ids))
        for course_id, owner in conn.execute(
            f"SELECT course_id, owner FROM outbox WHERE delivered_at IS NULL AND owner IS NOT NULL"
            f" AND course_id IN ({marks})",
            course_ids,
        ).fetchall():
            held.setdefault(course_id, set()).add(owner)
        return held

    def put_part(self, course_id: str, part_index: int, result: PartResult) -> None:
        self._put_part(course_id, part_index, result, None)

    def put_part_and_publish(
        self, course_id: str, part_index: int, result: PartResult, event: Event, publisher: EventPublisher
    ) -> None:
        if not self._delivers_my_outbox(publisher):
            super().put_part_and_publish(course_id, part_index, result, event, publisher)
            return
        self._put_part(course_id, part_index, result, event)

    def _put_part(self, course_id: str, part_index: int, result: PartResult, announce: Event | None) -> None:
        # The primary key (course, part) makes the first writer win; the state row is not touched.
        try:
            with self._transaction() as conn:
                conn.execute(
                    "INSERT INTO part_result (course_id, part_index, body) VALUES (?, ?, ?)",
                    (course_id, part_index, result.model_dump_json()),
                )
                if announce is not None:
                    self.outbox.insert(conn, announce)
        except sqlite3.IntegrityError as exc:
            raise StaleState(f"course {course_id}: part {part_index + 1} is written already") from exc
        if announce is not None:
            self.outbox.added(announce)

    def get_parts(self, course_id: str, part_count: int) -> dict[int, PartResult]:
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT part_index, body FROM part_result WHERE course_id = ? AND part_index < ?",
                (course_id, part_count),
            ).fetchall()
        return {int(k): PartResult.model_validate_json(body) for k, body in rows}

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
        with self._transaction() as conn:
            removed = conn.execute(
                "DELETE FROM course_state WHERE course_id = ? AND version = ?", (course_id, version)
            ).rowcount
            if removed:  # and the part results of parallel sections, which nothing else removes
                conn.execute("DELETE FROM part_result WHERE course_id = ?", (course_id,))
        if removed == 0:
            raise StaleState(f"course {course_id} is no longer at version {version}")


Connect = Callable[[], Any]  # the store's per-thread connection, as a context manager


class SqliteOutbox:
    """The outbox table beside the course states (see local_bus.Outbox). Entries are claimed
    in a transaction; one held by a process that has died is free to claim again."""

    def __init__(self, connect: Connect) -> None:
        self._connect = connect
        self._listeners: list[Callable[[Event], None]] = []

    def insert(self, conn: sqlite3.Connection, event: Event) -> None:
        """Add `event` within the caller's open transaction on `conn`."""
        conn.execute(
            "INSERT INTO outbox (course_id, name, detail, available_at) VALUES (?, ?, ?, 0)",
            (event.course_id, event.name.value, json.dumps(event.detail_json())),
        )

    def added(self, event: Event) -> None:
        """Tell this process's buses that `event` is committed."""
        for listener in list(self._listeners):
            listener(event)

    def add(self, event: Event) -> None:
        with self._connect() as conn:
            self.insert(conn, event)
        self.added(event)

    def listen(self, callback: Callable[[Event], None]) -> None:
        self._listeners.append(callback)

    def claim(self, owner: str, now: float, limit: int) -> list[OutboxEntry]:
        if limit <= 0:
            return []
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                rows = conn.execute(
                    "SELECT id, name, detail, attempts, first_failed_at, targets, owner FROM outbox"
                    " WHERE delivered_at IS NULL AND available_at <= ? ORDER BY available_at, id LIMIT ?",
                    (now, _CLAIM_SCAN),
                ).fetchall()
                holders: dict[str, bool] = {}
                entries: list[OutboxEntry] = []
                for entry_id, name, detail, attempts, first_failed_at, targets, holder in rows:
                    if holder is not None:
                        if holder not in holders:
                            holders[holder] = processes.is_alive(holder)
                        if holders[holder]:
                            continue  # being delivered by a live process (perhaps this one)
                    entries.append(
                        OutboxEntry(
                            id=entry_id,
                            event=event_from(name, detail),
                            attempts=attempts,
                            first_failed_at=first_failed_at,
                            targets=None if targets is None else tuple(json.loads(targets)),
                        )
                    )
                    if len(entries) == limit:
                        break
                conn.executemany(
                    "UPDATE outbox SET owner = ? WHERE id = ?", [(owner, entry.id) for entry in entries]
                )
                conn.execute("COMMIT")
            finally:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
        return entries

    def settle(self, entry_id: int, now: float) -> None:
        with self._connect() as conn:
            conn.execute("UPDATE outbox SET delivered_at = ?, owner = NULL WHERE id = ?", (now, entry_id))

    def retry(self, entry: OutboxEntry, available_at: float, error: str) -> None:
        with self._connect() as conn:
            conn.execute(
                "UPDATE outbox SET attempts = ?, first_failed_at = ?, targets = ?, available_at = ?,"
                " last_error = ?, owner = NULL WHERE id = ?",
                (
                    entry.attempts,
                    entry.first_failed_at,
                    None if entry.targets is None else json.dumps(list(entry.targets)),
                    available_at,
                    error,
                    entry.id,
                ),
            )

    def release(self, owner: str) -> None:
        with self._connect() as conn:
            conn.execute("UPDATE outbox SET owner = NULL WHERE owner = ? AND delivered_at IS NULL", (owner,))

    def waiting(self, owner: str) -> int:
        with self._connect() as conn:
            holders = [row[0] for row in conn.execute("SELECT owner FROM outbox WHERE delivered_at IS NULL")]
        return sum(holder is None or holder == owner or not processes.is_alive(holder) for holder in holders)

    def undelivered(self) -> int:
        """Events not delivered yet, whoever holds them."""
        with self._connect() as conn:
            [(count,)] = conn.execute("SELECT count(*) FROM outbox WHERE delivered_at IS NULL").fetchall()
        return int(count)

    def purge_delivered(self, now: float | None = None) -> None:
        cutoff = (time.time() if now is None else now) - _KEEP_DELIVERED_SECONDS
        with self._connect() as conn:
            conn.execute("DELETE FROM outbox WHERE delivered_at IS NOT NULL AND delivered_at < ?", (cutoff,))
