"""A folder of chapter files (HTML or Markdown): one chapter per file, in the order of the
folder's table of contents (an index page, SUMMARY.md, README.md) or else by file name."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from .document import MAX_FOLDER_FILES, Document, DocumentError, RawChapter, clean_line
from .html import events, meta_author, page_title, parse_html, whole_page
from .markdown import markdown_root

HTML_SUFFIXES = {".html", ".htm", ".xhtml"}
MARKDOWN_SUFFIXES = {".md", ".markdown", ".mdown", ".mkd"}
_INDEX_NAMES = re.compile(r"^(index|summary|readme|contents|toc)([._-][a-z-]+)?\.\w+$", re.IGNORECASE)


def chapter_files(folder: Path) -> list[Path]:
    """The folder's HTML and Markdown files, by name; a file present twice (a symbolic link, a
    copy with a language suffix) counts once."""
    root = folder.resolve()
    found: dict[bytes, Path] = {}
    candidates = [
        p for p in folder.rglob("*") if p.suffix.lower() in HTML_SUFFIXES | MARKDOWN_SUFFIXES and p.is_file()
    ]
    if len(candidates) > MAX_FOLDER_FILES:
        raise DocumentError(f"{folder}: more than {MAX_FOLDER_FILES} chapter files")
    # links first lose to the files they point to: the real name is kept
    for path in sorted(candidates, key=lambda p: (p.is_symlink(), _natural(str(p.relative_to(folder))))):
        if not path.resolve().is_relative_to(root):
            continue  # a link out of the folder is not part of the document
        found.setdefault(hashlib.sha256(path.read_bytes()).digest(), path)
    return sorted(found.values(), key=lambda p: _natural(str(p.relative_to(folder))))


def _natural(text: str) -> list[Any]:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text)]


def _parse(path: Path) -> tuple[Any, dict[str, str]]:
    data = path.read_bytes()
    if path.suffix.lower() in MARKDOWN_SUFFIXES:
        return markdown_root(data, path)
    return parse_html(data, str(path)), {}


def _linked_order(index: Path, root: Any, files: list[Path]) -> list[Path]:
    """Files in the order the index page links to them; unlinked files after, by name."""
    by_real = {f.resolve(): f for f in files}
    order: list[Path] = []
    for link in root.iter("a"):
        target = urlsplit(link.get("href") or "")
        if target.scheme or target.netloc or not target.path:
            continue
        real = (index.parent / unquote(target.path)).resolve()
        if real in by_real and by_real[real] not in order and real != index.resolve():
            order.append(by_real[real])
    return order + [f for f in files if f not in order and f.resolve() != index.resolve()]


def read_folder(folder: Path) -> Document:
    files = chapter_files(folder)
    if not files:
        raise DocumentError(f"{folder}: no HTML or Markdown files in the folder")
    index = next((f for f in files if f.parent == folder and _INDEX_NAMES.match(f.name)), None)
    title, author = "", ""
    if index is not None:
        root, fields = _parse(index)
        stream = list(events(root))
        title = fields.get("title") or whole_page(stream, "").title or page_title(root)
        author = fields.get("author") or meta_author(root)
        files = _linked_order(index, root, files)
    chapters: list[RawChapter] = []
    for path in files:
        root, fields = _parse(path)
        chapter = whole_page(list(events(root)), fields.get("title") or page_title(root) or path.stem)
        if fields.get("title"):
            chapter.title = fields["title"]
        author = author or fields.get("author") or meta_author(root)
        chapters.append(chapter)
    return Document(title=clean_line(title) or folder.name, author=author, chapters=chapters)
