"""POST /courses body validation: every bad field is named, nothing else is accepted."""

from __future__ import annotations

import json

import pytest

from chalicelib.core.models import Depth, Pace
from chalicelib.errors import InvalidRequest
from chalicelib.http import parse_course_request


def body(**fields: object) -> bytes:
    base: dict[str, object] = {"query": "Learn DCF valuation", "hours": 2.0}
    base.update(fields)
    return json.dumps({k: v for k, v in base.items() if v is not ...}).encode()


def rejects(raw: bytes | None) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        parse_course_request(raw)
    return caught.value


def test_a_minimal_request_gets_balanced_moderate_defaults() -> None:
    request = parse_course_request(body())
    assert request.preferences.depth is Depth.BALANCED
    assert request.preferences.pace is Pace.MODERATE
    assert request.target_minutes == 120


def test_the_query_is_trimmed_and_inner_whitespace_collapsed() -> None:
    assert parse_course_request(body(query="  Learn \n DCF   valuation  ")).query == "Learn DCF valuation"


def test_integer_hours_are_accepted() -> None:
    assert parse_course_request(body(hours=3)).target_minutes == 180


@pytest.mark.parametrize("query", ["", "  ", "ab", "  a \n "])
def test_a_query_shorter_than_three_characters_after_trimming_is_rejected(query: str) -> None:
    error = rejects(body(query=query))
    assert error.field == "query" and "at least 3" in error.message


def test_a_query_longer_than_500_characters_is_rejected() -> None:
    error = rejects(body(query="x" * 501))
    assert error.field == "query" and "at most 500" in error.message


@pytest.mark.parametrize("query", [42, None, ["Learn DCF"], {"q": "x"}])
def test_a_query_that_is_not_a_string_is_rejected(query: object) -> None:
    assert rejects(body(query=query)).field == "query"


@pytest.mark.parametrize("hours", [0, 0.24, 40.01, -1, 1e9, float("nan"), float("inf")])
def test_hours_outside_a_quarter_hour_to_forty_are_rejected(hours: float) -> None:
    error = rejects(body(hours=hours))
    assert error.field == "hours" and error.code == "invalid_field"
    assert error.message == f"hours must be from 0.25 to 40, got {hours:g}"


@pytest.mark.parametrize("hours", ["2", True, None, [2]])
def test_hours_that_are_not_a_number_are_rejected(hours: object) -> None:
    assert rejects(body(hours=hours)).field == "hours"


def test_missing_hours_is_named() -> None:
    error = rejects(body(hours=...))
    assert (error.field, error.code) == ("hours", "missing_field")
    assert error.message == "hours is required"


def test_missing_query_is_named() -> None:
    assert rejects(body(query=...)).field == "query"


def test_an_unknown_depth_is_rejected_naming_the_nested_field() -> None:
    error = rejects(body(preferences={"depth": "deep"}))
    assert (error.field, error.code) == ("preferences.depth", "invalid_choice")


def test_an_unknown_pace_is_rejected() -> None:
    assert rejects(body(preferences={"pace": "slow"})).field == "preferences.pace"


def test_an_unknown_top_level_field_is_rejected() -> None:
    error = rejects(body(level="expert"))
    assert (error.field, error.code) == ("level", "unknown_field")


def test_an_unknown_preference_is_rejected() -> None:
    assert rejects(body(preferences={"depth": "expert", "style": "fun"})).field == "preferences.style"


@pytest.mark.parametrize("raw", [b"", None, b"not json", b"{", b"\xff\xfe"])
def test_a_body_that_is_not_json_is_rejected(raw: bytes | None) -> None:
    assert rejects(raw).code in {"invalid_json", "invalid_body"}


@pytest.mark.parametrize("raw", [b"[]", b"42", b'"text"', b"null"])
def test_a_json_body_that_is_not_an_object_is_rejected(raw: bytes) -> None:
    assert rejects(raw).code == "invalid_body"


def test_an_oversized_body_is_rejected_before_parsing() -> None:
    assert rejects(b"{" + b" " * 20_000 + b"}").code == "body_too_large"
