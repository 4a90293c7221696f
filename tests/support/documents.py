"""Editing JSON documents by dotted path, for tests that break one field at a time."""

from __future__ import annotations

import copy
from typing import Any


def _steps(path: str) -> list[str | int]:
    return [int(part) if part.isdigit() else part for part in path.split(".")]


def set_path(document: Any, path: str, value: Any) -> Any:
    """A copy of `document` with `value` at `path` (dotted, list indexes as numbers); a value of
    `...` deletes the field instead."""
    changed = copy.deepcopy(document)
    *parents, last = _steps(path)
    node: Any = changed
    for part in parents:
        node = node[part]
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return changed


def get_path(document: Any, path: str) -> Any:
    node = document
    for part in _steps(path):
        node = node[part]
    return node
