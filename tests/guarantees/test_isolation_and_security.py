"""Isolation between users, hostile text against every SQL path, and secrets kept out of logs.

Requests reach the app as API Gateway delivers them on AWS (the caller's IAM identity in the
request context), so two users can be told apart; the workflow behind is the embedded default."""

from __future__ import annotations

import io
import json
import logging
import socket
import urllib.parse
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import pytest
from chalice.app import CognitoUserPoolAuthorizer, IAMAuthorizer
from chalice.local import LambdaContext
from chalice.test import Client
from moto import mock_aws

from app import app
from chalicelib import bootstrap
from chalicelib.adapters.book_files import read_book_file
from chalicelib.adapters.pg import ConnectionFactory, session
from chalicelib.adapters.pg_library import PgLibrary
from chalicelib.config import AwsSettings, Settings
from chalicelib.core.books import Book
from chalicelib.core.models import SectionPlan, Status
from chalicelib.errors import EmbedderMismatch
from chalicelib.logs import JsonFormatter
from chalicelib.workflow import Workflow
from tests.support.runtime import admin_of, bus_of

from .support import (
    Embedded,
    RememberingPlanner,
    ScriptedBus,
    a_request,
    library_fingerprint,
    run_in_order,
    scripted_workflow,
    stored_rows,
    wait_until_terminal,
)

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "library"
READER = "reader"  # the user searches are made for: sees the shared books, owns none

REQUEST = {"query": "Learn DCF valuation", "hours": 1.0}


def api(
    method: str, path: str, user: str | None, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    """Call the app as API Gateway does behind the IAM authorizer; returns status and JSON body."""
    resource, params = path, None
    if path.startswith("/courses/"):
        course_id, _, action = path[len("/courses/") :].partition("/")
        resource = "/courses/{course_id}" + (f"/{action}" if action else "")
        params = {"course_id": urllib.parse.unquote(course_id)}
    identity: dict[str, Any] = {"sourceIp": "203.0.113.7"}
    if user is not None:
        identity["userArn"] = f"arn:aws:iam::123456789012:user/{user}"
    event = {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": {"content-type": "application/json", **(headers or {})},
        "multiValueQueryStringParameters": None,
        "pathParameters": params,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": f"/api{path}",
            "stage": "api",
            "identity": identity,
        },
        "body": None if body is None else json.dumps(body),
        "isBase64Encoded": False,
    }
    response = app(event, LambdaContext("api_handler", memory_size=512))
    return response["statusCode"], json.loads(response["body"]) if response.get("body") else None


def caller(user: str) -> str:
    return f"arn:aws:iam::123456789012:user/{user}"


def start(user: str, body: dict[str, Any]) -> str:
    status, accepted = api("POST", "/courses", user, body)
    assert status == 202, accepted
    return str(accepted["course_id"])


def finish(embedded: Embedded, *course_ids: str) -> None:
    finals = wait_until_terminal(embedded.flow.deps.state_store.get, course_ids, 60)
    assert all(state.status is Status.COMPLETE for state in finals.values()), finals


# --- one user, another user's course ------------------------------------------------------------


def test_a_user_cannot_read_list_or_change_another_users_course(embedded: Embedded) -> None:
    alices, bobs = start("alice", REQUEST), start("bob", {**REQUEST, "hours": 2.0})
    finish(embedded, alices, bobs)
    state_store, course_store = embedded.flow.deps.state_store, embedded.flow.deps.course_store
    bob_state, bob_rows = state_store.get(bobs), course_store.get(bobs)

    status, body = api("GET", f"/courses/{alices}", "alice")
    assert status == 200 and body["course"]["course_id"] == alices

    # Another user's course is a 404, worded exactly as a course that does not exist.
    status, body = api("GET", f"/courses/{bobs}", "alice")
    missing_status, missing = api("GET", "/courses/no-such-course", "alice")
    assert (status, missing_status) == (404, 404)
    assert body["error"]["code"] == missing["error"]["code"] == "not_found"
    assert body["error"]["message"].replace(bobs, "?") == missing["error"]["message"].replace(
        "no-such-course", "?"
    )

    listed = {c["course_id"] for c in api("GET", "/courses", "alice")[1]["courses"]}
    assert alices in listed and bobs not in listed
    listed = {c["course_id"] for c in api("GET", "/courses", "bob")[1]["courses"]}
    assert bobs in listed and alices not in listed

    # No route changes another user's course: retrying or deleting it is the same 404 as for a
    # course that does not exist, and a request cannot name whose course it is or which id.
    for method, path in (("DELETE", f"/courses/{bobs}"), ("POST", f"/courses/{bobs}/retry")):
        status, body = api(method, path, "alice")
        assert status == 404 and body["error"]["code"] == "not_found", (method, path)
    for method in ("PUT", "PATCH"):
        status, body = api(method, f"/courses/{bobs}", "alice", REQUEST)
        assert status == 405 and body["error"]["code"] == "method_not_allowed"
    for smuggled in ({"user_id": caller("bob")}, {"course_id": bobs}):
        status, body = api("POST", "/courses", "alice", {**REQUEST, **smuggled})
        assert status == 400 and body["error"]["code"] == "unknown_field"
    assert state_store.get(bobs) == bob_state and course_store.get(bobs) == bob_rows


