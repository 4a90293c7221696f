"""The ingestion pipeline: a document (file or folder) in, a validated `Book` out, identified
by the hash of its content. Format readers and their libraries load only when needed."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from pathlib import Path

from ..adapters.book_files import parse_book
from ..core.books import Book, BookSection, Chapter
from .document import (
    MAX_DOCUMENT_BYTES,
    Document,
    DocumentError,
    clean_line,
)
from .matter import content_chapters, number_chapters
from .summarise import OfflineSummariser, Summariser

log = logging.getLogger(__name__)

UNKNOWN_AUTHOR = "Unknown author"
Progress = Callable[[int, int, str], None]  # (chapters done, chapters in all, chapter title)
SUPPORTED = "EPUB, PDF, Markdown, HTML or plain text, or a folder of Markdown or HTML files"


def content_hash(path: Path) -> str:
    """sha256 of the document: the file's bytes, or a folder's chapter files (names and bytes)."""
    digest = hashlib.sha256()
    if path.is_dir():
        from .folder import chapter_files

        for file in chapter_files(path):
            digest.update(str(file.relative_to(path)).encode() + b"\0")
            digest.update(hashlib.sha256(file.read_bytes()).digest())
        return digest.hexdigest()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_size(path: Path) -> None:
    if path.is_dir():
        from .folder import chapter_files

        size = sum(file.stat().st_size for file in chapter_files(path))
    else:
        size = path.stat().st_size
    if size > MAX_DOCUMENT_BYTES:
        raise DocumentError(
            f"{path}: {size / 2**20:.0f} MB is over the limit for one document"
            f" ({MAX_DOCUMENT_BYTES // 2**20} MB)"
        )
    if size == 0:
        raise DocumentError(f"{path}: the file is empty")


def read_document(path: Path) -> Document:
    """The document at `path`, read by the reader its type calls for."""
    if not path.exists():
        raise DocumentError(f"{path}: no such file or folder")
    _check_size(path)
    if path.is_dir():
        from .folder import read_folder

        return read_folder(path)
    with path.open("rb") as stream:
        head = stream.read(64)
    suffix = path.suffix.lower()
    if head.startswith(b"%PDF") or suffix == ".pdf":
        from .pdf import read_pdf

        return read_pdf(path)
    if suffix == ".epub" or (head.startswith(b"PK") and b"epub" in head):
        from .epub import read_epub

        return read_epub(path)
    from .folder import HTML_SUFFIXES, MARKDOWN_SUFFIXES

    data = path.read_bytes()
    if suffix in MARKDOWN_SUFFIXES:
        from .html import document_from_root
        from .markdown import markdown_root

        root, fields = markdown_root(data, path)
        document = document_from_root(root, path)
        document.title = fields.get("title") or document.title
        document.author = fields.get("author") or document.author
        return document
    if suffix in HTML_SUFFIXES or head.lstrip()[:15].lower().startswith((b"<!doctype html", b"<html")):
        from .html import read_html_file

        return read_html_file(path, data)
    if suffix in {".txt", ".text", ""} or b"\0" not in data[:4096]:
        from .text import read_text

        return read_text(path, data)
    raise DocumentError(f"{path}: not a format that can be added ({SUPPORTED})")


def ingest(
    path: str | Path,
    title: str | None = None,
    author: str | None = None,
    summariser: Summariser | None = None,
    progress: Progress | None = None,
    warn: Callable[[str], None] | None = None,
) -> Book:
    """Read the document at `path` and derive its book: chapters from its own structure (front
    and back matter skipped), each summarised by `summariser` (default: offline). Raises
    DocumentError naming the file (and the chapter, when its summary could not be made). What
    the reader had to guess (a language picked, pages left out, page-range chunks) goes to `warn`
    (default: the log)."""
    path = Path(path)
    document = read_document(path)
    for warning in document.warnings:
        (warn or log.warning)(warning)
    kept = content_chapters(document.chapters, document.title)
    if not kept:
        raise DocumentError(
            f"{path}: nothing that looks like a chapter ({len(document.chapters)} parts found, all "
            "front or back matter or too short)"
        )
    summariser = summariser or OfflineSummariser()
    chapters = []
    numbered = number_chapters(kept)
    for done, (number, chapter_title, raw) in enumerate(numbered, start=1):
        try:
            digest = summariser.digest(chapter_title, raw.text, raw.headings)
        except DocumentError as error:
            raise DocumentError(f"{path}: {error}") from None
        chapters.append(
            Chapter(
                number=number,
                title=clean_line(chapter_title) or f"Chapter {number}",
                summary=digest.summary,
                topics=digest.topics,
                key_concepts=digest.key_concepts,
                sections=[BookSection(title=section) for section in digest.sections],
            )
        )
        if progress:
            progress(done, len(numbered), chapters[-1].title)
    try:
        summary = summariser.book_summary([chapter.summary for chapter in chapters])
    except DocumentError as error:
        raise DocumentError(f"{path}: {error}") from None
    book = {
        "title": clean_line(title or "") or clean_line(document.title) or path.stem,
        "author": clean_line(author or "") or clean_line(document.author) or UNKNOWN_AUTHOR,
        "summary": summary,
        "source_sha256": content_hash(path),
        "chapters": [chapter.model_dump() for chapter in chapters],
    }
    return parse_book(book, str(path))  # the same validation as a book file's
