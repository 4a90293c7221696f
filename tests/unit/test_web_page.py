"""The learner's page as files: what `GET /` and `GET /assets/{name}` serve, with which headers,
what cannot be read through them, and the settings the page reads from `GET /app/config`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from chalice.test import Client

from app import app
from chalicelib import web
from chalicelib.core.models import MAX_HOURS, MAX_QUERY_CHARS, MIN_HOURS, MIN_QUERY_CHARS, CourseRequest

FOLDER = Path(web.__file__).parent


def test_the_page_is_html_revalidated_and_locked_to_its_own_scripts() -> None:
    with Client(app, stage_name="local") as client:
        response = client.http.get("/")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "connect-src 'self';" in policy
    assert '<script type="module" src="assets/app.js">' in response.body.decode()


@pytest.mark.parametrize(
    ("name", "content_type"),
    [("app.js", "text/javascript; charset=utf-8"), ("style.css", "text/css; charset=utf-8")],
)
def test_an_asset_has_its_content_type_and_a_304_when_unchanged(name: str, content_type: str) -> None:
    with Client(app, stage_name="local") as client:
        first = client.http.get(f"/assets/{name}")
        again = client.http.get(f"/assets/{name}", headers={"If-None-Match": first.headers["ETag"]})
        changed = client.http.get(f"/assets/{name}", headers={"If-None-Match": '"something-else"'})
    assert first.status_code == 200 and first.headers["Content-Type"] == content_type
    assert first.body == (FOLDER / name).read_bytes()
    assert again.status_code == 304 and again.body == b""
    assert changed.status_code == 200


def test_every_module_the_page_loads_is_served() -> None:
    imported = {"app.js"}
    for source in FOLDER.glob("*.js"):
        imported |= set(re.findall(r'from "\./([a-z]+\.js)"', source.read_text()))
    assert imported <= set(web.asset_names())
    assert set(web.asset_names()) == {p.name for p in FOLDER.iterdir() if p.suffix in (".js", ".css")}


@pytest.mark.parametrize(
    "name",
    [
        "__init__.py",
        "index.html",
        "..%2F__init__.py",
        "..%2F..%2Fapp.py",
        "%2Eenv",
        "APP.JS",
        "app.js.map",
        "x.py",
    ],
)
def test_nothing_but_the_folder_s_scripts_and_styles_can_be_read(name: str) -> None:
    with Client(app, stage_name="local") as client:
        response = client.http.get(f"/assets/{name}")
    assert response.status_code == 404
    assert response.json_body["error"]["code"] == "not_found"


def test_a_name_that_escapes_the_folder_is_refused_even_when_it_reaches_the_handler() -> None:
    for name in ("../__init__.py", "../../app.py", "/etc/passwd", "index.html"):
        assert web.asset_response(name, {}).status_code == 404


def test_the_page_settings_are_the_limits_the_api_enforces() -> None:
    with Client(app, stage_name="local") as client:
        body = client.http.get("/app/config").json_body
    assert body["limits"] == {
        "query_chars": {"min": MIN_QUERY_CHARS, "max": MAX_QUERY_CHARS},
        "hours": {"min": MIN_HOURS, "max": MAX_HOURS},
    }
    assert body["depths"] == ["overview", "balanced", "technical", "expert"]
    assert body["paces"] == ["quick", "moderate", "thorough"]
    defaults = CourseRequest(query="abc", hours=1).preferences
    assert body["defaults"] == {"depth": defaults.depth.value, "pace": defaults.pace.value}
    assert body["sign_in"] is None  # locally no sign-in


def test_on_aws_the_page_learns_where_to_sign_in_and_may_call_it() -> None:
    config = web.page_config("docprof-dev-1a2b.auth.us-east-1.amazoncognito.com", "client123")
    assert config["sign_in"] == {
        "domain": "docprof-dev-1a2b.auth.us-east-1.amazoncognito.com",
        "client_id": "client123",
    }
    assert web.page_config("docprof-dev-1a2b.auth.us-east-1.amazoncognito.com", None)["sign_in"] is None
    policy = web.page_response({}, "docprof-dev-1a2b.auth.us-east-1.amazoncognito.com").headers[
        "Content-Security-Policy"
    ]
    assert "connect-src 'self' https://docprof-dev-1a2b.auth.us-east-1.amazoncognito.com;" in policy


def test_books_are_added_from_the_page_only_on_the_embedded_default() -> None:
    from chalicelib.config import Settings
    from chalicelib.ingest.upload import ACCEPTED, MAX_UPLOAD_BYTES

    assert web.can_add_books(Settings(runtime="local"))  # the readers come with the local extra
    assert not web.can_add_books(Settings(runtime="aws"))
    assert web.page_config(None, None)["add_books"] is None
    adding = web.page_config(None, None, add_books=True)["add_books"]
    assert adding["max_bytes"] == MAX_UPLOAD_BYTES and adding["formats"] == ACCEPTED
    assert "books bucket" in web.ADD_BOOKS_ELSEWHERE


def test_the_suffixes_a_page_upload_accepts_are_those_the_pipeline_reads() -> None:
    from chalicelib.ingest.folder import HTML_SUFFIXES, MARKDOWN_SUFFIXES
    from chalicelib.ingest.upload import SUFFIXES

    assert set(SUFFIXES) == HTML_SUFFIXES | MARKDOWN_SUFFIXES | {".pdf", ".epub", ".txt", ".text"}


def test_the_browser_routes_use_the_cognito_authorizer_and_the_machine_routes_iam() -> None:
    for path, entries in app.routes.items():
        for method, entry in entries.items():
            kind = type(entry.authorizer).__name__ if entry.authorizer else None
            if path.startswith("/app/") and path != "/app/config":
                assert kind == "CognitoUserPoolAuthorizer", (method, path)
            elif path in ("/", "/assets/{name}", "/app/config"):
                assert kind is None, (method, path)
            else:
                assert kind == "IAMAuthorizer", (method, path)


def test_every_machine_route_has_a_browser_twin() -> None:
    routes = {(path, method) for path, entries in app.routes.items() for method in entries}
    public = {("/", "GET"), ("/assets/{name}", "GET"), ("/app/config", "GET")}
    browser = {
        (path.removeprefix("/app"), method) for path, method in routes - public if path.startswith("/app/")
    }
    machine = {(path, method) for path, method in routes - public if not path.startswith("/app/")}
    assert browser == machine


def test_the_sign_in_settings_are_read_from_the_environment() -> None:
    from chalicelib.config import Settings

    settings = Settings.from_env(
        {
            "COURSEGEN_SIGN_IN_DOMAIN": "docprof-dev-1a2b.auth.us-east-1.amazoncognito.com",
            "COURSEGEN_SIGN_IN_CLIENT_ID": "4abc12def",
        }
    )
    assert settings.sign_in_domain == "docprof-dev-1a2b.auth.us-east-1.amazoncognito.com"
    assert settings.sign_in_client_id == "4abc12def"
    unset = Settings.from_env({"COURSEGEN_SIGN_IN_DOMAIN": "${var.sign_in_domain}"})
    assert unset.sign_in_domain is None and unset.sign_in_client_id is None
