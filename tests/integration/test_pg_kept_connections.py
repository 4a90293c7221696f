"""KeptConnections on a real server: reuse, a connection that died while idle, a failed operation."""

from __future__ import annotations

import pg8000.exceptions
import pytest

from chalicelib.adapters.pg import ConnectionFactory, KeptConnections, session


def backend_pid(conn: object) -> int:
    return int(conn.run("SELECT pg_backend_pid()")[0][0])  # type: ignore[attr-defined]


def test_a_connection_is_lent_again_after_a_clean_operation(pg_conn_factory: ConnectionFactory) -> None:
    kept = KeptConnections(pg_conn_factory)
    with kept.session() as conn:
        first = backend_pid(conn)
    with kept.session() as conn:
        assert backend_pid(conn) == first
    kept.close()


def test_a_connection_that_died_while_idle_is_replaced(pg_conn_factory: ConnectionFactory) -> None:
    kept = KeptConnections(pg_conn_factory)
    with kept.session() as conn:
        first = backend_pid(conn)
    with session(pg_conn_factory) as admin:
        admin.run("SELECT pg_terminate_backend(:pid)", pid=first)

    with kept.session() as conn:
        assert backend_pid(conn) != first  # a fresh one, and the operation ran
    kept.close()


def test_a_connection_whose_operation_failed_is_not_kept(pg_conn_factory: ConnectionFactory) -> None:
    kept = KeptConnections(pg_conn_factory)
    with pytest.raises(pg8000.exceptions.DatabaseError), kept.session() as conn:
        first = backend_pid(conn)
        conn.run("SELECT * FROM no_such_table")
    with kept.session() as conn:
        assert backend_pid(conn) != first
    kept.close()
