"""Typed access to what only the embedded default has: the in-process bus, the library's
administration side. A test that needs them says so through these, not through `Any`."""

from __future__ import annotations

from chalicelib.adapters.local_bus import LocalBus
from chalicelib.ports import LibraryAdmin
from chalicelib.workflow import Workflow


def bus_of(flow: Workflow) -> LocalBus:
    bus = flow.deps.publisher
    assert isinstance(bus, LocalBus), f"the embedded default publishes on LocalBus, not {type(bus).__name__}"
    return bus


def admin_of(flow: Workflow) -> LibraryAdmin:
    library = flow.deps.library
    assert isinstance(library, LibraryAdmin), f"{type(library).__name__} cannot load books"
    return library
