"""Markdown (markdown-it-py, CommonMark with tables) rendered to HTML and read as HTML; YAML
front matter gives the title and author."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..distribution import LOCAL_EXTRA
from .document import DocumentError, clean_line
from .html import parse_html

_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n(?:---|\.\.\.)\s*\n", re.DOTALL)


def front_matter(text: str) -> tuple[dict[str, str], str]:
    """Simple `key: value` lines of a leading YAML block, and the text after it."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    fields = {}
    for line in match.group(1).splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() and not key.startswith((" ", "\t")):
            fields[key.strip().lower()] = clean_line(value.strip().strip("\"'"))
    return fields, text[match.end() :]


def markdown_root(data: bytes, path: Path) -> tuple[Any, dict[str, str]]:
    """The Markdown file as a parsed HTML page, and its front matter."""
    try:
        from markdown_it import MarkdownIt
    except ImportError as error:  # pragma: no cover
        raise DocumentError(f"{path}: reading Markdown needs markdown-it-py: {LOCAL_EXTRA}") from error
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DocumentError(f"{path}: not UTF-8 text (invalid byte at offset {error.start})") from None
    fields, body = front_matter(text)
    # html=False: raw HTML in the Markdown is shown as text, never interpreted
    rendered = MarkdownIt("commonmark", {"html": False}).enable("table").render(body)
    return parse_html(f"<html><body>{rendered}</body></html>".encode(), str(path)), fields
