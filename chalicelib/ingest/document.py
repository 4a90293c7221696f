"""What every reader produces: a document as a list of chapters (title, text, sub-headings),
the errors that name the file, and the limits a document must respect."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import BookFileError

# A file (or a folder's files together) larger than this is refused before it is parsed.
MAX_DOCUMENT_BYTES = 200 * 2**20
# An archive (EPUB) may unpack to at most this much, and at most this many times its size.
MAX_UNPACKED_BYTES = 500 * 2**20
MAX_COMPRESSION_RATIO = 100
MAX_FOLDER_FILES = 2000


class DocumentError(BookFileError):
    """A document cannot be turned into a book; the message names the file and why."""


@dataclass
class RawChapter:
    """A chapter as the document presents it, before summarising. `label` is the number or
    letter the document gives it ("3", "A"), if any."""

    title: str
    text: str
    headings: list[str] = field(default_factory=list)
    label: str | None = None


@dataclass
class Document:
    title: str
    author: str
    chapters: list[RawChapter]
    warnings: list[str] = field(default_factory=list)


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufeff\u00ad]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u3000]+")
_NUMBER_PREFIX = re.compile(
    r"^\s*(?:(?:chapter|chap\.|part|appendix|section)\s+)?"
    r"(?P<label>\d{1,4}|[IVXLC]{1,7}|[A-Z])(?:[.:)]|\s*[-\u2013\u2014]|(?=\s))\s*(?P<rest>\S.*)$",
    re.IGNORECASE,
)


def clean_text(text: str) -> str:
    """Text PostgreSQL can store and a reader can read: no control characters or lone
    surrogates, single spaces, at most one blank line in a row, hyphenated line ends joined."""
    text = unicodedata.normalize("NFC", _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n")))
    text = re.sub(r"(\w)-\n(\w)", r"\1\2", text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def clean_line(text: str, limit: int = 200) -> str:
    """One line of text (a title, a heading), shortened at a word boundary to `limit`."""
    line = " ".join(_CONTROL.sub("", unicodedata.normalize("NFC", text)).split())
    if len(line) <= limit:
        return line
    return line[:limit].rsplit(" ", 1)[0].rstrip(",;:-") + "…"


def split_label(title: str) -> tuple[str | None, str]:
    """ "Chapter 3. Modifying the source" -> ("3", "Modifying the source"); a roman numeral or a
    single capital letter counts only with a separator or a "Chapter"/"Appendix" prefix."""
    match = _NUMBER_PREFIX.match(title)
    if not match:
        return None, title.strip()
    label, rest = match.group("label"), match.group("rest").strip()
    prefixed = re.match(r"^\s*(chapter|chap\.|part|appendix|section)\b", title, re.IGNORECASE)
    bare_word = not label.isdigit() and not prefixed and not re.match(rf"^\s*{label}[.:)]", title)
    if bare_word:  # "I think…", "A tour of…": a word, not a number
        return None, title.strip()
    return label.upper(), rest


def word_count(text: str) -> int:
    return len(text.split())


def source_name(path: Path) -> str:
    return str(path)
