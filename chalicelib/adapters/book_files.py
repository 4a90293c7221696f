"""Book files and the legacy book-summary JSON (docs/formats.md#book-files), validated into `Book`.

Every error names the file and the field path, e.g. `x.json: chapters[3].number: duplicate ...`.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from chalicelib.errors import BookFileError

MAX_ERRORS_SHOWN = 5
MAX_CHAPTER_NUMBER = 2**31 - 1  # the library stores chapter numbers as PostgreSQL integers


def _no_nul(value: str) -> str:
    # PostgreSQL text (and jsonb) cannot hold NUL: refuse it here, with the field's name.
    if "\x00" in value:
        raise PydanticCustomError("nul_character", "must not contain NUL characters")
    return value


def _not_a_bool(value: object) -> object:
    # The legacy format reads numbers leniently ("3" is 3), but true is not chapter 1.
    if isinstance(value, bool):
        raise PydanticCustomError("int_type", "must be an integer")
    return value


Text = Annotated[StrictStr, StringConstraints(strip_whitespace=True, min_length=1), AfterValidator(_no_nul)]
OptionalText = Annotated[StrictStr, StringConstraints(strip_whitespace=True), AfterValidator(_no_nul)]


def _check_unique_numbers(numbers: list[int], field: str) -> None:
    seen: set[int] = set()
    for index, number in enumerate(numbers):
        if number in seen:
            raise PydanticCustomError(
                "duplicate_chapter_number",
                "duplicate chapter number {number}",
                {"index": index, "field": field, "number": number},
            )
        seen.add(number)


class _BookModel(BaseModel):
    # Unknown fields are refused so a misspelt "key_concept" is reported, not silently dropped.
    model_config = ConfigDict(extra="forbid", frozen=True)


class BookSection(_BookModel):
    title: Text
    topics: list[Text] = []
    key_concepts: list[Text] = []


class Chapter(_BookModel):
    number: Annotated[StrictInt, Field(ge=0, le=MAX_CHAPTER_NUMBER)]
    title: Text
    summary: Text
    topics: list[Text] = []
    key_concepts: list[Text] = []
    sections: list[BookSection] = []


class Book(_BookModel):
    title: Text
    author: Text
    summary: OptionalText = ""
    # sha256 of the document a book was derived from (`coursegen library add`); part of its id,
    # so a second edition is another book and adding the same document again changes nothing.
    source_sha256: Annotated[StrictStr, StringConstraints(pattern=r"^(?:[0-9a-f]{64})?$")] = ""
    chapters: Annotated[list[Chapter], Field(min_length=1)]

    @model_validator(mode="after")
    def _unique_chapter_numbers(self) -> Book:
        _check_unique_numbers([chapter.number for chapter in self.chapters], "number")
        return self


# --- the legacy book-summary format -----------------------------------------------------------


class _LegacyModel(BaseModel):
    # The old system's files carry fields we do not use (page_range, ...): ignore them.
    model_config = ConfigDict(extra="ignore", frozen=True)


class _LegacySection(_LegacyModel):
    section_title: Text
    topics: list[Text] = []
    key_concepts: list[Text] = []


class _LegacyChapter(_LegacyModel):
    # lax: the old files sometimes wrote "3"
    chapter_number: Annotated[int, Field(ge=0, le=MAX_CHAPTER_NUMBER), BeforeValidator(_not_a_bool)]
    chapter_title: Text
    summary: Text
    sections: list[_LegacySection] = []


class _LegacyBook(_LegacyModel):
    source_title: Text
    author: Text
    source_summary: OptionalText | None = None
    chapters: Annotated[list[_LegacyChapter], Field(min_length=1)]

    @model_validator(mode="after")
    def _unique_chapter_numbers(self) -> _LegacyBook:
        _check_unique_numbers([chapter.chapter_number for chapter in self.chapters], "chapter_number")
        return self

    def to_book(self) -> Book:
        return Book(
            title=self.source_title,
            author=self.author,
            summary=self.source_summary or "",
            chapters=[_legacy_chapter(chapter) for chapter in self.chapters],
        )


def _union(lists: list[list[str]]) -> list[str]:
    return list(dict.fromkeys(item for items in lists for item in items))


def _legacy_chapter(chapter: _LegacyChapter) -> Chapter:
    return Chapter(
        number=chapter.chapter_number,
        title=chapter.chapter_title,
        summary=chapter.summary,
        topics=_union([section.topics for section in chapter.sections]),
        key_concepts=_union([section.key_concepts for section in chapter.sections]),
        sections=[
            BookSection(title=s.section_title, topics=s.topics, key_concepts=s.key_concepts)
            for s in chapter.sections
        ],
    )


# --- reading and describing errors ------------------------------------------------------------

_FRIENDLY = {
    "missing": "required field is missing",
    "extra_forbidden": "unknown field",
    "string_too_short": "must not be empty",
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "list_type": "must be a list",
    "too_short": "must not be empty",
    "model_type": "must be an object",
    "string_unicode": "must be valid Unicode text (it holds an unpaired surrogate)",
    "greater_than_equal": "must be 0 or more",
    "less_than_equal": f"must be at most {MAX_CHAPTER_NUMBER}",
    "string_pattern_mismatch": "must be 64 lowercase hexadecimal digits (a sha256) or empty",
}
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _field_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif not _PLAIN_KEY.fullmatch(part):  # an odd key (empty, spaces, control characters)
            path += f"[{json.dumps(part)}]"
        else:
            path += f".{part}" if path else part
    return path or "(book)"


def _describe(error: Any) -> str:
    if error["type"] == "duplicate_chapter_number":
        ctx = error["ctx"]
        return f"chapters[{ctx['index']}].{ctx['field']}: {error['msg']}"
    return f"{_field_path(error['loc'])}: {_FRIENDLY.get(error['type'], error['msg'])}"


def parse_book(data: object, source: str = "book") -> Book:
    """Validate decoded JSON (new or legacy format) into a Book; errors are prefixed by `source`."""
    if not isinstance(data, dict):
        raise BookFileError(f"{source}: a book file holds one JSON object, not {type(data).__name__}")
    is_legacy = _looks_legacy(data)
    try:
        return _LegacyBook.model_validate(data).to_book() if is_legacy else Book.model_validate(data)
    except ValidationError as error:
        problems = [_describe(item) for item in error.errors()]
        more = len(problems) - MAX_ERRORS_SHOWN
        shown = "; ".join(f"{source}: {problem}" for problem in problems[:MAX_ERRORS_SHOWN])
        raise BookFileError(shown + (f" (and {more} more)" if more > 0 else "")) from None


def _looks_legacy(data: dict[str, Any]) -> bool:
    """Whether a file is in the legacy format, even with its title missing, so that its errors
    name the legacy fields it was meant to have."""
    if "title" in data:
        return False
    if "source_title" in data or "source_summary" in data:
        return True
    chapters = data.get("chapters")
    first = chapters[0] if isinstance(chapters, list) and chapters else None
    return isinstance(first, dict) and bool({"chapter_number", "chapter_title"} & first.keys())


def read_book_file(path: str | Path) -> Book:
    """Read and validate one book file. Raises BookFileError naming the file and field."""
    name = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as error:
        raise BookFileError(f"{name}: cannot read the file: {error.strerror or error}") from None
    try:
        text = raw.decode("utf-8-sig")  # tolerate a byte-order mark, as editors on Windows write one
    except UnicodeDecodeError as error:
        raise BookFileError(f"{name}: not UTF-8 text (invalid byte at offset {error.start})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise BookFileError(
            f"{name}: not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    except RecursionError:
        raise BookFileError(f"{name}: not a book: its JSON is nested too deeply to read") from None
    return parse_book(data, name)


# --- identity and the text that gets embedded -------------------------------------------------


def _normalise(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def book_id(book: Book) -> str:
    """Stable id from title and author (case and spacing ignored), and the source document's hash
    for a book derived from one: reloading a book replaces it."""
    key = f"{_normalise(book.title)}\n{_normalise(book.author)}"
    digest = hashlib.sha256(
        (key + f"\n{book.source_sha256}" if book.source_sha256 else key).encode()
    ).hexdigest()
    ascii_title = unicodedata.normalize("NFKD", book.title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:40].rstrip("-")
    return f"{slug or 'book'}-{digest[:10]}"


def chapter_text(chapter: Chapter) -> str:
    """What represents a chapter in the vector index: its title, summary, topics and concepts."""
    parts = [f"{chapter.title}.", chapter.summary]
    if chapter.topics:
        parts.append("Topics: " + "; ".join(chapter.topics) + ".")
    if chapter.key_concepts:
        parts.append("Key concepts: " + "; ".join(chapter.key_concepts) + ".")
    return " ".join(parts)
