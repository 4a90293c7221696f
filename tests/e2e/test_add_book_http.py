"""POST /books on the embedded default: one document in the body, read by the same pipeline as
`coursegen library add`, answered with the book; the same document again changes nothing; a
document that cannot be added is refused in our error shape and leaves the library unchanged."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chalice.test import Client

from app import app
from chalicelib import bootstrap, web
from chalicelib.ingest.upload import MAX_UPLOAD_BYTES
from chalicelib.workflow import Workflow
from tests.ingest.made import encrypted_pdf, pdf_bytes, prose
from tests.support.runtime import admin_of

pytestmark = pytest.mark.slow  # documents are read and summarised while the request waits


def sea_book(extra: str = "") -> bytes:
    """A small Markdown book with front matter and two chapters."""
    chapters = "".join(
        f"## Chapter {n}: {name}\n\n### {name} basics\n\n{' '.join(prose(name))}\n\n"
        for n, name in [(1, "Waves"), (2, "Tides")]
    )
    return f"---\ntitle: The Sea Book\nauthor: M. Mariner\n---\n# The Sea Book\n\n{chapters}{extra}".encode()


@pytest.fixture
def client(workflow: Workflow) -> Iterator[Client]:
    """The test client; the books a test adds are removed after it, so the library is as it was."""
    admin = admin_of(workflow)
    before = {book.id for book in admin.list_books()}
    yield Client(app, stage_name="local")
    for book in admin.list_books():
        if book.id not in before:
            admin.remove(book.id)


def post(
    client: Client, body: bytes, filename: str | None, content_type: str = "application/octet-stream"
) -> tuple[int, dict[str, Any]]:
    path = "/books" if filename is None else f"/books?filename={filename}"
    response = client.http.post(path, body=body, headers={"Content-Type": content_type})
    return response.status_code, json.loads(response.body)


def titles(client: Client) -> list[str]:
    return [book["title"] for book in client.http.get("/books").json_body["books"]]


def test_a_markdown_document_becomes_a_book_and_sending_it_again_changes_nothing(
    client: Client, workflow: Workflow
) -> None:
    status, added = post(client, sea_book(), "sea.md", "text/markdown")

    assert status == 201, added
    assert added["added"] is True
    assert {k: added["book"][k] for k in ("title", "author", "chapters")} == {
        "title": "The Sea Book",
        "author": "M. Mariner",
        "chapters": 2,
    }
    assert "The Sea Book" in titles(client)
    written = bootstrap.settings().data_dir / "books" / f"{added['book']['id']}.json"
    assert json.loads(written.read_text())["title"] == "The Sea Book"  # the book file, to correct

    # Again, through the browser's twin: the same book, nothing added.
    response = client.http.post(
        "/app/books?filename=copy.md", body=sea_book(), headers={"Content-Type": "application/octet-stream"}
    )
    assert response.status_code == 200
    assert response.json_body["added"] is False and response.json_body["book"] == added["book"]
    assert "already in the library" in response.json_body["message"]
    assert titles(client).count("The Sea Book") == 1


def test_a_pdf_document_is_read_from_its_bytes(client: Client) -> None:
    pages = [
        [(20.0, f"Chapter {n}: {name}"), *[(11.0, line) for line in prose(name, 20)]]
        for n, name in [(1, "Harbours"), (2, "Lighthouses")]
    ]
    status, added = post(client, pdf_bytes(pages), "coast.pdf", "application/pdf")

    assert status == 201, added
    assert added["book"]["chapters"] == 2 and added["book"]["title"]


@pytest.mark.parametrize(
    ("filename", "content_type", "named"),
    [
        ("notes.docx", "application/octet-stream", "'.docx' files cannot be added"),
        ("README", "application/octet-stream", "a file without an extension"),
        ("sea.md", "image/png", "Content-Type image/png does not match a Markdown file"),
    ],
)
def test_a_format_that_cannot_be_added_is_a_415_naming_the_formats(
    client: Client, filename: str, content_type: str, named: str
) -> None:
    before = titles(client)

    status, body = post(client, sea_book(), filename, content_type)

    assert status == 415
    assert body["error"]["code"] == "unsupported_media_type"
    assert (
        named in body["error"]["message"]
        and "PDF, EPUB, Markdown, HTML or plain text" in body["error"]["message"]
    )
    assert titles(client) == before


def test_a_document_over_the_upload_limit_is_a_413(client: Client) -> None:
    before = titles(client)

    status, body = post(client, b"a" * (MAX_UPLOAD_BYTES + 1), "huge.txt", "text/plain")

    assert status == 413
    assert body["error"]["code"] == "document_too_large"
    assert "50 MB" in body["error"]["message"] and "coursegen library add" in body["error"]["message"]
    assert titles(client) == before


def test_a_document_the_pipeline_cannot_read_is_a_400_with_its_reason(client: Client, tmp_path: Path) -> None:
    before = titles(client)
    locked = encrypted_pdf(tmp_path / "locked.pdf").read_bytes()

    for body, filename, reason in [
        (locked, "locked.pdf", "encrypted"),
        (b"%PDF-1.4 not really", "broken.pdf", "not a readable PDF"),
        (" ".join(prose("note")).encode(), "note.txt", "nothing that looks like a chapter"),
        (b"", "empty.md", "empty"),
    ]:
        status, answer = post(client, body, filename)
        assert status == 400, (filename, answer)
        error = answer["error"]
        assert error["code"] in ("unreadable_document", "invalid_body")
        assert reason in error["message"] and error["message"].startswith(filename)
        assert "coursegen-upload-" not in error["message"]  # the temporary copy is not named

    assert titles(client) == before


def test_a_request_without_a_file_name_is_a_400_naming_the_parameter(client: Client) -> None:
    status, body = post(client, sea_book(), None)

    assert status == 400
    assert body["error"]["code"] == "missing_field" and body["error"]["field"] == "filename"


def test_where_documents_cannot_be_read_the_route_says_where_to_add_them(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(web, "can_add_books", lambda settings: False)

    status, body = post(client, sea_book(), "sea.md")

    assert status == 501
    assert body["error"]["code"] == "not_available" and "books bucket" in body["error"]["message"]
    assert client.http.get("/app/config").json_body["add_books"] is None


def test_the_page_config_offers_adding_books_with_the_limit_and_formats(client: Client) -> None:
    adding = client.http.get("/app/config").json_body["add_books"]

    assert adding["max_bytes"] == MAX_UPLOAD_BYTES
    assert {".pdf", ".epub", ".md", ".html", ".txt"} <= set(adding["suffixes"])
    assert adding["formats"] == "PDF, EPUB, Markdown, HTML or plain text"
