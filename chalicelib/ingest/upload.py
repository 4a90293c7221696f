"""One document sent over HTTP (`POST /books` on the embedded default) added to the library by
the same pipeline as `coursegen library add`: written to a temporary folder under its own name,
read, summarised offline, its book file written and the book loaded. Nothing here imports a
document reader until a document arrives."""

from __future__ import annotations

import hashlib
import io
import re
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from ..ports import BookInfo, Embedder, LibraryAdmin
from .document import DocumentError

# Read and summarised while the request waits, and held in memory whole: a larger document goes
# through `coursegen library add` (up to the pipeline's own limit, MAX_DOCUMENT_BYTES).
MAX_UPLOAD_BYTES = 50 * 2**20

# The file name's extension says how a document is read (pipeline.read_document); these are the
# ones a single file can have (a folder of chapter files cannot be sent).
SUFFIXES = {
    ".pdf": "PDF",
    ".epub": "EPUB",
    ".md": "Markdown",
    ".markdown": "Markdown",
    ".mdown": "Markdown",
    ".mkd": "Markdown",
    ".html": "HTML",
    ".htm": "HTML",
    ".xhtml": "HTML",
    ".txt": "plain text",
    ".text": "plain text",
}
# A declared Content-Type must agree with the name's format; application/octet-stream (what a
# browser sends for a file it cannot type) leaves it to the name.
MEDIA_TYPES = {
    "application/pdf": {"PDF"},
    "application/epub+zip": {"EPUB"},
    "text/markdown": {"Markdown"},
    "text/x-markdown": {"Markdown"},
    "text/html": {"HTML"},
    "application/xhtml+xml": {"HTML"},
    "text/plain": {"plain text", "Markdown"},  # what some systems call a Markdown file
}
ANY_TYPE = "application/octet-stream"
ACCEPTED = "PDF, EPUB, Markdown, HTML or plain text"

_UNSAFE = re.compile(r"[^\w .()+,-]")
_ONE_AT_A_TIME = threading.Lock()  # an upload takes a core for seconds; two at once only contend


class UploadRefused(Exception):
    """The upload is refused before it is read: `kind` is `too_large`, `unsupported` or `empty`."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass(frozen=True)
class Upload:
    """A document as it arrived: its bytes and a file name that is safe to write."""

    data: bytes
    filename: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True)
class Added:
    book: BookInfo
    added: bool  # False: the same document was in the library already, nothing changed


def check_upload(data: bytes, filename: str | None, content_type: str | None) -> Upload:
    """The upload if it can be read: a name with a supported extension, a Content-Type that
    agrees with it (or none, or octet-stream), at most MAX_UPLOAD_BYTES, not empty."""
    name = safe_filename(filename or "")
    if not name:
        raise UploadRefused("missing", "name the document: ?filename=<its file name, with its extension>")
    suffix = Path(name).suffix.lower()
    fmt = SUFFIXES.get(suffix)
    if fmt is None:
        shown = f"{suffix!r} files" if suffix else "a file without an extension"
        raise UploadRefused("unsupported", f"{name}: {shown} cannot be added; send {ACCEPTED}")
    declared = (content_type or "").split(";", 1)[0].strip().lower()
    if declared and declared != ANY_TYPE and fmt not in MEDIA_TYPES.get(declared, set()):
        raise UploadRefused(
            "unsupported",
            f"{name}: Content-Type {declared} does not match a {fmt} file; send {ACCEPTED},"
            f" typed as such or as {ANY_TYPE}",
        )
    if len(data) > MAX_UPLOAD_BYTES:
        raise UploadRefused(
            "too_large",
            f"{name}: {len(data) / 2**20:.1f} MB is over the {MAX_UPLOAD_BYTES // 2**20} MB a page upload"
            " may carry; add it with `coursegen library add`",
        )
    if not data:
        raise UploadRefused("empty", f"{name}: the document is empty")
    return Upload(data=data, filename=name)


def safe_filename(filename: str) -> str:
    """The name's last path component, with only plain characters, at most 120 of them."""
    base = re.split(r"[\\/]", filename.strip())[-1]
    base = _UNSAFE.sub("_", base).strip(" .")
    if len(base) > 120:
        stem, suffix = Path(base).stem, Path(base).suffix
        base = stem[: 120 - len(suffix)] + suffix
    return base


def add_upload(upload: Upload, library: LibraryAdmin, embedder: Embedder, out_dir: Path) -> Added:
    """Add the document to the library as `coursegen library add` would (its book file written
    to `out_dir`). The same document again changes nothing. Raises DocumentError with the
    pipeline's reason, naming the document by its file name; the library is then unchanged."""
    existing = library.find_source(upload.sha256)
    if existing is not None:
        return Added(book=existing, added=False)
    from .command import add_documents  # the readers load with the first document

    with _ONE_AT_A_TIME, tempfile.TemporaryDirectory(prefix="coursegen-upload-") as folder:
        existing = library.find_source(upload.sha256)  # added while this one waited
        if existing is not None:
            return Added(book=existing, added=False)
        path = Path(folder) / upload.filename
        path.write_bytes(upload.data)
        try:
            add_documents([path], library, embedder, out_dir, stream=io.StringIO())
        except DocumentError as error:
            # The reason names the temporary copy: name the document as its sender knows it.
            raise DocumentError(str(error).replace(f"{folder}/", "")) from None
    book = library.find_source(upload.sha256)
    if book is None:  # add_documents loads what it read, or raises
        raise DocumentError(f"{upload.filename}: the book was read but is not in the library")
    return Added(book=book, added=True)
