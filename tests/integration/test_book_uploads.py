"""Books uploaded to the books bucket go into the library: the ingestion function invoked with S3's
event for a real upload (moto), the real pipeline, a real PostgreSQL library; GET /books shows the
upload's progress to its owner."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from chalice.test import Client
from moto import mock_aws

from app import app
from chalicelib import bootstrap
from chalicelib.adapters.book_files import read_book_file
from chalicelib.adapters.memory_state import InMemoryStateStore
from chalicelib.adapters.offline_embedder import WordLlamaEmbedder
from chalicelib.adapters.pg import ConnectionFactory
from chalicelib.adapters.pg_ingestions import PgIngestions
from chalicelib.adapters.pg_library import PgLibrary
from chalicelib.adapters.s3_documents import S3Documents
from chalicelib.book_uploads import HANDLER_NAME, BookUploads
from chalicelib.config import Settings
from chalicelib.planning.offline import OfflinePlanner
from chalicelib.ports import Ingestion
from chalicelib.workflow import Deps, Workflow
from tests.ingest.made import encrypted_pdf, prose
from tests.support.fakes import Clock, FakeCourseStore, RecordingPublisher

BUCKET = "coursegen-dev-books"
SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "library"
OWNER = "3f1c9a52-7d0e-4b8f-9a61-0c2d5e7f8a90"  # a learner's user id (Cognito subject)


def markdown_book() -> bytes:
    return (
        "---\ntitle: Sea Book\nauthor: M. Mariner\n---\n# Sea Book\n\n"
        + "".join(
            f"## Chapter {n}: {name}\n\n### {name} basics\n\n{' '.join(prose(name))}\n\n"
            for n, name in [(1, "Waves"), (2, "Winds"), (3, "Tides")]
        )
    ).encode()


@pytest.fixture(scope="module")
def embedder() -> WordLlamaEmbedder:
    return WordLlamaEmbedder()


@pytest.fixture
def s3(aws_credentials: None) -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3")
        client.create_bucket(Bucket=BUCKET)
        client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        yield client


@pytest.fixture
def library(pg_conn_factory: ConnectionFactory) -> PgLibrary:
    return PgLibrary(pg_conn_factory)


@pytest.fixture
def log(pg_conn_factory: ConnectionFactory) -> PgIngestions:
    return PgIngestions(pg_conn_factory)


@pytest.fixture
def client(
    s3: Any,
    library: PgLibrary,
    log: PgIngestions,
    embedder: WordLlamaEmbedder,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Client]:
    """The app with its ingestion built on this test's bucket, library and upload log, and a
    workflow on the same database for GET /books; the caller is the owner."""
    monkeypatch.setenv("COURSEGEN_LOCAL_USER", OWNER)
    bootstrap.reset()
    work = tmp_path / "work"
    work.mkdir()
    settings = Settings(runtime="local", local_user=OWNER)
    bootstrap.configure_book_uploads(
        BookUploads(library, log, embedder, S3Documents(s3).download, settings=settings, workdir=work)
    )
    deps = Deps(
        state_store=InMemoryStateStore(),
        publisher=RecordingPublisher(),
        library=library,
        course_store=FakeCourseStore(),
        planner=OfflinePlanner(),
        embedder=embedder,
        clock=Clock(),
        new_id=lambda: "unused",
        ingestions=log,
    )
    bootstrap.configure_workflow(Workflow(deps))
    try:
        with Client(app, stage_name="local") as chalice:
            yield chalice
    finally:
        bootstrap.reset()
    assert list(work.iterdir()) == []  # every download is removed


def upload(s3: Any, client: Client, key: str, body: bytes) -> dict[str, Any]:
    """Put the object, then invoke the function with the event S3 sends for it."""
    put = s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    event = client.events.generate_s3_event(BUCKET, key.replace(" ", "+"), "ObjectCreated:Put")
    record = event["Records"][0]["s3"]["object"]
    sequencer = put["VersionId"].replace("-", "")[:18]  # unique per upload, as S3's sequencer is
    record.update(size=len(body), versionId=put["VersionId"], sequencer=sequencer)
    return event


def invoke(client: Client, event: dict[str, Any]) -> None:
    response = client.lambda_.invoke(HANDLER_NAME, event)
    assert response.payload is None


@pytest.mark.slow  # loads WordLlama
def test_an_uploaded_book_lands_in_the_library_once_and_get_books_shows_it_loaded(
    s3: Any, client: Client, library: PgLibrary, log: PgIngestions
) -> None:
    key = f"books/{OWNER}/Sea Book.md"
    event = upload(s3, client, key, markdown_book())
    invoke(client, event)

    (book,) = library.list_books()
    assert (book.title, book.author, book.chapters) == ("Sea Book", "M. Mariner", 3)
    (record,) = log.list_for_owner(OWNER)
    assert (record.key, record.owner, record.status, record.reason) == (key, OWNER, "loaded", None)
    assert (record.book_id, record.title, record.chapters) == (book.id, "Sea Book", 3)

    body = client.http.get("/books").json_body
    assert [b["id"] for b in body["books"]] == [book.id]  # the fields of before, unchanged
    assert set(body["books"][0]) == {"id", "title", "author", "chapters", "owner", "yours"}
    assert (book.owner, body["books"][0]["owner"], body["books"][0]["yours"]) == (OWNER, OWNER, True)
    (shown,) = body["ingestions"]
    assert {k: shown[k] for k in ("key", "owner", "status", "book_id", "chapters")} == {
        "key": key,
        "owner": OWNER,
        "status": "loaded",
        "book_id": book.id,
        "chapters": 3,
    }
    assert shown["updated_at"].endswith("Z")

    # S3 delivers at least once: the same event again changes nothing
    invoke(client, event)
    assert library.list_books() == [book]
    assert log.list_for_owner(OWNER) == [record]

    # the same document uploaded again under another name is recognised by its content
    again = upload(s3, client, f"books/{OWNER}/copy.md", markdown_book())
    invoke(client, again)
    assert library.list_books() == [book]
    copy = log.get(f"books/{OWNER}/copy.md", again["Records"][0]["s3"]["object"]["sequencer"])
    assert copy is not None and copy.status == "loaded" and copy.book_id == book.id
    assert copy.reason == "the same document is already in the library as 'Sea Book' (yours)"


@pytest.mark.slow  # loads WordLlama
def test_a_document_that_cannot_be_read_ends_failed_with_the_reason_and_the_library_unchanged(
    s3: Any, client: Client, library: PgLibrary, log: PgIngestions, tmp_path: Path
) -> None:
    invoke(client, upload(s3, client, f"books/{OWNER}/sea.md", markdown_book()))
    before = library.books()

    key = f"books/{OWNER}/locked.pdf"
    invoke(client, upload(s3, client, key, encrypted_pdf(tmp_path / "locked.pdf").read_bytes()))
    assert library.books() == before
    failed = next(record for record in log.list_for_owner(OWNER) if record.key == key)
    assert failed.status == "failed" and failed.book_id is None
    # the reason names the upload, not the function's temporary file
    assert failed.reason == f"{key}: the PDF is encrypted (it needs a password): decrypt it first"

    shown = {item["key"]: item for item in client.http.get("/books").json_body["ingestions"]}
    assert shown[key]["status"] == "failed" and shown[key]["reason"] == failed.reason


@pytest.mark.slow  # loads WordLlama
def test_an_uploaded_book_file_is_loaded_as_it_is(s3: Any, client: Client, library: PgLibrary) -> None:
    sample = sorted(SAMPLES.glob("*.json"))[0]
    expected = read_book_file(sample)
    invoke(client, upload(s3, client, f"books/{OWNER}/{sample.name}", sample.read_bytes()))
    (book,) = library.list_books()
    assert (book.title, book.chapters) == (expected.title, len(expected.chapters))
    (shown,) = client.http.get("/books").json_body["ingestions"]
    assert (shown["status"], shown["book_id"]) == ("loaded", book.id)


@pytest.mark.slow  # loads WordLlama
def test_two_users_uploading_one_document_get_a_book_each_and_see_only_their_own(
    s3: Any, client: Client, library: PgLibrary, log: PgIngestions
) -> None:
    other = "9b2e4c61-0a1d-4f3e-8c7b-5d6e7f8a9b0c"
    for owner in (OWNER, other):
        invoke(client, upload(s3, client, f"books/{owner}/Sea Book.md", markdown_book()))
    mine, theirs = (library.list_books(visible_to=user) for user in (OWNER, other))
    assert [(b.title, b.owner) for b in mine] == [("Sea Book", OWNER)]
    assert [(b.title, b.owner) for b in theirs] == [("Sea Book", other)]
    assert mine[0].id != theirs[0].id
    (record,) = log.list_for_owner(other)
    assert (record.status, record.book_id, record.reason) == (
        "loaded",
        theirs[0].id,
        None,
    )  # read, not reused
    # GET /books (the caller is OWNER): their own copy, flagged, never the other user's
    shown = client.http.get("/books").json_body["books"]
    assert [(b["id"], b["owner"], b["yours"]) for b in shown] == [(mine[0].id, OWNER, True)]


@pytest.mark.slow  # loads WordLlama
def test_a_key_without_an_owner_is_refused_with_where_to_upload(
    s3: Any, client: Client, library: PgLibrary, log: PgIngestions
) -> None:
    event = upload(s3, client, "books/sea.md", markdown_book())
    invoke(client, event)
    assert library.list_books() == []
    sequencer = event["Records"][0]["s3"]["object"]["sequencer"]
    record = log.get("books/sea.md", sequencer)
    assert record is not None and record.status == "failed"
    assert record.reason is not None and "upload to books/<owner>/<file>" in record.reason


@pytest.mark.slow  # loads WordLlama
def test_an_error_worth_retrying_is_recorded_then_raised_for_lambda_to_retry(
    s3: Any, library: PgLibrary, log: PgIngestions, embedder: WordLlamaEmbedder, tmp_path: Path
) -> None:
    key = f"books/{OWNER}/gone.md"
    uploads_ = BookUploads(library, log, embedder, S3Documents(s3).download, workdir=tmp_path)
    event = {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": BUCKET}, "object": {"key": key, "sequencer": "0A"}},
            }
        ]
    }
    with pytest.raises(Exception, match="NoSuchKey"):  # never uploaded: S3 answers 404
        uploads_.handle(event)
    record = log.get(key, "0A")
    assert record is not None and record.status == "failed"
    assert record.reason is not None and "tries the delivery again" in record.reason
    assert library.list_books() == [] and list(tmp_path.iterdir()) == []


def test_a_users_ingestions_are_theirs_only(log: PgIngestions) -> None:
    log.save(Ingestion("books/a/x.md", "1", "a", "queued"))
    log.save(Ingestion("books/b/y.md", "1", "b", "reading"))
    log.save(Ingestion("books/a/x.md", "1", "a", "summarising", chapters=2))
    (record,) = log.list_for_owner("a")
    assert (record.status, record.chapters) == ("summarising", 2)
    with pytest.raises(ValueError, match="not one of"):
        log.save(Ingestion("books/a/x.md", "1", "a", "done"))
