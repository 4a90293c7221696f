"""app.py re-exports what Chalice names: each Lambda's handler string is `app.<function>`, so every
handler the app registers must be reachable on the app module, as the very function registered."""

from __future__ import annotations

from typing import Any

import app as app_module
from chalicelib import service


def handler_strings() -> dict[str, str]:
    sources: list[Any] = [*service.app.event_sources, *service.app.pure_lambda_functions]
    return {source.name: source.handler_string for source in sources}


def test_every_handler_chalice_names_is_on_the_app_module() -> None:
    strings = handler_strings()
    assert len(strings) >= 8  # six workflow steps, the dead-letter consumer, the migration
    for name, handler_string in strings.items():
        module, function = handler_string.split(".")
        assert module == "app", name
        assert getattr(app_module, function) is getattr(service, function), name


def test_the_app_module_exports_the_packages_app_and_nothing_it_does_not_name() -> None:
    assert app_module.app is service.app
    named = {string.split(".")[1] for string in handler_strings().values()}
    assert set(app_module.__all__) == named | {"app"}
