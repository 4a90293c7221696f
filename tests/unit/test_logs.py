"""Log lines are JSON objects carrying the course id, phase and attempt."""

from __future__ import annotations

import io
import json
import logging

from chalicelib.logs import JsonFormatter


def test_a_log_line_is_one_json_object_with_the_context_fields() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("coursegen.test-logs")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    logger.info("PartsGenerated -> PartSectionsGenerated", extra={"course_id": "c-1", "phase": "sections"})
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("failed", extra={"course_id": "c-2", "phase": "search", "attempt": 2})
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["message"] == "PartsGenerated -> PartSectionsGenerated"
    assert (first["course_id"], first["phase"], first["level"]) == ("c-1", "sections", "INFO")
    assert "attempt" not in first
    assert (second["course_id"], second["attempt"]) == ("c-2", 2)
    assert "ValueError: boom" in second["error"]
