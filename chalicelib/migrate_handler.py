"""The migration function: applies the schema migrations shipped in the package to Aurora.
Terraform invokes it on apply whenever the migrations change (the digest below is its trigger)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import Any

from .adapters.migrate import Migration, available_migrations, migrate

log = logging.getLogger("coursegen.migrations")

HANDLER_NAME = "course-migrate"


def migrations_digest(migrations: list[Migration] | None = None) -> str:
    """SHA-256 over every migration's version and checksum: changes when one is added or edited."""
    found = available_migrations() if migrations is None else migrations
    lines = "".join(f"{migration.version}:{migration.checksum}\n" for migration in found)
    return hashlib.sha256(lines.encode()).hexdigest()


def run(connections: Callable[[], Any] | None = None) -> dict[str, Any]:
    """Apply what is pending; any failure raises, so the invocation (and the apply) fails."""
    if connections is None:
        from . import bootstrap

        # The database password only: this function reads neither the model key nor the state.
        connections = bootstrap.aws_connection_factory(bootstrap.settings())
    applied = migrate(connections)
    log.info("schema migrated", extra={"applied": applied})
    return {"applied": applied, "digest": migrations_digest()}
