"""Planners: implementations of the `Planner` port (the offline, deterministic one lives here)."""

from chalicelib.planning.offline import OfflinePlanner

__all__ = ["OfflinePlanner"]
