"""The migration function: registered by app.py under the name the post-processor expects, it
applies the packaged migrations and answers with what it applied; its digest is the trigger that
makes Terraform invoke it again."""

from __future__ import annotations

from typing import Any

import pytest

import app as app_module
from chalicelib import migrate_handler
from chalicelib.adapters.migrate import Migration, available_migrations


def test_app_py_registers_the_migration_function_under_its_handler_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    [registered] = [f for f in app_module.app.pure_lambda_functions if f.name == migrate_handler.HANDLER_NAME]
    assert registered.handler_string == "app.course_migrate"
    monkeypatch.setattr(migrate_handler, "run", lambda: {"applied": [], "digest": "d"})
    assert app_module.course_migrate({"migrations_sha256": "d"}, None) == {"applied": [], "digest": "d"}


def test_the_function_applies_the_migrations_and_answers_with_them(monkeypatch: pytest.MonkeyPatch) -> None:
    def connections() -> Any:
        raise AssertionError("migrate is replaced below")

    calls: list[Any] = []

    def migrate(target: Any) -> list[str]:
        calls.append(target)
        return ["001"]

    monkeypatch.setattr(migrate_handler, "migrate", migrate)
    answer = migrate_handler.run(connections)
    assert calls == [connections]
    assert answer == {"applied": ["001"], "digest": migrate_handler.migrations_digest()}


def test_a_failed_migration_fails_the_invocation(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(target: Any) -> list[str]:
        raise RuntimeError("relation exists")

    monkeypatch.setattr(migrate_handler, "migrate", broken)
    with pytest.raises(RuntimeError, match="relation exists"):
        migrate_handler.run(lambda: None)


def test_the_digest_changes_when_a_migration_is_added_or_edited() -> None:
    shipped = available_migrations()
    assert shipped, "the package ships its migrations"
    digest = migrate_handler.migrations_digest(shipped)
    assert digest == migrate_handler.migrations_digest()
    added = [*shipped, Migration("999", "later", "SELECT 1;")]
    edited = [Migration(shipped[0].version, shipped[0].name, shipped[0].sql + "\n-- edited"), *shipped[1:]]
    assert (
        len({digest, migrate_handler.migrations_digest(added), migrate_handler.migrations_digest(edited)})
        == 3
    )
