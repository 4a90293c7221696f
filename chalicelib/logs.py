"""Structured logs: one JSON object a line, with the course id, phase and attempt when known."""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import Any

CONTEXT_FIELDS = ("course_id", "phase", "attempt", "status")
LOGGER = "coursegen"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


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
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.setLevel((level or os.environ.get("COURSEGEN_LOG_LEVEL") or "INFO").upper())
    logger.propagate = False
