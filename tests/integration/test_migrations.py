"""Schema migrations: applied in order, once, safely when two processes race."""

from __future__ import annotations

import threading
from contextlib import closing

import pytest

from chalicelib.adapters.migrate import Migration, MigrationError, available_migrations, migrate
from chalicelib.adapters.pg import ConnInfo, connect

TABLES = {"library_meta", "books", "chapters", "courses", "course_sections", "schema_migrations"}


def tables(info: ConnInfo) -> set[str]:
    with closing(connect(info)) as conn:
        rows = conn.run("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return {row[0] for row in rows}


def recorded_versions(info: ConnInfo) -> list[str]:
    with closing(connect(info)) as conn:
        return [row[0] for row in conn.run("SELECT version FROM schema_migrations ORDER BY version")]


def test_migration_files_ship_with_the_package_in_version_order() -> None:
    versions = [migration.version for migration in available_migrations()]
    assert versions[0] == "001"
    assert versions == sorted(versions)


def test_migrating_a_fresh_database_creates_the_schema(pg_empty_database: ConnInfo) -> None:
    with closing(connect(pg_empty_database)) as conn:
        applied = migrate(conn)
    assert applied == [migration.version for migration in available_migrations()]
    assert tables(pg_empty_database) >= TABLES
    assert recorded_versions(pg_empty_database) == applied


def test_migrating_twice_applies_nothing_the_second_time(pg_empty_database: ConnInfo) -> None:
    with closing(connect(pg_empty_database)) as conn:
        migrate(conn)
        assert migrate(conn) == []
    assert len(recorded_versions(pg_empty_database)) == len(available_migrations())


def test_concurrent_migrations_apply_each_version_exactly_once(pg_empty_database: ConnInfo) -> None:
    outcomes: list[list[str] | BaseException] = []
    barrier = threading.Barrier(4)

    def run() -> None:
        try:
            with closing(connect(pg_empty_database)) as conn:
                barrier.wait()
                outcomes.append(migrate(conn))
        except BaseException as error:
            outcomes.append(error)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(isinstance(outcome, list) for outcome in outcomes), outcomes
    applied = [version for outcome in outcomes for version in outcome]  # type: ignore[union-attr]
    assert sorted(applied) == [migration.version for migration in available_migrations()]
    assert recorded_versions(pg_empty_database) == sorted(applied)


def test_a_failing_migration_is_rolled_back_and_named(pg_empty_database: ConnInfo) -> None:
    good = available_migrations()
    broken = Migration(
        "999", "broken", "CREATE TABLE half_done (id int); SELECT no_such_column FROM half_done;"
    )
    with closing(connect(pg_empty_database)) as conn:
        with pytest.raises(MigrationError, match="999_broken"):
            migrate(conn, [*good, broken])
        # The lock was released and the connection is usable: a later run can continue.
        assert migrate(conn) == []
    assert "half_done" not in tables(pg_empty_database)
    assert recorded_versions(pg_empty_database) == [migration.version for migration in good]


def test_a_new_migration_is_applied_on_top_of_the_recorded_ones(pg_empty_database: ConnInfo) -> None:
    extra = Migration("998", "extra", "CREATE TABLE extra_things (id int PRIMARY KEY);")
    with closing(connect(pg_empty_database)) as conn:
        migrate(conn)
        assert migrate(conn, [*available_migrations(), extra]) == ["998"]
    assert "extra_things" in tables(pg_empty_database)


def test_migrate_also_takes_a_connection_factory(pg_empty_database: ConnInfo) -> None:
    assert migrate(lambda: connect(pg_empty_database)) == [m.version for m in available_migrations()]
    assert migrate(lambda: connect(pg_empty_database)) == []
