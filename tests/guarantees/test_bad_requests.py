"""POST /courses under fuzzing through the Chalice test client: never a 5xx; every refusal is a 4xx
whose body names the problem; a refused request stores and publishes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from chalice.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import app
from chalicelib import bootstrap
from chalicelib.core.models import MAX_QUERY_CHARS, CourseRequest, CourseState
from chalicelib.ports import StateStore
from tests.support.fakes import DelegatingStateStore

from .support import LOCAL_USER, Embedded, ScriptedBus, scripted_workflow

VALID = {
    "query": "Learn DCF valuation",
    "hours": 2.0,
    "preferences": {"depth": "balanced", "pace": "moderate"},
}
FIELDS = ("query", "hours", "preferences", "preferences.depth", "preferences.pace")
JSON_TYPES = [None, "application/json", "application/json; charset=utf-8", "Application/JSON"]


class CountingStateStore(DelegatingStateStore):
    """The real store, counting the states created through it."""

    def __init__(self, inner: StateStore) -> None:
        super().__init__(inner)
        self.created: list[str] = []

    def create(self, state: CourseState) -> CourseState:
        created = self.inner.create(state)
        self.created.append(created.course_id)
        return created


@pytest.fixture
def recorded(embedded: Embedded, tmp_path: Any) -> Iterator[tuple[Client, CountingStateStore, ScriptedBus]]:
    """The app on a workflow whose bus only records (a valid request is queued, not run) and
    whose SQLite state starts empty."""
    from chalicelib.adapters.sqlite_state import SqliteStateStore

    store = CountingStateStore(SqliteStateStore(tmp_path / "fuzz-state.sqlite3"))
    bus = ScriptedBus()
    bootstrap.configure_workflow(scripted_workflow(embedded, state_store=store, publisher=bus, prefix="fuzz"))
    yield Client(app, stage_name="local"), store, bus


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=8,
)
odd_values = st.one_of(
    json_values,
    st.sampled_from(["", " ", "ab", "\t\n  \r", "x" * (MAX_QUERY_CHARS + 1), 0, -1, 0.1, 40.01, 1e308]),
    st.sampled_from([True, False, "2", "2.0", [], {}, [2], {"hours": 2}, "overview ", "EXPERT", "slow"]),
    st.text(min_size=MAX_QUERY_CHARS + 1, max_size=MAX_QUERY_CHARS + 50),  # too long, any script
    st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=40),  # any Unicode
)


def set_field(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    changed: dict[str, Any] = json.loads(json.dumps(body))
    *parents, last = path.split(".")
    node = changed
    for part in parents:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    if value is ...:
        node.pop(last, None)
    else:
        node[last] = value
    return changed


@st.composite
def json_bodies(draw: st.DrawFn) -> dict[str, Any] | Any:
    """Request documents: a valid one with fields changed, removed or added, or any JSON at all."""
    shape = draw(st.sampled_from(["changed", "missing", "extra", "anything"]))
    if shape == "anything":
        return draw(json_values)
    body = VALID
    for _ in range(draw(st.integers(1, 3))):
        if shape == "changed":
            body = set_field(body, draw(st.sampled_from(FIELDS)), draw(odd_values))
        elif shape == "missing":
            body = set_field(body, draw(st.sampled_from(FIELDS)), ...)
        else:
            place = draw(st.sampled_from(["", "preferences."]))
            name = draw(st.text(min_size=1, max_size=12).filter(lambda n: "." not in n))
            body = set_field(body, place + name, draw(json_values))
    return body


def encode(body: Any, ascii_only: bool) -> bytes:
    return json.dumps(body, ensure_ascii=ascii_only, allow_nan=True).encode()


raw_bodies = st.one_of(
    st.binary(max_size=64),
    st.integers(0, len(encode(VALID, True)) - 1).map(lambda n: encode(VALID, True)[:n]),  # cut off
    st.sampled_from(
        [
            b"",
            b"   ",
            b"null",
            b"[]",
            b'"a string"',
            b"NaN",
            b'{"query": "Learn DCF valuation", "hours": NaN}',
            b'{"query": "Learn DCF valuation", "hours": Infinity}',
            b'{"query": "Learn DCF valuation", "hours": -Infinity}',
            b'{"query": "Learn DCF valuation", "hours": 1e400}',
            b'{"query": "Learn DCF valuation", "hours": ' + b"9" * 5000 + b"}",
            b'{"query": "Learn DCF valuation", "hours": 2, "hours": "two"}',
            b"\xef\xbb\xbf" + encode(VALID, True),  # a byte-order mark
            encode(VALID, True)[:20] + b"\xff\xfe" + encode(VALID, True)[20:],  # not UTF-8
            b"[" * 50_000,
            b'{"query": "' + b"x" * 20_000 + b'", "hours": 2}',  # over the size limit
            b"query=Learn+DCF&hours=2",
        ]
    ),
)


@st.composite
def requests(draw: st.DrawFn) -> tuple[bytes, dict[str, str], Any]:
    """A body, its headers, and the document it encodes (None when it is not JSON)."""
    if draw(st.integers(0, 3)) == 0:
        raw = draw(raw_bodies)
        document = parsed(raw)
    else:
        document = draw(json_bodies())
        raw = encode(document, ascii_only=draw(st.booleans()))
    content_type = draw(st.sampled_from(JSON_TYPES))
    return raw, ({} if content_type is None else {"Content-Type": content_type}), document


def parsed(raw: bytes) -> Any:
    """The document a raw body holds, if it is JSON at all (None otherwise)."""
    try:
        return json.loads(raw)
    except Exception:
        return None


def accepted_by_the_model(document: Any) -> bool:
    try:
        CourseRequest.model_validate(document)
    except Exception:
        return False
    return isinstance(document, dict)


def assert_names_the_problem(body: Any, document: Any) -> None:
    assert isinstance(body, dict) and set(body) == {"error"}, body
    error = body["error"]
    assert isinstance(error, dict) and set(error) == {"code", "message", "field"}, error
    assert isinstance(error["code"], str) and error["code"].strip(), error
    assert isinstance(error["message"], str) and len(error["message"].strip()) >= 10, error
    assert error["field"] is None or isinstance(error["field"], str), error
    if error["field"]:
        # The field is one the request has, or one it must have.
        head = error["field"].split(".")[0]
        assert head in {"query", "hours", "preferences"} or head in (document or {}), error


@pytest.mark.slow
def test_fuzzed_course_requests_never_cause_a_server_error_and_refusals_change_nothing(
    recorded: tuple[Client, CountingStateStore, ScriptedBus],
) -> None:
    client, store, bus = recorded
    outcomes: dict[int, int] = {}

    @settings(
        max_examples=600,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(request=requests())
    def one_request(request: tuple[bytes, dict[str, str], Any]) -> None:
        raw, headers, document = request
        created, published = len(store.created), len(bus.history)

        response = client.http.post("/courses", headers=headers, body=raw)

        outcomes[response.status_code] = outcomes.get(response.status_code, 0) + 1
        assert response.status_code < 500, (response.status_code, response.body)
        if response.status_code == 202:
            assert document is not None and accepted_by_the_model(document), raw
            assert len(store.created) == created + 1 and len(bus.history) == published + 1
            assert response.json_body["course_id"] == store.created[-1] == bus.history[-1].course_id
        else:
            assert 400 <= response.status_code < 500
            assert_names_the_problem(response.json_body, document)
            assert len(store.created) == created and len(bus.history) == published

    one_request()
    cases = sum(outcomes.values())
    assert cases >= 500 and outcomes.get(400, 0) >= 400, f"{cases} fuzzed requests: {outcomes} by status"
    # The store holds exactly the accepted courses, nothing else.
    stored = store.list_for_user(LOCAL_USER, limit=10_000)
    assert sorted(s.course_id for s in stored) == sorted(store.created)


# --- inputs that once got past the edge, each refused in the error format ---------------------


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
def test_a_body_that_is_not_declared_json_is_refused_in_the_error_format(
    recorded: tuple[Client, CountingStateStore, ScriptedBus], content_type: str
) -> None:
    client, store, bus = recorded
    response = client.http.post("/courses", headers={"Content-Type": content_type}, body=encode(VALID, True))
    assert response.status_code in (400, 415)
    assert_names_the_problem(response.json_body, VALID)
    assert not store.created and not bus.history


def test_a_deeply_nested_body_within_the_size_limit_is_refused_as_invalid_json(
    recorded: tuple[Client, CountingStateStore, ScriptedBus],
) -> None:
    client, store, bus = recorded
    response = client.http.post("/courses", headers={"Content-Type": "application/json"}, body=b"[" * 10_000)
    assert response.status_code == 400 and response.json_body["error"]["code"] == "invalid_json"
    assert not store.created and not bus.history


def test_a_query_with_an_unpaired_surrogate_is_refused_naming_the_query(
    recorded: tuple[Client, CountingStateStore, ScriptedBus],
) -> None:
    client, store, bus = recorded
    raw = b'{"query": "Learn DCF \\ud800 valuation", "hours": 2}'
    response = client.http.post("/courses", headers={"Content-Type": "application/json"}, body=raw)
    assert response.status_code == 400 and response.json_body["error"]["field"] == "query"
    assert not store.created and not bus.history


def test_a_query_with_a_nul_character_is_refused_naming_the_query(
    recorded: tuple[Client, CountingStateStore, ScriptedBus],
) -> None:
    client, store, bus = recorded
    raw = b'{"query": "Learn DCF\\u0000 valuation", "hours": 2}'
    response = client.http.post("/courses", headers={"Content-Type": "application/json"}, body=raw)
    assert response.status_code == 400 and response.json_body["error"]["field"] == "query"
    assert not store.created and not bus.history
