"""Books uploaded to the books bucket go into the library: the ingestion function's logic.

A user uploads a document to `books/<owner>/<file>`, where <owner> is their user id as the API
knows it (the caller id of their courses). S3 invokes the ingestion function for every object
created under `books/`; each upload is fetched to a temporary folder, read and summarised by the
same pipeline as `coursegen library add`, embedded and loaded into the library in one
transaction. Its progress is an `Ingestion` record (queued, reading, summarising, then loaded or
failed with the pipeline's reason), which GET /books shows the owner.

The book is the uploader's own: only their courses cite it and only they see it in GET /books
(the shared books, loaded by an operator, serve everyone). S3 delivers each event at least once:
a redelivered event of an upload already loaded does nothing, and a document whose content the
uploader's library already holds (the same content hash, in a shared book or one of their own)
is recorded as loaded without being read again. Another user's copy of the same document does
not count: each user who uploads it gets their own book. A `.json` upload is a book file (the format of
`coursegen library load`, samples/library) and is loaded as it is. A document that cannot become
a book (encrypted, no text layer, not a supported format, too large) ends `failed` and leaves the
library as it was; any other error is recorded too, then raised, so that Lambda retries the
delivery.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from .core.books import Book, book_id
from .errors import LibraryError, PermanentFailure
from .ports import Embedder, Ingestion, IngestionLog, LibraryAdmin

if TYPE_CHECKING:
    from .config import Settings
    from .ingest.summarise import Summariser

log = logging.getLogger("coursegen.book_uploads")

HANDLER_NAME = "book-ingestion-handler"
BOOKS_PREFIX = "books/"
# Chalice needs a bucket name when it packages the app; the Terraform post-processor replaces it
# with the bucket of the books-bucket module (deploy/postprocess.py).
BUCKET_PLACEHOLDER = "coursegen-books-bucket"

# (bucket, key, version id or None, destination, byte limit) -> bytes written
Download = Callable[[str, str, "str | None", Path, int], int]


@dataclass(frozen=True)
class Upload:
    """One object-created record of an S3 event."""

    bucket: str
    key: str
    upload: str  # S3's sequencer: the same for a redelivery, another for a new upload of the key
    version_id: str | None = None


class UploadRefused(Exception):
    """The key is not one the library reads; the message says where to upload instead."""


def uploads(event: Mapping[str, Any]) -> list[Upload]:
    """The object-created records of an S3 notification (keys decoded, folder markers left out)."""
    found = []
    for record in event.get("Records") or []:
        if record.get("eventSource") != "aws:s3" or not str(record.get("eventName", "")).startswith(
            "ObjectCreated:"
        ):
            continue
        s3 = record["s3"]
        key = unquote_plus(s3["object"]["key"])
        if key.endswith("/"):  # a "folder" the console creates: no document
            continue
        found.append(
            Upload(
                bucket=s3["bucket"]["name"],
                key=key,
                upload=str(s3["object"].get("sequencer") or s3["object"].get("eTag") or ""),
                version_id=s3["object"].get("versionId") or None,
            )
        )
    return found


def owner_of(key: str) -> tuple[str, str]:
    """(owner, file name) of `books/<owner>/<file>`; the owner may itself hold slashes (an IAM
    user's ARN does). Raises UploadRefused for any other key."""
    if not key.startswith(BOOKS_PREFIX):
        raise UploadRefused(f"{key}: not under {BOOKS_PREFIX}; upload to {BOOKS_PREFIX}<owner>/<file>")
    owner, _, name = key[len(BOOKS_PREFIX) :].rpartition("/")
    if not owner.strip("/") or not name:
        raise UploadRefused(
            f"{key}: the key names no owner; upload to {BOOKS_PREFIX}<owner>/<file>, where <owner> "
            "is your user id"
        )
    return owner, name


def _summariser(settings: Settings | None, embedder: Embedder) -> Summariser:
    """The one place the ingestion function picks its summariser: COURSEGEN_SUMMARIZER's (the
    deployed stages set `openai`, the chat model; each call within COURSEGEN_LLM_DEADLINE, the
    function's timeout bounding the whole book), else the offline one, which reuses the embedder
    when it is WordLlama."""
    from .ingest.summarise import summariser_for

    if settings is None:
        from .config import Settings

        settings = Settings()
    return summariser_for(settings.summarizer, settings, embedder)


class BookUploads:
    """Turns upload events into books in the library, recording each upload's progress."""

    def __init__(
        self,
        library: LibraryAdmin,
        ingestions: IngestionLog,
        embedder: Embedder,
        download: Download,
        settings: Settings | None = None,
        workdir: Path | None = None,
    ) -> None:
        self._library = library
        self._log = ingestions
        self._embedder = embedder
        self._download = download
        self._settings = settings
        self._workdir = workdir  # None: the system's temporary folder (/tmp on Lambda)
        self._summariser: Summariser | None = None
        self._lock = threading.Lock()

    def handle(self, event: Mapping[str, Any]) -> list[Ingestion]:
        """Every upload of the event, in order; raises (after recording it) an error worth a retry."""
        return [self.ingest(upload) for upload in uploads(event)]

    def summariser(self) -> Summariser:
        with self._lock:  # built on first use and kept: a warm function reuses its models
            if self._summariser is None:
                self._summariser = _summariser(self._settings, self._embedder)
            return self._summariser

    def ingest(self, upload: Upload) -> Ingestion:
        try:
            owner, name = owner_of(upload.key)
        except UploadRefused as refused:
            record = Ingestion(upload.key, upload.upload, "", "failed", reason=str(refused))
            self._log.save(record)
            log.warning("upload refused", extra={"key": upload.key, "reason": str(refused)})
            return record
        done = self._log.get(upload.key, upload.upload)
        if done is not None and done.status == "loaded":
            log.info("upload already loaded", extra={"key": upload.key, "book_id": done.book_id})
            return done  # a redelivered event
        record = self._save(Ingestion(upload.key, upload.upload, owner, "queued"))
        with tempfile.TemporaryDirectory(prefix="upload-", dir=self._workdir) as folder:
            path = Path(folder) / name
            try:
                return self._ingest(upload, path, record)
            except (LibraryError, PermanentFailure) as error:
                # DocumentError, and a library that cannot take the book (another embedder's):
                # the same document fails the same way again, so no retry.
                reason = str(error).replace(str(path), upload.key)
                failed = self._save(replace(record, status="failed", reason=reason))
                log.warning("upload failed", extra={"key": upload.key, "reason": reason})
                return failed
            except Exception as error:
                reason = str(error).replace(str(path), upload.key)
                self._save(
                    replace(
                        record,
                        status="failed",
                        reason=f"{upload.key}: could not be loaded ({type(error).__name__}: {reason});"
                        " Lambda tries the delivery again, up to twice",
                    )
                )
                log.exception("upload interrupted", extra={"key": upload.key})
                raise

    def _save(self, record: Ingestion) -> Ingestion:
        self._log.save(record)
        return record

    def _ingest(self, upload: Upload, path: Path, record: Ingestion) -> Ingestion:
        from .adapters.s3_documents import ObjectTooLarge
        from .ingest import MAX_DOCUMENT_BYTES, DocumentError, content_hash, ingest

        record = self._save(replace(record, status="reading"))
        try:
            self._download(upload.bucket, upload.key, upload.version_id, path, MAX_DOCUMENT_BYTES)
        except ObjectTooLarge as error:
            raise DocumentError(f"{upload.key}: {error}") from None
        if path.suffix.lower() == ".json":  # a book file, as `coursegen library load` reads one
            from .adapters.book_files import read_book_file

            return self._load(upload, read_book_file(path), record)
        owner = record.owner
        existing = self._library.find_source(content_hash(path), owner)
        if existing is not None:
            return self._save(
                replace(
                    record,
                    status="loaded",
                    reason=f"the same document is already in the library as {existing.title!r}"
                    + (" (yours)" if existing.owner == owner else " (shared)"),
                    book_id=existing.id,
                    title=existing.title,
                    chapters=existing.chapters,
                )
            )

        def progress(done: int, total: int, chapter: str) -> None:
            nonlocal record
            record = self._save(replace(record, status="summarising", chapters=done))

        return self._load(upload, ingest(path, summariser=self.summariser(), progress=progress), record)

    def _load(self, upload: Upload, book: Book, record: Ingestion) -> Ingestion:
        (info,) = self._library.load([book], self._embedder, owner=record.owner)
        loaded = self._save(
            replace(
                record,
                status="loaded",
                reason=None,
                book_id=info.id,
                title=info.title,
                chapters=info.chapters,
            )
        )
        log.info("upload loaded", extra={"key": upload.key, "book_id": book_id(book, record.owner)})
        return loaded
