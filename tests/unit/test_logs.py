"""Log lines are JSON objects carrying the course id, phase and attempt."""

from __future__ import annotations

import io
import json
import logging
import sys

import pytest

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


def test_lines_inside_a_context_carry_its_fields_unless_they_set_their_own() -> None:
    from chalicelib import logs

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("coursegen.test-context")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    with logs.context(attempt=2), logs.context(course_id="c-1", phase="parts"):
        logger.info("asked the model")
        logger.info("a line of its own", extra={"phase": "review"})
    logger.info("outside")
    inside, own, outside = (json.loads(line) for line in stream.getvalue().splitlines())
    assert (inside["course_id"], inside["phase"], inside["attempt"]) == ("c-1", "parts", 2)
    assert (own["course_id"], own["phase"], own["attempt"]) == ("c-1", "review", 2)
    assert not {"course_id", "phase", "attempt"} & set(outside)


def test_configured_logs_follow_sys_stdout_as_it_is_when_a_line_is_written(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from chalicelib import logs

    logs.configure(level="INFO")
    later = io.StringIO()
    monkeypatch.setattr(sys, "stdout", later)  # what a test's capture or a redirect does
    logging.getLogger("coursegen.test-stdout").info("after the swap")
    assert json.loads(later.getvalue())["message"] == "after the swap"
