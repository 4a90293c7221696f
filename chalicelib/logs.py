"""Structured logs: one JSON object a line, with the course id, phase and attempt when known, and
whatever a line passes as `extra={"fields": {...}}` (counts, metrics)."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from .config import log_level

CONTEXT_FIELDS = ("course_id", "phase", "attempt", "status")
LOGGER = "coursegen"

_context: ContextVar[dict[str, Any]] = ContextVar("coursegen_log_context", default={})  # noqa: B039


@contextmanager
def context(**fields: Any) -> Iterator[None]:
    """Fields every log line written inside the block carries (unless the line sets its own):
    the bus sets the delivery attempt, the workflow the course and phase, so that lines of the
    planner, the stores and the model client are attributed too."""
    token = _context.set({**_context.get(), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        around = _context.get()
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is None:
                value = around.get(name)
            if value is not None:
                line[name] = value
        fields = getattr(record, "fields", None)  # a line's own structured values
        if isinstance(fields, dict):
            line.update({name: value for name, value in fields.items() if name not in line})
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class _StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stdout is when a line is logged, not when logging was set up: a
    stream swapped meanwhile (a test's capture, a redirect) may be closed by then."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self) -> Any:
        return sys.stdout

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


_configured = False


def configure(level: str | None = None, stream: Any = None, *, force: bool = True) -> None:
    """Send the project's loggers to stdout (or `stream`) as JSON: CloudWatch keeps one event
    per line. Replaces the plain handler Chalice puts on the app's logger, which shares our
    name. With force=False, a configuration made earlier (e.g. by the CLI) is kept."""
    global _configured
    if _configured and not force:
        return
    _configured = True
    logger = logging.getLogger(LOGGER)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    handler = logging.StreamHandler(stream) if stream is not None else _StdoutHandler()
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.setLevel(level or log_level("INFO"))
    logger.propagate = False
