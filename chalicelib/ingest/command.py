"""`coursegen library add`: documents in, book files written, then every new book loaded in one
transaction; a document already in the library is reported and skipped."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TextIO

from ..adapters.offline_embedder import WordLlamaEmbedder
from ..core.books import Book, book_id
from ..ports import Embedder, LibraryAdmin
from .document import DocumentError
from .model_summary import OpenAISummariser
from .pipeline import content_hash, ingest
from .summarise import OfflineSummariser, Summariser


def write_book_file(book: Book, out_dir: Path) -> Path:
    """The derived book file, for the user to read, correct and load again with `library load`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{book_id(book)}.json"
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(book.model_dump(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    temporary.replace(path)
    return path


def add_documents(
    paths: list[Path],
    library: LibraryAdmin,
    embedder: Embedder,
    out_dir: Path,
    title: str | None = None,
    author: str | None = None,
    stream: TextIO | None = None,
    summariser: Summariser | None = None,
) -> list[Book]:
    """Ingest `paths`, each chapter summarised by `summariser` (default: the offline one), and
    load the new books with `library.load` (all or nothing). Returns the books loaded; raises
    DocumentError naming the file if any document cannot be read or summarised. With the model
    summariser it prints the calls and tokens spent at the end, also when it fails."""
    out = stream or sys.stderr
    if (title or author) and len(paths) > 1:
        raise DocumentError("--title and --author name one document: add the files one at a time")
    started = time.monotonic()
    if summariser is None:
        # the offline summariser uses WordLlama whatever embeds the library: reuse a loaded one
        summariser = OfflineSummariser(embedder if isinstance(embedder, WordLlamaEmbedder) else None)
    try:
        return _add(paths, library, embedder, out_dir, title, author, out, summariser, started)
    finally:
        if isinstance(summariser, OpenAISummariser) and summariser.usage.calls:
            print(summariser.usage.line(), file=out)


def _add(
    paths: list[Path],
    library: LibraryAdmin,
    embedder: Embedder,
    out_dir: Path,
    title: str | None,
    author: str | None,
    out: TextIO,
    summariser: Summariser,
    started: float,
) -> list[Book]:
    books: list[Book] = []
    seen: dict[str, Path] = {}
    for path in paths:
        digest = content_hash(path) if path.exists() else ""
        if digest and digest in seen:
            print(f"{path}: the same document as {seen[digest]}: added once", file=out)
            continue
        existing = library.find_source(digest) if digest else None
        if existing is not None:
            print(
                f"{path}: already in the library as {existing.title!r} [{existing.id}]: nothing to do",
                file=out,
            )
            continue
        print(f"{path}: reading", file=out)

        def progress(done: int, total: int, chapter: str, name: Path = path) -> None:
            elapsed = time.monotonic() - started
            print(f"[{elapsed:5.1f}s] {name.name}: chapter {done} of {total}: {chapter}", file=out)

        def warn(message: str) -> None:
            print(f"warning: {message}", file=out)

        book = ingest(path, title, author, summariser=summariser, progress=progress, warn=warn)
        seen[book.source_sha256] = path
        books.append(book)
        print(f"{path}: wrote {write_book_file(book, out_dir)} ({len(book.chapters)} chapters)", file=out)
    if books:
        library.load(books, embedder)
        chapters = sum(len(book.chapters) for book in books)
        print(
            f"added {len(books)} book(s), {chapters} chapters in {time.monotonic() - started:.1f} s",
            file=out,
        )
    return books