def test_a_course_is_owned_by_the_caller_identity_and_a_request_without_one_is_refused_on_aws(
    embedded: Embedded, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = start("carol", REQUEST)
    finish(embedded, mine)
    state = embedded.flow.deps.state_store.get(mine)
    assert state is not None and state.user_id == caller("carol")

    monkeypatch.setattr(bootstrap, "_settings", Settings(runtime="aws", aws=None))
    status, body = api("GET", "/courses", None)
    assert status == 401 and body["error"]["code"] == "unauthenticated"
    status, body = api("POST", "/courses", None, REQUEST)
    assert status == 401 and body["error"]["code"] == "unauthenticated"


def cited_books(embedded: Embedded, course_id: str) -> set[str]:
    stored = embedded.flow.deps.course_store.get(course_id)
    assert stored is not None
    return {
        source.book_id
        for part in stored.outline.parts
        for section in part.sections
        for source in section.sources
    }


@pytest.mark.slow  # two courses through the embedded default
def test_a_users_own_book_serves_only_their_courses_and_only_they_see_it(embedded: Embedded) -> None:
    # Each of two users owns a copy of the valuation book (as their upload to the books bucket
    # loads it): the search is the only way a chapter reaches the planners, so a course cites
    # the shared books and its user's own, never another user's, and GET /books agrees.
    library = admin_of(embedded.flow)
    sample = read_book_file(SAMPLES / "corporate-finance-valuation.json")
    owned = {
        user: library.load(
            [sample.model_copy(update={"title": f"{user.title()}'s DCF Valuation Notes"})],
            embedded.flow.deps.embedder,
            owner=caller(user),
        )[0]
        for user in ("dora", "eric")
    }
    try:
        shared = {book.id for book in library.list_books() if book.owner is None}
        doras, erics = start("dora", REQUEST), start("eric", REQUEST)
        finish(embedded, doras, erics)
        dora_cites, eric_cites = cited_books(embedded, doras), cited_books(embedded, erics)
        assert owned["dora"].id in dora_cites and owned["eric"].id not in dora_cites
        assert owned["eric"].id in eric_cites and owned["dora"].id not in eric_cites
        assert dora_cites <= shared | {owned["dora"].id} and eric_cites <= shared | {owned["eric"].id}

        status, body = api("GET", "/books", "eric")
        assert status == 200
        listed = {book["id"]: book for book in body["books"]}
        assert owned["dora"].id not in listed and shared <= set(listed)
        assert (listed[owned["eric"].id]["yours"], listed[owned["eric"].id]["owner"]) == (
            True,
            caller("eric"),
        )
        assert not any(listed[book]["yours"] or listed[book]["owner"] for book in shared)
        status, body = api("GET", "/books", "frank")  # owns nothing: the shared books only
        assert {book["id"] for book in body["books"]} == shared
    finally:
        for info in owned.values():
            library.remove(info.id)


# --- hostile text: every SQL path is parameterised ----------------------------------------------

TOPIC = "Learn DCF valuation: discounted cash flow, free cash flow, WACC and terminal value"
HOSTILE = [
    f"{TOPIC}'; DROP TABLE chapters; --",
    f'{TOPIC}"); DELETE FROM books WHERE (1=1 OR "',
    f"{TOPIC} \\' OR '1'='1' /* $$ ; TRUNCATE courses CASCADE; $$ */",
    f"{TOPIC} — valuación, 现金流折现 «\U0001d4b1\U0001d4b6\U0001d4c1» 👩‍💼 \u202eevil\u202c",
]


def table_names(connect: ConnectionFactory) -> list[str]:
    with session(connect) as conn:
        rows = conn.run("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
    return [row[0] for row in rows]


def test_sql_in_a_query_is_stored_verbatim_and_the_library_is_untouched(embedded: Embedded) -> None:
    library, tables = library_fingerprint(embedded.connect), table_names(embedded.connect)

    ids = [start("mallory", {"query": query, "hours": 0.5}) for query in HOSTILE]
    finish(embedded, *ids)

    for course_id, query in zip(ids, HOSTILE, strict=True):
        status, body = api("GET", f"/courses/{course_id}", "mallory")
        assert status == 200 and body["query"] == body["course"]["query"] == query
        stored = embedded.flow.deps.course_store.get(course_id)
        assert stored is not None and stored.outline.query == query
    assert library_fingerprint(embedded.connect) == library
    assert table_names(embedded.connect) == tables


@pytest.mark.parametrize(
    "hostile", ["x' OR '1'='1", "'; DROP TABLE courses; --", "é\u202e' --", "%00", "a\x00b", "x" * 5000]
)
def test_hostile_course_ids_and_user_ids_find_nothing_and_break_nothing(
    embedded: Embedded, hostile: str
) -> None:
    theirs = start("dave", REQUEST)
    finish(embedded, theirs)
    tables = table_names(embedded.connect)

    status, body = api("GET", f"/courses/{urllib.parse.quote(hostile, safe='')}", "dave")
    assert status == 404 and body["error"]["code"] == "not_found"
    status, body = api("GET", "/courses", hostile)  # a user name made to match everyone
    assert status == 200 and body["courses"] == []
    status, body = api("GET", f"/courses/{theirs}", hostile)
    assert status == 404
    assert table_names(embedded.connect) == tables


def test_hostile_and_unicode_book_text_loads_and_searches_verbatim(
    scratch_library: PgLibrary, scratch_connect: ConnectionFactory, embedded: Embedded
) -> None:
    embedder = embedded.flow.deps.embedder
    book = Book.model_validate(
        {
            "title": "Robert'); DROP TABLE books; -- \u2013 Valuación",
            "author": 'O\'Brien "Bobby" \\ Tables',
            "chapters": [
                {
                    "number": 7,
                    "title": "Discounting '; DELETE FROM chapters; -- 现金流",
                    "summary": "Present value of future cash flows $$ ; TRUNCATE books $$ \U0001f4b8",
                    "topics": ["') OR ('1'='1", "pr\u00e9sent value"],
                    "key_concepts": ["WACC; DROP TABLE library_meta"],
                }
            ],
        }
    )
    tables = table_names(scratch_connect)
    scratch_library.load([book], embedder)
    [chapter] = book.chapters

    # The chapter's own text as the query: it must come back first, every string unchanged.
    [query] = embedder.embed([f"{chapter.title}. {chapter.summary}"])
    hits = scratch_library.search(query, embedder.kind, embedded.flow.deps.search, caller=READER)
    hit = next(h for h in hits if h.book_title == book.title)
    assert (hit.chapter_title, hit.summary, hit.topics, hit.key_concepts) == (
        chapter.title,
        chapter.summary,
        chapter.topics,
        chapter.key_concepts,
    )

    # A hostile embedder name (with a NUL) is refused before it reaches any statement.
    before = library_fingerprint(scratch_connect)
    with pytest.raises(EmbedderMismatch):
        scratch_library.search(
            query, "x'; DROP TABLE chapters; --\x00", embedded.flow.deps.search, caller=READER
        )
    assert library_fingerprint(scratch_connect) == before
    assert table_names(scratch_connect) == tables


class NulInTitles(RememberingPlanner):
    """The offline planner, but every section title it plans carries a NUL, as a model's output
    could: the one text that reaches PostgreSQL without passing the request's validation."""

    def plan_sections(self, *args: Any, **kwargs: Any) -> list[SectionPlan]:
        sections = super().plan_sections(*args, **kwargs)
        return [s.model_copy(update={"title": s.title + "\x00"}) for s in sections]


def test_an_outline_holding_a_nul_character_fails_the_course_at_storage_at_once_with_a_reason(
    embedded: Embedded,
) -> None:
    bus = ScriptedBus()
    flow = scripted_workflow(embedded, publisher=bus, planner=NulInTitles(), prefix="nul")
    course_id = flow.submit("erin", a_request(hours=0.5)).course_id

    run_in_order(flow, bus)  # raises if any step raised: the failure is permanent, not retried

    state = flow.deps.state_store.get(course_id)
    assert state is not None and state.status is Status.FAILED and state.error is not None
    assert state.error.phase == "storage" and "NUL" in state.error.reason
    assert flow.deps.course_store.get(course_id) is None
    assert stored_rows(embedded.connect, course_id) == {"courses": [], "sections": []}


# --- secrets never reach the logs ---------------------------------------------------------------

SECRETS = {
    "COURSEGEN_OPENAI_API_KEY": "sk-guarantees-0p3n41-k3y-must-not-leak",
    "OPENAI_API_KEY": "sk-guarantees-second-key-must-not-leak",
    "PGPASSWORD": "pg-password-must-not-leak",
    "DB_PASSWORD": "db-password-must-not-leak",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-key-must-not-leak",
}
DB_SECRET = "aurora-password-from-secrets-manager-must-not-leak"


@pytest.fixture
def captured_logs(project_logs: logging.Logger) -> Iterator[io.StringIO]:
    """Every JSON log line of the project, at every level, while the test runs."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    project_logs.addHandler(handler)
    project_logs.setLevel(logging.DEBUG)
    yield stream


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
def test_secrets_in_the_environment_and_in_secrets_manager_never_appear_in_logs(
    embedded: Embedded,
    captured_logs: io.StringIO,
    monkeypatch: pytest.MonkeyPatch,
    aws_credentials: None,
) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    client = Client(app, stage_name="local")
    shown: list[str] = []

    # A course that completes, a request refused, a course whose search fails for good.
    ok = client.http.post("/courses", headers={"Content-Type": "application/json"}, body=json.dumps(REQUEST))
    bad = client.http.post("/courses", headers={"Content-Type": "application/json"}, body=b'{"hours": "x"}')
    finish(embedded, ok.json_body["course_id"])
    shown += [ok.body.decode(), bad.body.decode()]
    shown.append(client.http.get(f"/courses/{ok.json_body['course_id']}").body.decode())

    # The database password as AWS fetches it (at the first connection), used against a
    # database that is not there.
    with mock_aws():
        arn = boto3.client("secretsmanager").create_secret(
            Name="coursegen-db", SecretString=json.dumps({"username": "coursegen", "password": DB_SECRET})
        )["ARN"]
        aws = AwsSettings(
            table_name="unused",
            bus_name="unused",
            account_id="123456789012",
            db_endpoint="127.0.0.1",
            db_name="coursegen",
            db_user="coursegen",
            db_secret_arn=arn,
            db_port=closed_port(),
        )
        connections = bootstrap.aws_connection_factory(Settings(runtime="aws", aws=aws))
        flow = Workflow(replace(embedded.flow.deps, library=PgLibrary(connections)))
        bootstrap.configure_workflow(flow)
        # The bus gives up within a second instead of its minute: the secret is logged or not either way.
        monkeypatch.setattr(embedded.bus, "retry_window", 1.0)
        monkeypatch.setattr(embedded.bus, "max_delay", 0.2)
        failing = client.http.post(
            "/courses", headers={"Content-Type": "application/json"}, body=json.dumps(REQUEST)
        )
        course_id = failing.json_body["course_id"]
        [state] = wait_until_terminal(flow.deps.state_store.get, [course_id], 60).values()
        assert state.status is Status.FAILED
        assert bus_of(flow).wait_idle(timeout=30)  # the failure's log line follows its state write
        shown.append(client.http.get(f"/courses/{course_id}").body.decode())

    logged = captured_logs.getvalue()
    assert "course failed" in logged and "dead-lettered" in logged  # the failures were logged
    for secret in [*SECRETS.values(), DB_SECRET]:
        assert secret not in logged
        assert not any(secret in text for text in shown)


def test_every_api_route_and_method_requires_an_authenticated_caller() -> None:
    # The app's routes include the ones that only refuse a method: they too sit behind IAM. Each
    # has a twin under /app for the learner's page, behind the learners' Cognito user pool. Only
    # the page, its assets and its settings are public, and they read nothing of any user's.
    entries = [
        (path, method, entry) for path, methods in app.routes.items() for method, entry in methods.items()
    ]
    machine = {"/courses", "/courses/{course_id}", "/courses/{course_id}/retry", "/books"}
    public = {"/", "/assets/{name}", "/app/config"}
    assert {path for path, _, _ in entries} == machine | {f"/app{path}" for path in machine} | public
    for path, method, entry in entries:
        if path in public:
            assert entry.authorizer is None and method == "GET", (method, path)
        elif path.startswith("/app/"):
            assert isinstance(entry.authorizer, CognitoUserPoolAuthorizer), (method, path)
            assert app.routes[path.removeprefix("/app")][method].view_function is entry.view_function
        else:
            assert isinstance(entry.authorizer, IAMAuthorizer), (method, path)
